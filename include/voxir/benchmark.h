// voxir/benchmark.h: the evaluation protocol of arXiv 2405.09334 (docs/method.md §4) on a dataset in the
// TotalSegmentator layout, for one or more embedders on identical queries.
//
// Database = the `db_split` subjects (default train), queries = the `query_split` subjects
// (default test); a query volume is never in the database. For every embedder an index is built
// (or reused when an earlier run left one with the same embedder and volumes) and every query is
// embedded once (through the embedding cache, so a re-run does not re-embed). Then, at each
// granularity (fine: the classes of the class map, by default the 104 v1 classes; coarse: their
// regions, by default our 29), four modes are scored top-1 per class, with vote-based ranking
// (`vote`) and with MaxSim re-ranking:
//   slice-wise  each query slice's nearest slice; hit when it shows the class;
//   volume      the whole query volume; hit when the top volume contains the class;
//   region      the query slices of one class's extent; hit when the top volume contains it;
//   localized   as region, and the top volume's slices localize the class (`localized` rule,
//               voxir/eval.h LocalizedRule; every rule is reported, the chosen one is "localized").
// Metrics (voxir/eval.h): per-class recall with mean ± std over classes (population std), the
// localization ratio per class at each L (misses apart), hit@k, coverage@k and precision@k
// (k = 1, 3, 5, 10), mAP@10 and MRR of region queries (relevant = database volumes containing
// the class), query latency, the average over modes per embedder, class frequencies in database
// and queries, recall against organ size, and for approximate indexes their slice-level recall
// against exact search. report.json records every protocol setting.
#pragma once

#include "voxir/embed.h"
#include "voxir/index.h"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace voxir {

struct BenchmarkOptions {
  std::vector<std::string> embedders{kDefaultEmbedderSpec};  // embedder specs (voxir/embed.h)
  // Index spec (voxir/index.h). The paper's tables use Faiss HNSW (its M is not stated; 32 is
  // ours); "faiss:Flat" gives exact search, slower on large databases.
  std::string index = kDefaultIndexSpec;
  bool fine = true;    // the class map's classes (104 v1 classes by default)
  bool coarse = true;  // their coarse regions (our 29 by default)
  // CSV of class -> coarse region (voxir/eval.h ClassMap::from_csv); empty: the built-in table.
  std::filesystem::path class_map;
  std::string db_split = "train";
  std::string query_split = "test";
  int k = 10;                  // neighbours per query slice
  std::string vote = "count";  // stage-1 ranking: count, sum or max (voxir/search.h)
  int rerank_n = 50;           // candidate volumes re-ranked by MaxSim
  int top = 10;                // volumes ranked per query (for hit@k etc.; at least 10)
  std::vector<int> L{15};      // localization ratio reported at each L (the paper: 15)
  // When a region query counts as localized (voxir/eval.h LocalizedRule): "ratio" (strict,
  // localization ratio at localized_L >= threshold), "majority" or "overlap" (lenient, the old
  // rule). Independent of `L`, so reporting more L values does not change localized recall.
  std::string localized = "ratio";
  double localized_threshold = 0.5;
  int localized_L = 15;
  // A class is present on a slice with at least this many voxels (docs/method.md §1). Above 1 the
  // database labels are re-read from the dataset (the index stores presence at 1 voxel).
  int min_voxels = 1;
  // Also score region queries whose slices are predicted (voxir/predict.h) instead of read from
  // the query's labels: per class the slice-range IoU of predicted vs true extent, and region
  // and localized recall with predicted regions beside those with true ones.
  bool predicted_regions = false;
  int max_queries = 0; // 0: every query subject; else the first N (a quick look)
  int threads = 0;     // 0: all cores
  std::filesystem::path out = "bench-report";  // report folder; indexes and cache in out/work
  // Called with one line of progress at a time.
  std::function<void(const std::string&)> progress;
  // Throws Error(kUsage) naming the bad option.
  void validate() const;
};

// Mean ± std of per-class recall of one table column.
struct RecallSummary {
  std::string embedder;
  std::string granularity;  // "fine" or "coarse"
  // "slice", "volume", "region", "localized" (the chosen rule); with predicted_regions also
  // "region (predicted)" and "localized (predicted)"
  std::string mode;
  bool rerank = false;
  double mean = 0;
  double std = 0;
  int classes = 0;
};

struct BenchmarkSummary {
  std::vector<RecallSummary> recalls;
  // Differences between the dataset's label set and the 104 v1 classes / the class map, one
  // line each (also in report.json and report.md); empty when there are none.
  std::vector<std::string> warnings;
  std::filesystem::path report_md;  // the report files written
  std::filesystem::path report_json;
};

// Runs the benchmark and writes report.md, report.json, one CSV per table and SVG plots into
// options.out. Throws Error naming the dataset, split or volume that fails.
BenchmarkSummary run_benchmark(const std::filesystem::path& dataset, const BenchmarkOptions& options);

}  // namespace voxir
