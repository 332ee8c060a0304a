// voxir search: find the indexed volumes most similar to a query volume or one of its regions.
#include "command.h"
#include "voxir/error.h"
#include "voxir/index.h"
#include "voxir/json.h"
#include "voxir/search.h"

#include <fmt/core.h>

#include <charconv>
#include <memory>

namespace voxir::cli {
namespace {

struct SearchArgs {
  std::string dir;
  std::string query;
  std::string labels;
  std::string region;
  std::string slices;
  std::string mode = "count";
  std::string series_uid;
  int k = 10;
  int rerank_n = 50;
  bool no_rerank = false;
  int top = 10;
  std::int64_t frame = -1;  // -1: not given
  AnnParams ann;
  bool json = false;
  bool exclude_self = false;
};

std::array<std::int64_t, 2> parse_slices(const std::string& text) {
  const auto colon = text.find(':');
  std::array<std::int64_t, 2> r{0, Query::kLastSlice};
  auto number = [&](std::string_view part, std::int64_t& out) {
    if (part.empty()) return true;  // open end
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return ec == std::errc() && end == part.data() + part.size();
  };
  if (colon == std::string::npos || !number(std::string_view(text).substr(0, colon), r[0]) ||
      !number(std::string_view(text).substr(colon + 1), r[1])) {
    fail(ErrorKind::kUsage,
         "--slices \"{}\": expected A:B (inclusive slice indices, 0 = most inferior)", text);
  }
  return r;
}

void print_text(const SearchArgs& args, const SearchParams& params, const SearchAnswer& answer) {
  const std::int64_t asked = answer.query_slices[1] - answer.query_slices[0] + 1;
  fmt::print("query {} slices {}..{} ({}{}), k {}, {} votes{}\n", args.query,
             answer.query_slices[0], answer.query_slices[1], asked,
             answer.query_slices_used == asked
                 ? std::string()
                 : fmt::format("; {} with body used", answer.query_slices_used),
             params.k, to_string(params.mode),
             params.rerank ? fmt::format(", MaxSim re-rank of top {}", params.rerank_n) : "");
  fmt::print("{:>4}  {:<20} {:>9} {:>6}  {:<11} {}\n", "rank", "volume", "score", "votes",
             "location", "path");
  for (std::size_t i = 0; i < answer.results.size(); ++i) {
    const auto& r = answer.results[i];
    fmt::print("{:>4}  {:<20} {:>9.4f} {:>6}  {:<11} {}\n", i + 1, r.volume, r.score, r.votes,
               fmt::format("{}..{}", r.location[0], r.location[1]), r.path);
  }
  const auto& t = answer.timings;
  fmt::print(
      "time (ms): read {:.1f}, embed {:.1f}, candidates {:.1f}, aggregate {:.1f}, rerank {:.1f}, localize "
      "{:.1f}, total {:.1f}\n",
      t.read_ms, t.embed_ms, t.candidates_ms, t.aggregate_ms, t.rerank_ms, t.localize_ms, t.total_ms);
}

int run_search(const SearchArgs& args) {
  Query query;
  query.path = args.query;
  query.read.series_uid = args.series_uid;
  query.region = args.region;
  query.labels = args.labels;
  query.exclude_self = args.exclude_self;
  auto& params = query.params;
  params.k = args.k;
  params.mode = parse_vote_mode(args.mode);
  params.rerank = !args.no_rerank;
  params.rerank_n = args.rerank_n;
  params.top = args.top;
  params.ann = args.ann;
  params.validate();
  const auto index = Index::open(args.dir);
  if (!args.slices.empty()) query.slices = parse_slices(args.slices);
  if (args.frame >= 0) query.read.frame = args.frame;
  const auto answer = search(*index, query);
  if (args.json) {
    fmt::print("{}\n", search_answer_json(answer, query.params, args.dir, args.query));
  } else {
    print_text(args, query.params, answer);
  }
  return answer.results.empty() ? 1 : 0;
}

}  // namespace

void add_search_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<SearchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "search", "Find the indexed volumes most similar to a query volume or region");
  cmd->add_option("index-dir", args->dir, "Index folder")->required();
  cmd->add_option("query", args->query, "Query volume: NIfTI file or DICOM series folder")
      ->required();
  cmd->add_option("--series", args->series_uid,
                  "SeriesInstanceUID to read from a folder with several");
  cmd->add_option("--frame", args->frame, kFrameHelp)
      ->check(CLI::NonNegativeNumber);
  auto* labels = cmd->add_option("--labels", args->labels,
                                 "The query's labels: folder of masks or multilabel file");
  auto* region = cmd->add_option("--region", args->region,
                                 "Search with the slices of this class (or coarse region)");
  auto* slices = cmd->add_option("--slices", args->slices,
                                 "Search with slices A:B (inclusive; 0 = most inferior; an open end "
                                 "means the first or last slice)");
  region->needs(labels);
  labels->needs(region);
  region->excludes(slices);
  cmd->add_option("--mode", args->mode, "Volume vote: count, sum or max")->capture_default_str();
  cmd->add_option("--k", args->k, "Neighbours per query slice")->capture_default_str();
  cmd->add_option("--rerank", args->rerank_n, "Re-rank the top N volumes by MaxSim")
      ->capture_default_str();
  cmd->add_flag("--no-rerank", args->no_rerank, "Rank by votes only");
  cmd->add_option("--top", args->top, "Results to show")->capture_default_str();
  cmd->add_option("--ef", args->ann.ef_search, "hnswlib search breadth")->capture_default_str();
  cmd->add_option("--nprobe", args->ann.nprobe, "IVF lists probed")->capture_default_str();
  cmd->add_option("--refine", args->ann.refine,
                  "IVF-PQ: re-score k * N hits exactly with the stored vectors (1: none)")
      ->capture_default_str();
  cmd->add_flag("--exclude-self", args->exclude_self,
                "Drop the query volume itself from the results");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args, &run] { run = [args] { return run_search(*args); }; });
}

}  // namespace voxir::cli
