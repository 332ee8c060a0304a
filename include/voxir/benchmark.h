// voxir/benchmark.h: the evaluation protocol of arXiv 2405.09334 (SPEC §4) on a dataset in the
// TotalSegmentator layout, for one or more embedders on identical queries.
//
// Database = the `db_split` subjects (default train), queries = the `query_split` subjects
// (default test); a query volume is never in the database. For every embedder an index is built
// (or reused when an earlier run left one with the same embedder and volumes) and every query is
// embedded once (through the embedding cache, so a re-run does not re-embed). Then, at each
// granularity (fine: TotalSegmentator classes; coarse: the 29 regions), four modes are scored
// top-1 per class, with count-based ranking and with MaxSim re-ranking:
//   slice-wise  each query slice's nearest slice; hit when it shows the class;
//   volume      the whole query volume; hit when the top volume contains the class;
//   region      the query slices of one class's extent; hit when the top volume contains it;
//   localized   as region, and the predicted location overlaps the class's extent there.
// Metrics (voxir/eval.h): per-class recall with mean ± std over classes, the localization ratio
// at L, recall@k / precision@k (k = 1, 3, 5, 10), mAP@10 and MRR of region queries (relevant =
// database volumes containing the class), query latency, and for approximate indexes their
// slice-level recall against exact search.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace voxir {

struct BenchmarkOptions {
  std::vector<std::string> embedders{"builtin"};  // embedder specs (voxir/embed.h)
  std::string index = "Flat";                     // index spec (voxir/index.h)
  bool fine = true;                               // TotalSegmentator classes (104 for v1 data)
  bool coarse = true;                             // the 29 coarse regions
  std::string db_split = "train";
  std::string query_split = "test";
  int k = 10;          // neighbours per query slice
  int rerank_n = 50;   // candidate volumes re-ranked by MaxSim
  int top = 10;        // volumes ranked per query (for recall@k etc.; at least 10)
  int L = 15;          // localization ratio at L
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
  std::string mode;         // "slice", "volume", "region", "localized"
  bool rerank = false;
  double mean = 0;
  double std = 0;
  int classes = 0;
};

struct BenchmarkSummary {
  std::vector<RecallSummary> recalls;
  std::filesystem::path report_md;  // the report files written
  std::filesystem::path report_json;
};

// Runs the benchmark and writes report.md, report.json, one CSV per table and SVG plots into
// options.out. Throws Error naming the dataset, split or volume that fails.
BenchmarkSummary run_benchmark(const std::filesystem::path& dataset, const BenchmarkOptions& options);

}  // namespace voxir
