// The benchmark driver: builds (or reuses) one index per embedder, runs every query in every
// mode, tallies per-class hits and writes the report (report.cpp renders report.json's tree).
#include "voxir/benchmark.h"

#include "eval/report.h"
#include "voxir/version.h"
#include "util/file.h"
#include "util/json_text.h"
#include "voxir/dataset.h"
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/eval.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/labels.h"
#include "voxir/predict.h"
#include "voxir/search.h"
#include "voxir/volume.h"

#include <fmt/core.h>
#include <fmt/ranges.h>
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

// The label units of one granularity: fine = the class map's classes, coarse = their regions.
struct Granularity {
  std::string name;
  std::vector<std::string> units;
  std::vector<int> unit_of_class;  // catalogue class index -> unit, -1 when none
};

std::vector<Granularity> granularities(const BenchmarkOptions& options, const eval::ClassMap& map) {
  const std::size_t classes = ClassCatalog::builtin().classes().size();
  std::vector<Granularity> out;
  if (options.fine) {
    Granularity g{"fine", {}, std::vector<int>(classes, -1)};
    for (std::size_t i = 0; i < map.entries().size(); ++i) {
      g.units.push_back(map.entries()[i].name);
      g.unit_of_class[static_cast<std::size_t>(map.entries()[i].class_index)] = static_cast<int>(i);
    }
    out.push_back(std::move(g));
  }
  if (options.coarse) {
    Granularity g{"coarse", map.coarse_regions(), std::vector<int>(classes, -1)};
    for (std::size_t i = 0; i < map.entries().size(); ++i) {
      g.unit_of_class[static_cast<std::size_t>(map.entries()[i].class_index)] = map.coarse_of(i);
    }
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

Presence presence_from_labels(const Granularity& g, const SliceLabels& labels, int min_voxels) {
  Presence p(g, labels.num_slices());
  for (std::size_t c = 0; c < g.unit_of_class.size(); ++c) {
    if (g.unit_of_class[c] < 0) continue;
    for (std::int64_t k = 0; k < labels.num_slices(); ++k) {
      if (labels.present(static_cast<int>(c), k, static_cast<std::uint32_t>(min_voxels))) {
        p.set(k, g.unit_of_class[c]);
      }
    }
  }
  return p;
}

// Voxels of each unit in one volume (all slices), for organ sizes.
std::vector<double> unit_voxels(const Granularity& g, const SliceLabels& labels) {
  std::vector<double> out(g.units.size(), 0.0);
  for (std::size_t c = 0; c < g.unit_of_class.size(); ++c) {
    const int u = g.unit_of_class[c];
    if (u < 0) continue;
    for (std::int64_t k = 0; k < labels.num_slices(); ++k) {
      out[static_cast<std::size_t>(u)] += labels.count(static_cast<int>(c), k);
    }
  }
  return out;
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
constexpr std::array<eval::LocalizedRule, 3> kRules{
    eval::LocalizedRule::kRatio, eval::LocalizedRule::kMajority, eval::LocalizedRule::kOverlap};

// Everything measured for one embedder at one granularity.
struct GranularityTally {
  std::map<std::string, eval::RecallTally> recall;   // "<mode>/<count|rerank>"
  std::map<std::string, eval::RecallTally> by_rule;  // "<localized rule>/<count|rerank>"
  std::map<std::string, std::map<int, eval::RatioTally>> loc_ratio;  // variant -> L -> tally
  std::map<std::string, std::map<std::string, double>> ranking_sum;
  std::map<std::string, int> ranking_n;
  // Predicted regions: per unit, the slice IoU of predicted vs true extent of each query.
  std::map<std::string, std::vector<double>> iou;
};

// Embedder-independent facts per unit: how often it occurs and how large it is (Fig. 6, 7-10).
struct ClassStats {
  std::vector<int> db_volumes;
  std::vector<int> query_volumes;
  std::vector<double> slices_sum;  // query extent lengths
  std::vector<double> ml_sum;      // query organ volumes
};

struct EmbedderRun {
  std::unique_ptr<Embedder> embedder;
  std::unique_ptr<Index> index;
  Json index_json;
  std::vector<GranularityTally> tallies;              // per granularity
  std::vector<std::vector<Presence>> db;              // [granularity][volume]
  std::map<std::string, std::vector<double>> latency;  // "<volume|region>/<count|rerank>"
  std::unique_ptr<AnatomyPredictor> predictor;         // with predicted_regions
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
    src.metadata_json = json_text(meta);  // meta.csv may be in Latin-1
    out.push_back(std::move(src));
  }
  return out;
}

// What the database's label files look like (names, sizes, modification times): an index whose
// labels were read from other files (e.g. v1 masks since replaced by v2 ones) must not be reused,
// since it stores the presence it read then.
std::string labels_signature(const std::vector<VolumeSource>& sources) {
  std::vector<std::string> lines;
  const auto describe = [](const std::filesystem::path& p) {
    std::error_code ec;
    const auto size = std::filesystem::is_regular_file(p, ec) ? std::filesystem::file_size(p, ec) : 0;
    const auto time = std::filesystem::last_write_time(p, ec).time_since_epoch().count();
    return fmt::format("{} {} {}", p.filename().string(), size, time);
  };
  for (const auto& s : sources) {
    std::vector<std::string> files;
    std::error_code ec;
    if (std::filesystem::is_directory(s.labels, ec)) {
      for (const auto& e : std::filesystem::directory_iterator(s.labels, ec)) files.push_back(describe(e.path()));
    } else if (!s.labels.empty()) {
      files.push_back(describe(s.labels));
    }
    std::sort(files.begin(), files.end());
    lines.push_back(fmt::format("{}\t{}\t{}", s.id, s.labels.string(), fmt::join(files, "\t")));
  }
  std::sort(lines.begin(), lines.end());
  return fmt::format("{}\n", fmt::join(lines, "\n"));
}

// Opens the index an earlier run left in `dir` when it holds exactly `sources` embedded by
// `embedder` with `spec`; else builds it anew.
std::unique_ptr<Index> index_for(const std::filesystem::path& dir, const std::vector<VolumeSource>& sources,
                                 const Embedder& embedder, const IndexSpec& spec, const BenchmarkOptions& options,
                                 Json& info) {
  std::error_code ec;
  const std::filesystem::path labels_file = dir.string() + ".labels";
  const std::string labels = labels_signature(sources);
  if (std::filesystem::exists(dir, ec)) {
    try {
      auto index = Index::open(dir);
      std::set<std::string> have;
      for (const auto& v : index->volumes()) have.insert(v.id);
      std::set<std::string> want;
      for (const auto& s : sources) want.insert(s.id);
      const bool same_labels =
          std::filesystem::exists(labels_file, ec) && read_text_file(labels_file) == labels;
      if (index->embedder().fingerprint == embedder.fingerprint() && index->spec() == spec &&
          have == want && same_labels) {
        info["reused"] = true;
        return index;
      }
      if (!same_labels && options.progress) {
        options.progress("  the database's label files changed since the last run: re-indexing");
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
  write_file_atomic(labels_file, std::span(reinterpret_cast<const std::uint8_t*>(labels.data()), labels.size()));
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

// Scores one region query. `predicted`: its slices were predicted, so only the predicted-region
// recalls are tallied (the other metrics stay those of true regions).
void score_region(EmbedderRun& run, std::size_t g, const Granularity& gran, int unit,
                  const SearchAnswer& answer, bool rerank, const BenchmarkOptions& options,
                  eval::LocalizedRule rule, bool predicted = false) {
  GranularityTally& t = run.tallies[g];
  const std::string& name = gran.units[static_cast<std::size_t>(unit)];
  const std::string key = variant(rerank);
  eval::LocalizationEvidence evidence;
  if (!answer.results.empty()) {
    const SearchResult& top = answer.results.front();
    const Presence& p = run.db[g][volume_index(*run.index, top.volume)];
    evidence.contains = p.contains(unit);
    evidence.predicted = top.location;
    evidence.extent = p.extent(unit);
    // The slices that carried the winning volume (retrieved or aligned), best first.
    std::vector<SearchResult::Aligned> aligned = top.alignment;
    std::stable_sort(aligned.begin(), aligned.end(),
                     [](const auto& a, const auto& b) { return a.similarity > b.similarity; });
    for (const auto& a : aligned) evidence.slices_have_class.push_back(p.has(a.volume_slice, unit));
  }
  const double threshold = options.localized_threshold;
  if (predicted) {
    t.recall["region_predicted/" + key].add(name, evidence.contains);
    t.recall["localized_predicted/" + key].add(
        name, eval::localized_hit(rule, evidence, options.localized_L, threshold));
    return;
  }
  for (const int L : options.L) {
    auto& ratios = t.loc_ratio[key][L];
    const auto ratio = eval::localization_ratio(evidence.slices_have_class, L);
    if (evidence.contains && ratio) {
      ratios.add_hit(name, *ratio);
    } else {
      ratios.add_miss(name);
    }
  }
  t.recall["region/" + key].add(name, evidence.contains);
  t.recall["localized/" + key].add(
      name, eval::localized_hit(rule, evidence, options.localized_L, threshold));
  for (const auto r : kRules) {
    t.by_rule[fmt::format("{}/{}", eval::to_string(r), key)].add(
        name, eval::localized_hit(r, evidence, options.localized_L, threshold));
  }
  int relevant = 0;
  for (const auto& p : run.db[g]) relevant += p.contains(unit) ? 1 : 0;
  std::vector<bool> ranked;
  for (const auto& r : answer.results) ranked.push_back(run.db[g][volume_index(*run.index, r.volume)].contains(unit));
  auto& sums = t.ranking_sum[key];
  for (const int k : kRankKs) {
    sums[fmt::format("hit@{}", k)] += eval::hit_at_k(ranked, k);
    sums[fmt::format("coverage@{}", k)] += eval::coverage_at_k(ranked, k, relevant);
    sums[fmt::format("precision@{}", k)] += eval::precision_at_k(ranked, k);
  }
  sums["mAP@10"] += eval::average_precision_at_k(ranked, 10, relevant);
  sums["MRR"] += eval::reciprocal_rank(ranked);
  ++t.ranking_n[key];
}

void run_query(EmbedderRun& run, const QueryVolume& q, const Volume& volume, EmbeddingCache& cache,
               const std::vector<Granularity>& grans, const BenchmarkOptions& options) {
  const SliceEmbeddings embedded = cache.embed_all_measured(*run.embedder, volume);
  const std::vector<float>& vectors = embedded.vectors;
  const std::int64_t n = volume.nz();
  if (run.index->spec().type != IndexSpec::Type::kFlat) measure_ann(run, vectors, n, options.k);
  score_slicewise(run, q, vectors, n, grans);
  // Predicted extents of every unit the query truly contains (nullopt: not predicted).
  std::vector<std::vector<std::optional<std::array<std::int64_t, 2>>>> predicted(grans.size());
  if (run.predictor) {
    const AnatomyPrediction prediction = run.predictor->predict(vectors, 0, embedded.content);
    const ClassCatalog& cat = ClassCatalog::builtin();
    for (std::size_t g = 0; g < grans.size(); ++g) {
      predicted[g].resize(grans[g].units.size());
      for (int u = 0; u < q.presence[g].units(); ++u) {
        if (!q.presence[g].contains(u)) continue;
        const std::string& name = grans[g].units[static_cast<std::size_t>(u)];
        const bool coarse = grans[g].name == "coarse";
        const int index = coarse ? cat.coarse_index(name) : (cat.find(name) ? cat.find(name)->index : -1);
        if (index < 0) {
          fail(ErrorKind::kUsage, "predicted regions: '{}' is not a {} of the built-in catalogue",
               name, coarse ? "coarse region" : "class");
        }
        const auto e = prediction.extent(Region{name, coarse, index});
        if (e) predicted[g][static_cast<std::size_t>(u)] = e->slices;
        run.tallies[g].iou[name].push_back(
            e ? eval::slice_iou(e->slices, q.presence[g].extent(u)) : 0.0);
      }
    }
  }
  for (const bool rerank : {false, true}) {
    SearchParams params;
    params.k = options.k;
    params.rerank = rerank;
    params.rerank_n = options.rerank_n;
    params.top = std::max(options.top, 10);
    params.mode = parse_vote_mode(options.vote);
    const std::string key = variant(rerank);
    Query query;
    query.vectors = vectors;
    query.content = embedded.content;
    query.params = params;
    const SearchAnswer whole = search(*run.index, query);
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
        query.slices = q.presence[g].extent(u);
        const SearchAnswer answer = search(*run.index, query);
        run.latency["region/" + key].push_back(answer.timings.total_ms);
        score_region(run, g, grans[g], u, answer, rerank, options,
                     eval::parse_localized_rule(options.localized));
        if (!run.predictor) continue;
        const auto& range = predicted[g][static_cast<std::size_t>(u)];
        if (!range) {
          score_region(run, g, grans[g], u, SearchAnswer{}, rerank, options,
                       eval::parse_localized_rule(options.localized), true);
          continue;
        }
        query.slices = *range;
        score_region(run, g, grans[g], u, search(*run.index, query), rerank, options,
                     eval::parse_localized_rule(options.localized), true);
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

Json ratio_json(const eval::RatioTally& tally) {
  Json per_class = Json::object();
  for (const auto& [name, row] : tally.rows()) {
    const eval::MeanStd s = row.stats();
    per_class[name] = {{"queries", row.queries},
                       {"misses", row.misses},
                       {"mean", row.ratios.empty() ? Json() : Json(s.mean)},
                       {"std", row.ratios.empty() ? Json() : Json(s.std)}};
  }
  const eval::MeanStd s = tally.summary();
  return {{"mean", s.mean},           {"std", s.std},
          {"classes", s.classes},     {"queries", tally.queries()},
          {"misses", tally.misses()}, {"pooled_misses_as_zero", tally.pooled_misses_as_zero()},
          {"per_class", per_class}};
}

// Predicted regions: per-unit slice IoU, and region / localized recall with predicted regions
// beside those with true ones (the same tallies as the "modes" entries).
Json predicted_json(EmbedderRun& run, std::size_t g, const Granularity& gran,
                    std::vector<RecallSummary>& summaries) {
  GranularityTally& t = run.tallies[g];
  Json per_class = Json::object();
  std::vector<double> means;
  for (const auto& [name, v] : t.iou) {
    const double m = eval::mean_std(v).mean;
    means.push_back(m);
    per_class[name] = {{"queries", v.size()}, {"mean", m}};
  }
  const eval::MeanStd iou = eval::mean_std(means);
  Json out;
  out["slice_iou"] = {{"mean", iou.mean}, {"std", iou.std}, {"classes", means.size()},
                      {"per_class", per_class}};
  for (const char* mode : {"region", "localized"}) {
    for (const bool rerank : {false, true}) {
      const std::string key = fmt::format("{}_predicted/{}", mode, variant(rerank));
      if (!t.recall.count(key)) continue;
      auto& tally = t.recall[key];
      for (int u = 0; u < static_cast<int>(gran.units.size()); ++u) {
        for (const auto& p : run.db[g]) {
          if (p.contains(u)) {
            tally.set_in_database(gran.units[static_cast<std::size_t>(u)]);
            break;
          }
        }
      }
      out["modes"][mode][variant(rerank)] = tally_json(tally);
      const eval::MeanStd s = tally.summary();
      summaries.push_back({run.embedder->spec(), gran.name, fmt::format("{} (predicted)", mode),
                           rerank, s.mean, s.std, s.classes});
    }
  }
  return out;
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
    const auto mark_database = [&](eval::RecallTally& tally) {
      for (int u = 0; u < static_cast<int>(grans[g].units.size()); ++u) {
        for (const auto& p : run.db[g]) {
          if (p.contains(u)) {
            tally.set_in_database(grans[g].units[static_cast<std::size_t>(u)]);
            break;
          }
        }
      }
    };
    Json modes = Json::object();
    // Tables 20/21 of the paper: one average per embedder over the retrieval modes.
    std::map<std::string, std::vector<double>> mode_means;
    for (const char* mode : kModes) {
      for (const bool rerank : {false, true}) {
        const std::string key = fmt::format("{}/{}", mode, variant(rerank));
        if (!t.recall.count(key)) continue;
        auto& tally = t.recall[key];
        mark_database(tally);
        modes[mode][variant(rerank)] = tally_json(tally);
        const eval::MeanStd s = tally.summary();
        summaries.push_back({run.embedder->spec(), grans[g].name, mode, rerank, s.mean, s.std, s.classes});
        if (s.classes > 0) {
          mode_means[variant(rerank)].push_back(s.mean);
          mode_means["all"].push_back(s.mean);
        }
      }
    }
    Json average = Json::object();
    for (const char* which : {"count", "rerank", "all"}) {
      const auto& v = mode_means[which];
      average[which] = {{"mean", v.empty() ? Json() : Json(eval::mean_std(v).mean)},
                        {"columns", v.size()}};
    }
    Json by_rule = Json::object();
    for (const auto r : kRules) {
      for (const bool rerank : {false, true}) {
        const std::string key = fmt::format("{}/{}", eval::to_string(r), variant(rerank));
        if (!t.by_rule.count(key)) continue;
        mark_database(t.by_rule[key]);
        by_rule[std::string(eval::to_string(r))][variant(rerank)] = tally_json(t.by_rule[key]);
      }
    }
    Json loc = Json::object();
    Json ranking = Json::object();
    for (const bool rerank : {false, true}) {
      const std::string key = variant(rerank);
      Json per_l = Json::object();
      for (const auto& [L, tally] : t.loc_ratio[key]) per_l[std::to_string(L)] = ratio_json(tally);
      loc[key] = per_l;
      Json r = Json::object();
      for (const auto& [metric, sum] : t.ranking_sum[key]) r[metric] = sum / std::max(1, t.ranking_n[key]);
      r["queries"] = t.ranking_n[key];
      ranking[key] = r;
    }
    gjson[grans[g].name] = {{"modes", modes},
                            {"average_over_modes", average},
                            {"localized_by_rule", by_rule},
                            {"localization_ratio", loc},
                            {"ranking", ranking}};
    if (!t.iou.empty()) gjson[grans[g].name]["predicted_regions"] = predicted_json(run, g, grans[g], summaries);
  }
  out["granularities"] = gjson;
  return out;
}

// Class names a dataset carries: mask file names in its segmentation folders, plus every class
// present in some volume (covers multilabel files).
std::vector<std::string> dataset_class_names(const std::vector<const Subject*>& subjects,
                                             const std::set<int>& present) {
  const ClassCatalog& cat = ClassCatalog::builtin();
  std::set<std::string> names;
  for (const int c : present) names.insert(cat.classes()[static_cast<std::size_t>(c)].name);
  for (const Subject* s : subjects) {
    std::error_code ec;
    if (!std::filesystem::is_directory(s->segmentations, ec)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(s->segmentations, ec)) {
      std::string name = entry.path().filename().string();
      for (const std::string ext : {".nii.gz", ".nii"}) {
        if (name.size() > ext.size() && name.ends_with(ext)) {
          name.resize(name.size() - ext.size());
          if (cat.find(name) != nullptr) names.insert(name);
          break;
        }
      }
    }
  }
  return {names.begin(), names.end()};
}

}  // namespace

void BenchmarkOptions::validate() const {
  if (embedders.empty()) fail(ErrorKind::kUsage, "benchmark: give at least one embedder");
  if (!fine && !coarse) fail(ErrorKind::kUsage, "benchmark: choose at least one granularity (104 or 29)");
  if (k < 1) fail(ErrorKind::kUsage, "benchmark: k must be >= 1 (got {})", k);
  if (rerank_n < 1) fail(ErrorKind::kUsage, "benchmark: rerank N must be >= 1 (got {})", rerank_n);
  if (L.empty()) fail(ErrorKind::kUsage, "benchmark: give at least one L");
  for (const int l : L) {
    if (l < 1) fail(ErrorKind::kUsage, "benchmark: L must be >= 1 (got {})", l);
  }
  if (std::set<int>(L.begin(), L.end()).size() != L.size()) {
    fail(ErrorKind::kUsage, "benchmark: L {} lists a value twice", fmt::join(L, ","));
  }
  if (!(localized_threshold > 0 && localized_threshold <= 1)) {
    fail(ErrorKind::kUsage, "benchmark: localized threshold {} must be in (0, 1]",
         localized_threshold);
  }
  if (localized_L < 1)
    fail(ErrorKind::kUsage, "benchmark: localized L must be >= 1 (got {})", localized_L);
  if (min_voxels < 1)
    fail(ErrorKind::kUsage, "benchmark: min voxels must be >= 1 (got {})", min_voxels);
  if (max_queries < 0) fail(ErrorKind::kUsage, "benchmark: max queries must be >= 0");
  if (db_split == query_split) {
    fail(ErrorKind::kUsage, "benchmark: database and query splits are both '{}'; a query must never be in the "
         "database", db_split);
  }
  (void)eval::parse_localized_rule(localized);
  (void)parse_vote_mode(vote);
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
  const eval::ClassMap class_map =
      options.class_map.empty()
          ? eval::ClassMap::builtin()
          : with_context("--class-map", [&] { return eval::ClassMap::load(options.class_map); });
  const auto grans = granularities(options, class_map);
  const std::filesystem::path work = options.out / "work";
  std::filesystem::create_directories(work);
  const std::vector<VolumeSource> sources = database_sources(db_subjects);

  // The index stores presence at 1 voxel; a higher threshold needs the voxel counts again.
  std::map<std::string, std::vector<Presence>> db_relabelled;
  if (options.min_voxels > 1) {
    say(fmt::format("reading the labels of {} database volumes (min voxels {})", db_subjects.size(),
                    options.min_voxels));
    for (const Subject* s : db_subjects) {
      with_context(fmt::format("database volume {}", s->id), [&] {
        const Volume volume = read_volume(s->ct);
        const SliceLabels labels = read_labels(s->segmentations, volume);
        auto& p = db_relabelled[s->id];
        for (const auto& g : grans)
          p.push_back(presence_from_labels(g, labels, options.min_voxels));
      });
    }
  }

  std::set<int> classes_present;
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
    for (std::size_t v = 0; v < run.index->volumes().size(); ++v) {
      const VolumeVectors labels = run.index->labels(v);
      for (std::int64_t k = 0; e == 0 && k < labels.volume.num_slices; ++k) {
        for (int b = 0; b < labels.presence_bytes * 8; ++b) {
          if ((labels.presence[static_cast<std::size_t>(k * labels.presence_bytes + b / 8)] >>
               (b % 8)) &
              1) {
            classes_present.insert(b);
          }
        }
      }
      const auto relabelled = db_relabelled.find(run.index->volumes()[v].id);
      for (std::size_t g = 0; g < grans.size(); ++g) {
        run.db[g].push_back(relabelled != db_relabelled.end()
                                ? relabelled->second[g]
                                : presence_from_index(grans[g], labels));
      }
    }
    run.tallies.resize(grans.size());
    if (options.predicted_regions) run.predictor = std::make_unique<AnatomyPredictor>(*run.index);
    runs.push_back(std::move(run));
  }

  std::vector<ClassStats> stats(grans.size());
  for (std::size_t g = 0; g < grans.size(); ++g) {
    const std::size_t n = grans[g].units.size();
    stats[g] = {std::vector<int>(n, 0), std::vector<int>(n, 0), std::vector<double>(n, 0),
                std::vector<double>(n, 0)};
    for (const auto& p : runs.front().db[g]) {
      for (int u = 0; u < p.units(); ++u)
        stats[g].db_volumes[static_cast<std::size_t>(u)] += p.contains(u) ? 1 : 0;
    }
  }

  EmbeddingCache cache(work / "cache");
  std::size_t done = 0;
  for (const Subject* s : query_subjects) {
    with_context(fmt::format("query {}", s->id), [&] {
      const Volume volume = read_volume(s->ct);
      const SliceLabels labels = read_labels(s->segmentations, volume);
      QueryVolume q{s->id, s, {}};
      const double ml_per_voxel =
          volume.spacing()[0] * volume.spacing()[1] * volume.spacing()[2] / 1000.0;
      for (std::size_t g = 0; g < grans.size(); ++g) {
        q.presence.push_back(presence_from_labels(grans[g], labels, options.min_voxels));
        const auto voxels = unit_voxels(grans[g], labels);
        for (int u = 0; u < q.presence[g].units(); ++u) {
          if (!q.presence[g].contains(u)) continue;
          const auto i = static_cast<std::size_t>(u);
          ++stats[g].query_volumes[i];
          stats[g].slices_sum[i] +=
              static_cast<double>(q.presence[g].extent(u)[1] - q.presence[g].extent(u)[0] + 1);
          stats[g].ml_sum[i] += voxels[i] * ml_per_voxel;
        }
      }
      for (std::size_t c = 0; c < labels.catalog().classes().size(); ++c) {
        if (labels.extent(static_cast<int>(c))) classes_present.insert(static_cast<int>(c));
      }
      for (auto& run : runs) run_query(run, q, volume, cache, grans, options);
    });
    ++done;
    say(fmt::format("  query {}/{} ({}) done, {:.0f} s", done, query_subjects.size(), s->id,
                    std::chrono::duration<double>(Clock::now() - t_start).count()));
  }

  std::vector<const Subject*> all_subjects(db_subjects.begin(), db_subjects.end());
  all_subjects.insert(all_subjects.end(), query_subjects.begin(), query_subjects.end());
  const eval::LabelSetCheck check =
      eval::check_label_set(class_map, dataset_class_names(all_subjects, classes_present));

  BenchmarkSummary summary;
  summary.warnings = check.warnings(class_map.source());
  for (const auto& w : summary.warnings) say("warning: " + w);
  Json report;
  report["voxir_version"] = version();
  report["git_commit"] = build_commit();
  report["dataset"] = std::filesystem::absolute(dataset_dir).string();
  report["config"] = {
      {"embedders", options.embedders},
      {"index", spec.str()},
      {"granularities", Json::array()},
      {"class_map", class_map.source()},
      {"db_split", options.db_split},
      {"query_split", options.query_split},
      {"k", options.k},
      {"vote", options.vote},
      {"rerank_n", options.rerank_n},
      {"top", std::max(options.top, 10)},
      {"L", options.L},
      {"localized",
       {{"rule", options.localized},
        {"threshold", options.localized_threshold},
        {"L", options.localized_L}}},
      {"min_voxels", options.min_voxels},
      {"central_fraction", SearchParams{}.central_fraction},
      {"max_queries", options.max_queries},
      {"predicted_regions", options.predicted_regions ? Json(Json::object({{"k", PredictOptions{}.k},
                                                                          {"tau", PredictOptions{}.tau},
                                                                          {"smooth", PredictOptions{}.smooth},
                                                                          {"threshold", PredictOptions{}.threshold}}))
                                                      : Json(false)},
      {"std", "population std over classes, sqrt(sum_c (r_c - mean)^2 / C), ddof 0"}};
  for (const auto& g : grans) report["config"]["granularities"].push_back(g.name);
  report["database_volumes"] = sources.size();
  report["query_volumes"] = query_subjects.size();
  report["label_set"] = {{"dataset_classes", check.dataset_classes},
                         {"exact_v1", check.exact_v1},
                         {"not_v1", check.not_v1},
                         {"v1_missing", check.v1_missing},
                         {"added", check.added},
                         {"dropped", check.dropped},
                         {"without_coarse", check.without_coarse},
                         {"warnings", summary.warnings}};
  Json classes = Json::object();
  for (std::size_t g = 0; g < grans.size(); ++g) {
    Json per = Json::object();
    for (std::size_t u = 0; u < grans[g].units.size(); ++u) {
      const int n = stats[g].query_volumes[u];
      per[grans[g].units[u]] = {{"db_volumes", stats[g].db_volumes[u]},
                                {"query_volumes", n},
                                {"mean_slices", n > 0 ? Json(stats[g].slices_sum[u] / n) : Json()},
                                {"mean_ml", n > 0 ? Json(stats[g].ml_sum[u] / n) : Json()}};
    }
    classes[grans[g].name] = per;
  }
  report["classes"] = classes;
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
