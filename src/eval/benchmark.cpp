// The benchmark driver: builds (or reuses) one index per embedder, runs every query in every
// mode, tallies per-class hits and writes the report (report.cpp renders report.json's tree).
#include "voxir/benchmark.h"

#include "eval/report.h"
#include "voxir/version.h"
#include "voxir/dataset.h"
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/eval.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/labels.h"
#include "voxir/search.h"
#include "voxir/volume.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

namespace voxir {
namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// The label units of one granularity: fine = catalogue classes, coarse = the 29 regions.
struct Granularity {
  std::string name;
  std::vector<std::string> units;
  std::vector<int> unit_of_class;  // catalogue class index -> unit, -1 when none
};

std::vector<Granularity> granularities(const BenchmarkOptions& options) {
  const ClassCatalog& cat = ClassCatalog::builtin();
  std::vector<Granularity> out;
  if (options.fine) {
    Granularity g{"fine", {}, {}};
    for (const auto& c : cat.classes()) {
      g.units.push_back(c.name);
      g.unit_of_class.push_back(c.index);
    }
    out.push_back(std::move(g));
  }
  if (options.coarse) {
    Granularity g{"coarse", {cat.coarse_regions().begin(), cat.coarse_regions().end()}, {}};
    for (const auto& c : cat.classes()) g.unit_of_class.push_back(cat.coarse_index(c.index));
    out.push_back(std::move(g));
  }
  return out;
}

// Which units are present on which slice of one volume, with per-unit extents.
class Presence {
 public:
  Presence(const Granularity& g, std::int64_t slices)
      : units_(static_cast<int>(g.units.size())), slices_(slices),
        bits_(static_cast<std::size_t>(slices) * g.units.size(), 0),
        extent_(g.units.size(), {-1, -1}) {}
  void set(std::int64_t k, int unit) {
    if (unit < 0) return;
    bits_[static_cast<std::size_t>(k * units_ + unit)] = 1;
    auto& e = extent_[static_cast<std::size_t>(unit)];
    if (e[0] < 0 || k < e[0]) e[0] = k;
    e[1] = std::max(e[1], k);
  }
  [[nodiscard]] bool has(std::int64_t k, int unit) const {
    return bits_[static_cast<std::size_t>(k * units_ + unit)] != 0;
  }
  [[nodiscard]] bool contains(int unit) const { return extent_[static_cast<std::size_t>(unit)][0] >= 0; }
  [[nodiscard]] const std::array<std::int64_t, 2>& extent(int unit) const {
    return extent_[static_cast<std::size_t>(unit)];
  }
  [[nodiscard]] std::int64_t slices() const { return slices_; }
  [[nodiscard]] int units() const { return units_; }

 private:
  int units_;
  std::int64_t slices_;
  std::vector<std::uint8_t> bits_;
  std::vector<std::array<std::int64_t, 2>> extent_;
};

Presence presence_from_labels(const Granularity& g, const SliceLabels& labels) {
  Presence p(g, labels.num_slices());
  for (std::size_t c = 0; c < g.unit_of_class.size(); ++c) {
    for (std::int64_t k = 0; k < labels.num_slices(); ++k) {
      if (labels.present(static_cast<int>(c), k)) p.set(k, g.unit_of_class[c]);
    }
  }
  return p;
}

Presence presence_from_index(const Granularity& g, const VolumeVectors& v) {
  Presence p(g, v.volume.num_slices);
  if (v.presence_bytes == 0) return p;
  for (std::int64_t k = 0; k < v.volume.num_slices; ++k) {
    const std::uint8_t* row = v.presence.data() + k * v.presence_bytes;
    for (std::size_t c = 0; c < g.unit_of_class.size() && c / 8 < static_cast<std::size_t>(v.presence_bytes); ++c) {
      if ((row[c / 8] >> (c % 8)) & 1) p.set(k, g.unit_of_class[c]);
    }
  }
  return p;
}

std::string safe_name(std::string_view spec) {
  std::string out;
  for (const char ch : spec) out += std::isalnum(static_cast<unsigned char>(ch)) != 0 ? ch : '_';
  return out.substr(0, 60);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = p * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

constexpr std::array<int, 4> kRankKs{1, 3, 5, 10};
constexpr std::array<const char*, 4> kModes{"slice", "volume", "region", "localized"};

// Everything measured for one embedder at one granularity.
struct GranularityTally {
  std::map<std::string, eval::RecallTally> recall;  // "<mode>/<count|rerank>"
  std::map<std::string, std::vector<double>> loc_ratio;
  std::map<std::string, std::map<std::string, double>> ranking_sum;
  std::map<std::string, int> ranking_n;
  std::map<std::string, std::pair<double, int>> region_slices;  // unit -> (sum, n)
};

struct EmbedderRun {
  std::unique_ptr<Embedder> embedder;
  std::unique_ptr<Index> index;
  Json index_json;
  std::vector<GranularityTally> tallies;              // per granularity
  std::vector<std::vector<Presence>> db;              // [granularity][volume]
  std::map<std::string, std::vector<double>> latency;  // "<volume|region>/<count|rerank>"
  double ann_hits = 0;
  double ann_trials = 0;
};

const char* variant(bool rerank) { return rerank ? "rerank" : "count"; }

std::vector<VolumeSource> database_sources(const std::vector<const Subject*>& subjects) {
  std::vector<VolumeSource> out;
  for (const Subject* s : subjects) {
    VolumeSource src;
    src.id = s->id;
    src.path = s->ct;
    src.labels = s->segmentations;
    src.split = s->split;
    Json meta = Json::object();
    for (const auto& [k, v] : s->meta) meta[k] = v;
    src.metadata_json = meta.dump();
    out.push_back(std::move(src));
  }
  return out;
}

// Opens the index an earlier run left in `dir` when it holds exactly `sources` embedded by
// `embedder` with `spec`; else builds it anew.
std::unique_ptr<Index> index_for(const std::filesystem::path& dir, const std::vector<VolumeSource>& sources,
                                 const Embedder& embedder, const IndexSpec& spec, const BenchmarkOptions& options,
                                 Json& info) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    try {
      auto index = Index::open(dir);
      std::set<std::string> have;
      for (const auto& v : index->volumes()) have.insert(v.id);
      std::set<std::string> want;
      for (const auto& s : sources) want.insert(s.id);
      if (index->embedder().fingerprint == embedder.fingerprint() && index->spec() == spec && have == want) {
        info["reused"] = true;
        return index;
      }
    } catch (const Error&) {
      // Unreadable or from another configuration: rebuilt below.
    }
  }
  BuildOptions build;
  build.index = spec;
  build.threads = options.threads;
  build.embedding_cache = options.out / "work" / "cache";
  std::size_t last_reported = 0;
  build.progress = [&](const BuildProgress& p) {
    if (options.progress && p.volumes_done != last_reported &&
        (p.volumes_done == p.volumes_total || p.volumes_done % 10 == 0)) {
      last_reported = p.volumes_done;
      options.progress(fmt::format("  indexing {}/{} database volumes ({:.0f} s)", p.volumes_done,
                                   p.volumes_total, p.seconds));
    }
  };
  const auto t0 = Clock::now();
  const BuildReport report = build_index(dir, sources, embedder, build);
  info["reused"] = false;
  info["build_s"] = std::chrono::duration<double>(Clock::now() - t0).count();
  Json skipped = Json::array();
  for (const auto& [path, why] : report.skipped) skipped.push_back({{"path", path}, {"error", why}});
  info["skipped"] = skipped;
  return Index::open(dir);
}

// Slice-level recall@k of the index against exact inner-product search, on some query slices.
void measure_ann(EmbedderRun& run, std::span<const float> vectors, std::int64_t n, int k) {
  const Index& index = *run.index;
  const int dim = index.dim();
  const auto all = index.vectors();
  const std::int64_t rows = index.num_vectors();
  const std::int64_t step = std::max<std::int64_t>(1, n / 8);
  for (std::int64_t q = 0; q < n; q += step) {
    const auto query = vectors.subspan(static_cast<std::size_t>(q * dim), static_cast<std::size_t>(dim));
    std::vector<std::pair<float, std::int64_t>> sims(static_cast<std::size_t>(rows));
    for (std::int64_t r = 0; r < rows; ++r) {
      float s = 0;
      const float* v = all.data() + r * dim;
      for (int j = 0; j < dim; ++j) s += query[static_cast<std::size_t>(j)] * v[j];
      sims[static_cast<std::size_t>(r)] = {-s, r};
    }
    const auto kk = static_cast<std::size_t>(std::min<std::int64_t>(k, rows));
    std::partial_sort(sims.begin(), sims.begin() + static_cast<std::ptrdiff_t>(kk), sims.end());
    std::vector<std::int64_t> ids(static_cast<std::size_t>(k));
    std::vector<float> got(static_cast<std::size_t>(k));
    index.search(query, 1, k, {}, ids, got);
    std::set<std::int64_t> exact;
    for (std::size_t i = 0; i < kk; ++i) exact.insert(sims[i].second);
    for (const auto id : ids) run.ann_hits += exact.count(id) != 0 ? 1 : 0;
    run.ann_trials += static_cast<double>(kk);
  }
}

struct QueryVolume {
  std::string id;
  const Subject* subject;
  std::vector<Presence> presence;  // per granularity
};

void score_slicewise(EmbedderRun& run, const QueryVolume& q, std::span<const float> vectors, std::int64_t n,
                     const std::vector<Granularity>& grans) {
  std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
  std::vector<float> sims(static_cast<std::size_t>(n));
  run.index->search(vectors, n, 1, {}, ids, sims);
  for (std::size_t g = 0; g < grans.size(); ++g) {
    auto& tally = run.tallies[g].recall["slice/count"];
    for (std::int64_t k = 0; k < n; ++k) {
      const std::int64_t row = ids[static_cast<std::size_t>(k)];
      const std::size_t v = row < 0 ? 0 : run.index->volume_of_row(row);
      const std::int64_t slice = row < 0 ? -1 : row - run.index->volumes()[v].first_row;
      for (int u = 0; u < q.presence[g].units(); ++u) {
        if (!q.presence[g].has(k, u)) continue;
        tally.add(grans[g].units[static_cast<std::size_t>(u)], slice >= 0 && run.db[g][v].has(slice, u));
      }
    }
  }
}

std::size_t volume_index(const Index& index, const std::string& id) {
  const IndexedVolume* v = index.find(id);
  if (v == nullptr) fail(ErrorKind::kInternal, "search returned unknown volume {}", id);
  return static_cast<std::size_t>(v - index.volumes().data());
}

void score_region(EmbedderRun& run, std::size_t g, const Granularity& gran, int unit, const SearchAnswer& answer,
                  bool rerank, const BenchmarkOptions& options) {
  GranularityTally& t = run.tallies[g];
  const std::string& name = gran.units[static_cast<std::size_t>(unit)];
  const std::string key = variant(rerank);
  bool hit = false;
  bool localized = false;
  if (!answer.results.empty()) {
    const SearchResult& top = answer.results.front();
    const Presence& p = run.db[g][volume_index(*run.index, top.volume)];
    hit = p.contains(unit);
    localized = hit && eval::ranges_overlap(top.location[0], top.location[1], p.extent(unit)[0], p.extent(unit)[1]);
    // Localization ratio at L: the winning volume's slices (retrieved or aligned), best first.
    std::vector<SearchResult::Aligned> aligned = top.alignment;
    std::stable_sort(aligned.begin(), aligned.end(),
                     [](const auto& a, const auto& b) { return a.similarity > b.similarity; });
    std::vector<bool> flags;
    for (const auto& a : aligned) flags.push_back(p.has(a.volume_slice, unit));
    if (const auto ratio = eval::localization_ratio(flags, options.L)) t.loc_ratio[key].push_back(*ratio);
  }
  t.recall["region/" + key].add(name, hit);
  t.recall["localized/" + key].add(name, localized);
  int relevant = 0;
  for (const auto& p : run.db[g]) relevant += p.contains(unit) ? 1 : 0;
  std::vector<bool> ranked;
  for (const auto& r : answer.results) ranked.push_back(run.db[g][volume_index(*run.index, r.volume)].contains(unit));
  auto& sums = t.ranking_sum[key];
  for (const int k : kRankKs) {
    sums[fmt::format("recall@{}", k)] += eval::recall_at_k(ranked, k, relevant);
    sums[fmt::format("precision@{}", k)] += eval::precision_at_k(ranked, k);
  }
  sums["mAP@10"] += eval::average_precision_at_k(ranked, 10, relevant);
  sums["MRR"] += eval::reciprocal_rank(ranked);
  ++t.ranking_n[key];
}

void run_query(EmbedderRun& run, const QueryVolume& q, const Volume& volume, EmbeddingCache& cache,
               const std::vector<Granularity>& grans, const BenchmarkOptions& options) {
  const std::vector<float> vectors = cache.embed_all(*run.embedder, volume);
  const std::int64_t n = volume.nz();
  const int dim = run.embedder->dim();
  if (run.index->spec().type != IndexSpec::Type::kFlat) measure_ann(run, vectors, n, options.k);
  score_slicewise(run, q, vectors, n, grans);
  for (const bool rerank : {false, true}) {
    SearchParams params;
    params.k = options.k;
    params.rerank = rerank;
    params.rerank_n = options.rerank_n;
    params.top = std::max(options.top, 10);
    const std::string key = variant(rerank);
    const SearchAnswer whole = search(*run.index, vectors, n, 0, params);
    run.latency["volume/" + key].push_back(whole.timings.total_ms);
    for (std::size_t g = 0; g < grans.size(); ++g) {
      const Presence* top = whole.results.empty() ? nullptr
                                                  : &run.db[g][volume_index(*run.index, whole.results.front().volume)];
      for (int u = 0; u < q.presence[g].units(); ++u) {
        if (q.presence[g].contains(u)) {
          run.tallies[g].recall["volume/" + key].add(grans[g].units[static_cast<std::size_t>(u)],
                                                     top != nullptr && top->contains(u));
        }
      }
    }
    for (std::size_t g = 0; g < grans.size(); ++g) {
      for (int u = 0; u < q.presence[g].units(); ++u) {
        if (!q.presence[g].contains(u)) continue;
        const auto [first, last] = q.presence[g].extent(u);
        const std::int64_t m = last - first + 1;
        const SearchAnswer answer =
            search(*run.index,
                   std::span<const float>(vectors).subspan(static_cast<std::size_t>(first * dim),
                                                           static_cast<std::size_t>(m * dim)),
                   m, first, params);
        run.latency["region/" + key].push_back(answer.timings.total_ms);
        score_region(run, g, grans[g], u, answer, rerank, options);
        if (!rerank) {
          auto& [sum, count] = run.tallies[g].region_slices[grans[g].units[static_cast<std::size_t>(u)]];
          sum += static_cast<double>(m);
          ++count;
        }
      }
    }
  }
}

Json tally_json(const eval::RecallTally& tally) {
  Json per_class = Json::object();
  for (const auto& [name, row] : tally.rows()) {
    const auto r = tally.row(name);
    per_class[name] = {{"trials", r.trials}, {"hits", r.hits},
                       {"recall", r.recall() ? Json(*r.recall()) : Json()}, {"in_database", r.in_database}};
  }
  const eval::MeanStd s = tally.summary();
  return {{"mean", s.mean}, {"std", s.std}, {"classes", s.classes}, {"per_class", per_class}};
}

Json embedder_json(EmbedderRun& run, const std::vector<Granularity>& grans, std::vector<RecallSummary>& summaries) {
  Json out;
  out["spec"] = run.embedder->spec();
  out["fingerprint"] = run.embedder->fingerprint();
  out["dim"] = run.embedder->dim();
  out["index"] = run.index_json;
  out["index"]["ann_recall_vs_exact"] = run.ann_trials > 0 ? Json(run.ann_hits / run.ann_trials) : Json();
  Json latency = Json::object();
  for (const auto& [key, v] : run.latency) {
    latency[key] = {{"p50", percentile(v, 0.5)}, {"p95", percentile(v, 0.95)}, {"queries", v.size()}};
  }
  out["latency_ms"] = latency;
  Json gjson = Json::object();
  for (std::size_t g = 0; g < grans.size(); ++g) {
    GranularityTally& t = run.tallies[g];
    Json modes = Json::object();
    for (const char* mode : kModes) {
      for (const bool rerank : {false, true}) {
        const std::string key = fmt::format("{}/{}", mode, variant(rerank));
        if (!t.recall.count(key)) continue;
        auto& tally = t.recall[key];
        for (int u = 0; u < static_cast<int>(grans[g].units.size()); ++u) {
          for (const auto& p : run.db[g]) {
            if (p.contains(u)) {
              tally.set_in_database(grans[g].units[static_cast<std::size_t>(u)]);
              break;
            }
          }
        }
        modes[mode][variant(rerank)] = tally_json(tally);
        const eval::MeanStd s = tally.summary();
        summaries.push_back({run.embedder->spec(), grans[g].name, mode, rerank, s.mean, s.std, s.classes});
      }
    }
    Json loc = Json::object();
    Json ranking = Json::object();
    for (const bool rerank : {false, true}) {
      const std::string key = variant(rerank);
      const auto& v = t.loc_ratio[key];
      loc[key] = v.empty() ? Json() : Json(eval::mean_std(v).mean);
      Json r = Json::object();
      for (const auto& [metric, sum] : t.ranking_sum[key]) r[metric] = sum / std::max(1, t.ranking_n[key]);
      r["queries"] = t.ranking_n[key];
      ranking[key] = r;
    }
    Json sizes = Json::object();
    for (const auto& [name, sn] : t.region_slices) sizes[name] = sn.first / sn.second;
    gjson[grans[g].name] = {{"modes", modes}, {"localization_ratio", loc}, {"ranking", ranking},
                            {"region_slices", sizes}};
  }
  out["granularities"] = gjson;
  return out;
}

}  // namespace

void BenchmarkOptions::validate() const {
  if (embedders.empty()) fail(ErrorKind::kUsage, "benchmark: give at least one embedder");
  if (!fine && !coarse) fail(ErrorKind::kUsage, "benchmark: choose at least one granularity (104 or 29)");
  if (k < 1) fail(ErrorKind::kUsage, "benchmark: k must be >= 1 (got {})", k);
  if (rerank_n < 1) fail(ErrorKind::kUsage, "benchmark: rerank N must be >= 1 (got {})", rerank_n);
  if (L < 1) fail(ErrorKind::kUsage, "benchmark: L must be >= 1 (got {})", L);
  if (max_queries < 0) fail(ErrorKind::kUsage, "benchmark: max queries must be >= 0");
  if (db_split == query_split) {
    fail(ErrorKind::kUsage, "benchmark: database and query splits are both '{}'; a query must never be in the "
         "database", db_split);
  }
  (void)IndexSpec::parse(index);
}

BenchmarkSummary run_benchmark(const std::filesystem::path& dataset_dir, const BenchmarkOptions& options) {
  options.validate();
  const auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  const auto t_start = Clock::now();
  const Dataset dataset = Dataset::open(dataset_dir);
  const auto db_subjects = dataset.split(options.db_split);
  auto query_subjects = dataset.split(options.query_split);
  if (db_subjects.empty()) {
    fail(ErrorKind::kInvalidInput, "{}: no subject in split '{}' for the database", dataset_dir.string(), options.db_split);
  }
  if (query_subjects.empty()) {
    fail(ErrorKind::kInvalidInput, "{}: no subject in split '{}' for the queries", dataset_dir.string(),
         options.query_split);
  }
  if (options.max_queries > 0 && query_subjects.size() > static_cast<std::size_t>(options.max_queries)) {
    query_subjects.resize(static_cast<std::size_t>(options.max_queries));
  }
  const IndexSpec spec = IndexSpec::parse(options.index);
  const auto grans = granularities(options);
  const std::filesystem::path work = options.out / "work";
  std::filesystem::create_directories(work);
  const std::vector<VolumeSource> sources = database_sources(db_subjects);

  std::vector<EmbedderRun> runs;
  for (std::size_t e = 0; e < options.embedders.size(); ++e) {
    EmbedderRun run;
    EmbedderOptions eopt;
    eopt.threads = options.threads;
    run.embedder = make_embedder(options.embedders[e], eopt);
    say(fmt::format("embedder {} ({}-d): index {} of {} {} volumes", run.embedder->spec(), run.embedder->dim(),
                    spec.str(), sources.size(), options.db_split));
    run.index_json = {{"spec", spec.str()}};
    const auto dir = work / fmt::format("index-{}-{}", e, safe_name(run.embedder->spec()));
    run.index = index_for(dir, sources, *run.embedder, spec, options, run.index_json);
    if (run.index_json.value("reused", false)) say("  reusing the index of an earlier run");
    run.db.resize(grans.size());
    for (std::size_t g = 0; g < grans.size(); ++g) {
      for (std::size_t v = 0; v < run.index->volumes().size(); ++v) {
        run.db[g].push_back(presence_from_index(grans[g], run.index->labels(v)));
      }
    }
    run.tallies.resize(grans.size());
    runs.push_back(std::move(run));
  }

  EmbeddingCache cache(work / "cache");
  std::size_t done = 0;
  for (const Subject* s : query_subjects) {
    with_context(fmt::format("query {}", s->id), [&] {
      const Volume volume = read_volume(s->ct);
      const SliceLabels labels = read_labels(s->segmentations, volume);
      QueryVolume q{s->id, s, {}};
      for (const auto& g : grans) q.presence.push_back(presence_from_labels(g, labels));
      for (auto& run : runs) run_query(run, q, volume, cache, grans, options);
    });
    ++done;
    say(fmt::format("  query {}/{} ({}) done, {:.0f} s", done, query_subjects.size(), s->id,
                    std::chrono::duration<double>(Clock::now() - t_start).count()));
  }

  BenchmarkSummary summary;
  Json report;
  report["voxir_version"] = version();
  report["git_commit"] = build_commit();
  report["dataset"] = std::filesystem::absolute(dataset_dir).string();
  report["config"] = {{"embedders", options.embedders}, {"index", spec.str()},
                      {"granularities", Json::array()}, {"db_split", options.db_split},
                      {"query_split", options.query_split}, {"k", options.k},
                      {"rerank_n", options.rerank_n}, {"top", std::max(options.top, 10)},
                      {"L", options.L}, {"max_queries", options.max_queries}, {"min_voxels", 1},
                      {"central_fraction", SearchParams{}.central_fraction}};
  for (const auto& g : grans) report["config"]["granularities"].push_back(g.name);
  report["database_volumes"] = sources.size();
  report["query_volumes"] = query_subjects.size();
  Json embedders = Json::array();
  for (auto& run : runs) embedders.push_back(embedder_json(run, grans, summary.recalls));
  report["embedders"] = embedders;
  report["seconds"] = std::chrono::duration<double>(Clock::now() - t_start).count();
  const auto files = eval::write_report(report, options.out);
  summary.report_md = files.markdown;
  summary.report_json = files.json;
  return summary;
}

}  // namespace voxir
