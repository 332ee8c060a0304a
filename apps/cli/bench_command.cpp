// voxir bench: the paper's evaluation protocol on a TotalSegmentator-layout dataset.
#include "command.h"
#include "voxir/benchmark.h"
#include "voxir/error.h"

#include <fmt/core.h>

#include <memory>

namespace voxir::cli {
namespace {

struct BenchArgs {
  std::string dataset;
  std::vector<std::string> embedders;
  std::string granularity = "29,104";
  bool quiet = false;
  BenchmarkOptions options;
};

int run_bench(BenchArgs& args) {
  if (!args.embedders.empty()) args.options.embedders = args.embedders;
  args.options.fine = args.options.coarse = false;
  std::string g = args.granularity;
  for (std::size_t pos = 0; pos <= g.size();) {
    const auto comma = std::min(g.find(',', pos), g.size());
    const std::string token = g.substr(pos, comma - pos);
    if (token == "104" || token == "fine") {
      args.options.fine = true;
    } else if (token == "29" || token == "coarse") {
      args.options.coarse = true;
    } else {
      fail(ErrorKind::kUsage, "--granularity '{}': expected 29, 104 or both (29,104)", args.granularity);
    }
    pos = comma + 1;
  }
  if (!args.quiet) args.options.progress = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  const BenchmarkSummary s = run_benchmark(args.dataset, args.options);
  // Label-set differences change what the tables mean: shown even with --quiet.
  for (const auto& w : s.warnings) fmt::print(stderr, "warning: {}\n", w);
  fmt::print("{:<28} {:<7} {:<21} {:<7} {}\n", "embedder", "classes", "mode", "ranking",
             "recall mean ± std (classes)");
  for (const auto& r : s.recalls) {
    fmt::print("{:<28} {:<7} {:<21} {:<7} {:.3f} ± {:.3f} ({})\n", r.embedder, r.granularity,
               r.mode == "localized" ? "localized/" + args.options.localized : r.mode,
               r.rerank ? "rerank" : "count", r.mean, r.std, r.classes);
  }
  fmt::print("report: {} (and report.json, tables/, plots/)\n", s.report_md.string());
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<BenchArgs>();
  auto& o = args->options;
  CLI::App* cmd = app.add_subcommand(
      "bench", "Benchmark retrieval on a TotalSegmentator-layout dataset (train = database, test = queries)");
  cmd->add_option("dataset", args->dataset, "Dataset folder (meta.csv, <id>/ct.nii.gz, <id>/segmentations/)")
      ->required();
  cmd->add_option("--embedder", args->embedders, "Embedder spec; repeat to compare several on the same queries")
      ->default_str(kDefaultEmbedderSpec);
  cmd->add_option("--index", o.index,
                  "Index spec: hnswlib:M32 (HNSW, as in the paper), faiss:Flat for exact search, faiss:IVF1024,PQ48, ...")
      ->capture_default_str();
  cmd->add_option("--granularity", args->granularity, "29 (coarse regions), 104 (classes) or 29,104")
      ->capture_default_str();
  cmd->add_option(
      "--class-map", o.class_map,
      "CSV with columns name,coarse_region: the classes scored and their coarse regions "
      "(default: built-in 104 v1 classes -> 29 regions)");
  cmd->add_option("--out", o.out, "Report folder (indexes and embedding cache go to <out>/work)")
      ->capture_default_str();
  cmd->add_option("--db-split", o.db_split, "Split forming the database")->capture_default_str();
  cmd->add_option("--query-split", o.query_split, "Split forming the queries")->capture_default_str();
  cmd->add_option("--k", o.k, "Neighbours per query slice")->capture_default_str();
  cmd->add_option("--vote", o.vote, "Stage-1 volume ranking: count, sum or max of the slice hits")
      ->check(CLI::IsMember({"count", "sum", "max"}))
      ->capture_default_str();
  cmd->add_option("--rerank", o.rerank_n, "Candidate volumes re-ranked by MaxSim")->capture_default_str();
  cmd->add_option("--L", o.L, "Localization ratio reported at each L (comma-separated)")
      ->delimiter(',')
      ->default_str("15");
  cmd->add_option(
         "--localized", o.localized,
         "Localized hit rule: ratio (localization ratio at L >= threshold), majority (share of all "
         "slices that carried the win >= threshold) or overlap (predicted range overlaps the "
         "extent; lenient)")
      ->check(CLI::IsMember({"ratio", "majority", "overlap"}))
      ->capture_default_str();
  cmd->add_option("--localized-threshold", o.localized_threshold,
                  "Threshold of --localized ratio and majority")
      ->capture_default_str();
  cmd->add_option("--localized-L", o.localized_L, "L of --localized ratio")->capture_default_str();
  cmd->add_option("--min-voxels", o.min_voxels,
                  "A class is present on a slice with at least this many voxels (above 1, database "
                  "labels are re-read)")
      ->capture_default_str();
  cmd->add_flag("--predicted-regions", o.predicted_regions,
                "Also run region queries with slices predicted from the database's labels instead "
                "of the query's (slice IoU and recall side by side; docs/predicted-anatomy.md)");
  cmd->add_option("--max-queries", o.max_queries, "Use only the first N query volumes (0: all)")
      ->capture_default_str();
  cmd->add_option("--threads", o.threads, "Worker threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--quiet", args->quiet, "No progress lines on stderr");
  cmd->callback([args, &run] { run = [args] { return run_bench(*args); }; });
}

}  // namespace voxir::cli
