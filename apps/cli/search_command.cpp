// voxir search: find the indexed volumes most similar to a query volume or one of its regions.
#include "command.h"
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/index.h"
#include "voxir/labels.h"
#include "voxir/search.h"
#include "voxir/volume.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

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
  int ef = 0;
  int nprobe = 0;
  bool json = false;
  bool exclude_self = false;
};

std::array<std::int64_t, 2> parse_slices(const std::string& text, const Volume& volume) {
  const auto colon = text.find(':');
  std::array<std::int64_t, 2> r{0, volume.nz() - 1};
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

// The query's slice range: a labelled class's (or coarse region's) extent, a given range, or all.
std::array<std::int64_t, 2> query_slices(const SearchArgs& args, const Volume& volume) {
  if (!args.slices.empty()) return parse_slices(args.slices, volume);
  if (args.region.empty()) return {0, volume.nz() - 1};
  const SliceLabels labels = read_labels(args.labels, volume);
  const auto& catalog = ClassCatalog::builtin();
  std::optional<std::array<std::int64_t, 2>> extent;
  if (const auto* info = catalog.find(args.region)) {
    extent = labels.extent(info->index);
  } else {
    const auto regions = catalog.coarse_regions();
    const auto it = std::find(regions.begin(), regions.end(), args.region);
    if (it == regions.end()) (void)catalog.at(args.region);  // throws, listing close names
    extent = labels.coarse_extent(static_cast<int>(it - regions.begin()));
  }
  if (!extent)
    fail(ErrorKind::kNotFound, "{}: class {} is on no slice of the query", args.labels,
         args.region);
  return *extent;
}

std::vector<std::string> self_ids(const Index& index, const std::filesystem::path& query) {
  std::error_code ec;
  const auto canonical = std::filesystem::weakly_canonical(query, ec);
  std::vector<std::string> ids;
  for (const auto& v : index.volumes()) {
    if (std::filesystem::weakly_canonical(v.source, ec) == canonical) ids.push_back(v.id);
  }
  if (ids.empty() && index.find(volume_id_for_path(query)) != nullptr)
    ids.push_back(volume_id_for_path(query));
  return ids;
}

void print_json(const SearchArgs& args, const SearchParams& params, const SearchAnswer& answer) {
  nlohmann::ordered_json out;
  out["index"] = args.dir;
  out["query"] = {{"path", args.query},
                  {"slices", answer.query_slices},
                  {"slices_used", answer.query_slices_used}};
  out["params"] = {{"k", params.k},           {"mode", to_string(params.mode)},
                   {"rerank", params.rerank}, {"rerank_n", params.rerank_n},
                   {"top", params.top},       {"exclude", params.exclude}};
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const auto& r : answer.results) {
    nlohmann::ordered_json alignment = nlohmann::ordered_json::array();
    for (const auto& a : r.alignment)
      alignment.push_back({a.query_slice, a.volume_slice, a.similarity});
    results.push_back({{"volume", r.volume},
                       {"path", r.path},
                       {"score", r.score},
                       {"votes", r.votes},
                       {"location", r.location},
                       {"alignment", alignment}});
  }
  out["results"] = results;
  const auto& t = answer.timings;
  out["timings_ms"] = {{"embed", t.embed_ms},         {"candidates", t.candidates_ms},
                       {"aggregate", t.aggregate_ms}, {"rerank", t.rerank_ms},
                       {"localize", t.localize_ms},   {"total", t.total_ms}};
  fmt::print("{}\n", out.dump(2));
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
      "time (ms): embed {:.1f}, candidates {:.1f}, aggregate {:.1f}, rerank {:.1f}, localize "
      "{:.1f}, total {:.1f}\n",
      t.embed_ms, t.candidates_ms, t.aggregate_ms, t.rerank_ms, t.localize_ms, t.total_ms);
}

int run_search(const SearchArgs& args) {
  if (!args.region.empty() && args.labels.empty())
    fail(ErrorKind::kUsage, "--region needs --labels");
  if (!args.region.empty() && !args.slices.empty())
    fail(ErrorKind::kUsage, "give --region or --slices, not both");
  SearchParams params;
  params.k = args.k;
  params.mode = parse_vote_mode(args.mode);
  params.rerank = !args.no_rerank;
  params.rerank_n = args.rerank_n;
  params.top = args.top;
  params.ann.ef_search = args.ef;
  params.ann.nprobe = args.nprobe;
  params.validate();
  const auto index = Index::open(args.dir);
  const auto embedder = make_embedder(index->embedder().spec);
  ReadOptions read;
  read.series_uid = args.series_uid;
  if (args.frame >= 0) read.frame = args.frame;
  const Volume volume = read_volume(args.query, read);
  if (args.exclude_self) params.exclude = self_ids(*index, args.query);
  const auto slices = query_slices(args, volume);
  // A query without body fails naming the file: "q.nii.gz: slices 0..9 contain no body (...)".
  const auto answer =
      with_context(args.query, [&] { return search(*index, *embedder, volume, slices, params); });
  if (args.json) {
    print_json(args, params, answer);
  } else {
    print_text(args, params, answer);
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
  cmd->add_option("--frame", args->frame,
                  "Frame (0-based) of a 4-D query: NIfTI dim[4], or a phase of a multi-phase DICOM "
                  "series")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--labels", args->labels,
                  "The query's labels: folder of masks or multilabel file");
  cmd->add_option("--region", args->region,
                  "Search with the slices of this class (or coarse region)");
  cmd->add_option("--slices", args->slices,
                  "Search with slices A:B (inclusive; 0 = most inferior)");
  cmd->add_option("--mode", args->mode, "Volume vote: count, sum or max")->capture_default_str();
  cmd->add_option("--k", args->k, "Neighbours per query slice")->capture_default_str();
  cmd->add_option("--rerank", args->rerank_n, "Re-rank the top N volumes by MaxSim")
      ->capture_default_str();
  cmd->add_flag("--no-rerank", args->no_rerank, "Rank by votes only");
  cmd->add_option("--top", args->top, "Results to show")->capture_default_str();
  cmd->add_option("--ef", args->ef, "HNSW search breadth for this query (0: the index's)");
  cmd->add_option("--nprobe", args->nprobe, "IVF lists probed for this query (0: the index's)");
  cmd->add_flag("--exclude-self", args->exclude_self,
                "Drop the query volume itself from the results");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args, &run] { run = [args] { return run_search(*args); }; });
}

}  // namespace voxir::cli
