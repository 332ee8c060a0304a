// voxir search: find the indexed volumes most similar to a query volume or one of its regions.
#include "command.h"
#include "voxir/error.h"
#include "voxir/explain.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/json.h"
#include "voxir/search.h"
#include "voxir/volume.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <memory>
#include <optional>
#include <vector>

namespace voxir::cli {
namespace {

struct SearchArgs {
  std::string dir;
  std::string query;
  std::string query_vectors;  // .npy of precomputed query slice vectors, instead of `query`
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
  std::string explain;  // --explain folder
  std::string require;
  double time_limit_s = 0;  // 0: none
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

// The library's JSON of the answer (the server sends the same), plus what only the CLI has:
// the vectors file it read and the explanation files it wrote.
void print_json(const SearchArgs& args, const SearchParams& params, const SearchAnswer& answer,
                const std::vector<ExplainFiles>& explained) {
  auto out = nlohmann::ordered_json::parse(search_answer_json(answer, params, args.dir, args.query));
  if (!args.query_vectors.empty()) out["query"]["vectors"] = args.query_vectors;
  if (!args.explain.empty()) {
    nlohmann::ordered_json files = nlohmann::ordered_json::array();
    for (const auto& f : explained) {
      files.push_back({{"heatmap", f.heatmap.string()},
                       {"strip", f.strip.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(f.strip.string())},
                       {"alignment", f.alignment.string()}});
    }
    out["explain"] = files;
  }
  // The query path, from the command line, may not be UTF-8: replaced, where dump() would throw.
  fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
}

void print_text(const SearchArgs& args, const SearchParams& params, const SearchAnswer& answer,
                const std::vector<ExplainFiles>& explained) {
  const std::int64_t asked = answer.query_slices[1] - answer.query_slices[0] + 1;
  fmt::print("query {} slices {}..{} ({}{}), k {}, {} votes{}\n",
             args.query.empty() ? args.query_vectors : args.query,
             answer.query_slices[0], answer.query_slices[1], asked,
             answer.query_slices_used == asked
                 ? std::string()
                 : fmt::format("; {} with body used", answer.query_slices_used),
             params.k, to_string(params.mode),
             params.rerank ? fmt::format(", MaxSim re-rank of top {}", params.rerank_n) : "");
  if (!answer.query_region.empty()) {
    fmt::print("region {}: slices {}..{}{}\n", answer.query_region, answer.query_slices[0],
               answer.query_slices[1],
               answer.query_region_predicted
                   ? fmt::format(" (predicted from the index's labelled slices, confidence {:.2f})",
                                 answer.query_region_confidence)
                   : " (from the query's labels)");
  }
  // The region column: where the query's (or required) region lies in each result; '*' marks
  // a predicted extent (the result has no stored labels).
  const bool region = !answer.query_region.empty() || !params.require.empty();
  fmt::print("{:>4}  {:<20} {:>9} {:>6}  {:<11} {}{}\n", "rank", "volume", "score", "votes",
             "location", region ? fmt::format("{:<12} ", "region") : "", "path");
  for (std::size_t i = 0; i < answer.results.size(); ++i) {
    const auto& r = answer.results[i];
    const std::string where =
        r.region[0] < 0 ? "-"
                        : fmt::format("{}..{}{}", r.region[0], r.region[1], r.region_predicted ? "*" : "");
    fmt::print("{:>4}  {:<20} {:>9.4f} {:>6}  {:<11} {}{}\n", i + 1, r.volume, r.score, r.votes,
               fmt::format("{}..{}", r.location[0], r.location[1]),
               region ? fmt::format("{:<12} ", where) : "", r.path);
  }
  if (region) fmt::print("region: slices of the region in each result; * = predicted (no stored labels)\n");
  const auto& t = answer.timings;
  fmt::print(
      "time (ms): read {:.1f}, embed {:.1f}, candidates {:.1f}, aggregate {:.1f}, rerank {:.1f}, localize "
      "{:.1f}, total {:.1f}\n",
      t.read_ms, t.embed_ms, t.candidates_ms, t.aggregate_ms, t.rerank_ms, t.localize_ms, t.total_ms);
  if (!args.explain.empty()) {
    fmt::print("explanations in {}: heatmap, strip and alignment per result{}\n", args.explain,
               explained.empty() || explained.front().strip_note.empty()
                   ? std::string()
                   : fmt::format(" (no strip: {})", explained.front().strip_note));
  }
}

int run_search(const SearchArgs& args) {
  if (args.query.empty() == args.query_vectors.empty()) {
    fail(ErrorKind::kUsage, "search takes a query volume or --query-vectors <q.npy>, exactly one");
  }
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
  params.explain = !args.explain.empty();
  params.require = args.require;
  params.validate();
  const auto index = Index::open(args.dir);
  std::vector<float> query_vectors;  // outlives the search: query.vectors points into it
  if (!args.query_vectors.empty()) {
    query_vectors = read_query_vectors(args.query_vectors, index->dim());
    query.vectors = query_vectors;
  }
  if (!args.slices.empty()) query.slices = parse_slices(args.slices);
  if (args.frame >= 0) query.read.frame = args.frame;
  if (args.time_limit_s > 0) params.set_time_limit(args.time_limit_s);
  SearchAnswer answer;
  try {
    answer = search(*index, query);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kTimeout) throw;
    throw e.wrap(fmt::format("--time-limit {} s", args.time_limit_s));
  }
  std::vector<ExplainFiles> explained;
  if (!args.explain.empty())
    explained = write_explanations(explain(*index, query, answer), args.explain);
  if (args.json) {
    print_json(args, query.params, answer, explained);
  } else {
    print_text(args, query.params, answer, explained);
  }
  return answer.results.empty() ? 1 : 0;
}

}  // namespace

void add_search_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<SearchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "search", "Find the indexed volumes most similar to a query volume or region");
  cmd->add_option("index-dir", args->dir, "Index folder")->required();
  cmd->add_option("query", args->query, "Query volume: NIfTI file or DICOM series folder");
  cmd->add_option("--query-vectors", args->query_vectors,
                  "Instead of a query volume: (m, d) float32/float16 .npy of precomputed query "
                  "slice vectors, one row per slice in slice order (docs/import.md)");
  cmd->add_option("--series", args->series_uid,
                  "SeriesInstanceUID to read from a folder with several");
  cmd->add_option("--frame", args->frame, kFrameHelp)
      ->check(CLI::NonNegativeNumber);
  auto* labels = cmd->add_option("--labels", args->labels,
                                 "The query's labels: folder of masks or multilabel file");
  auto* region = cmd->add_option("--region", args->region,
                                 "Search with the slices of this class (or coarse region): from --labels, or "
                                 "predicted from the index's labelled slices without them");
  auto* slices = cmd->add_option("--slices", args->slices,
                                 "Search with slices A:B (inclusive; 0 = most inferior; an open end "
                                 "means the first or last slice)");
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
  cmd->add_option("--explain", args->explain,
                  "Write per result a similarity heatmap with the MaxSim alignment, a strip of "
                  "aligned slice pairs (PNG) and the alignment (JSON) into this folder")
      ->excludes("--no-rerank");
  cmd->add_option("--require", args->require,
                  "Return only volumes containing this class or region (stored labels, else "
                  "predicted anatomy)");
  cmd->add_option("--time-limit", args->time_limit_s,
                  "Give up (exit 7) when the search takes longer than this many seconds, counted "
                  "from when the index is open (0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args, &run] { run = [args] { return run_search(*args); }; });
}

}  // namespace voxir::cli
