// Benchmark: index build and region search on random-but-clustered slice vectors.
//
// Default: 3000 volumes x 100 slices = 300,000 vectors of d = 384 (60 clusters of 50 volumes;
// the volumes of a cluster follow one smooth random walk, each with its own offset and jitter),
// queries = 100-slice regions of indexed volumes with noise (a re-scan), k = 10, MaxSim re-rank of
// the top 50. For Flat, HNSW and IVF-PQ it prints build time, bytes per vector, p50/p95 latency of
// every search stage, and the candidate stage's recall@k against exact search; and exact search
// against a bare Faiss IndexFlatIP batch search of the same vectors. Aims (2-core machine): HNSW
// p95 < 100 ms end to end, rerank < 30 ms, exact within 1.5x of bare Faiss.
//
// Usage: voxir_bench_search [--volumes N] [--slices N] [--dim D] [--clusters C] [--queries Q]
//          [--spread S] [--jitter J] [--noise N] [--k K] [--rerank N] [--specs
//          "Flat;HNSW32;IVF1024,PQ48"] [--dir DIR] [--json FILE]
// Smoke test: voxir_bench_search --volumes 200 --slices 50 --dim 64 --queries 5
//   --specs "Flat;HNSW16;IVF64,PQ16"
#include "testutil/queries.h"
#include "testutil/vectors.h"
#include "voxir/index.h"
#include "voxir/search.h"

#include <faiss/IndexFlat.h>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  int volumes = 3000, slices = 100, dim = 384, clusters = 60, queries = 30, k = 10, rerank = 50;
  double spread = 0.5, jitter = 0.2, noise = 0.3;
  std::string specs = "Flat;HNSW32;IVF1024,PQ48";
  std::string dir = "/tmp/voxir_search_bench";
  std::string json;
};

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(
      std::min<double>(double(v.size()) - 1, std::ceil(p * double(v.size())) - 1));
  return v[i];
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (const char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

Config parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--volumes")
      c.volumes = std::stoi(v);
    else if (a == "--slices")
      c.slices = std::stoi(v);
    else if (a == "--dim")
      c.dim = std::stoi(v);
    else if (a == "--clusters")
      c.clusters = std::stoi(v);
    else if (a == "--queries")
      c.queries = std::stoi(v);
    else if (a == "--spread")
      c.spread = std::stod(v);
    else if (a == "--jitter")
      c.jitter = std::stod(v);
    else if (a == "--noise")
      c.noise = std::stod(v);
    else if (a == "--k")
      c.k = std::stoi(v);
    else if (a == "--rerank")
      c.rerank = std::stoi(v);
    else if (a == "--specs")
      c.specs = v;
    else if (a == "--dir")
      c.dir = v;
    else if (a == "--json")
      c.json = v;
    else {
      fmt::print(stderr, "unknown option {}\n", a);
      std::exit(2);
    }
  }
  return c;
}

struct StageTimes {
  std::vector<double> candidates, aggregate, rerank, localize, total;
  void add(const voxir::SearchTimings& t) {
    candidates.push_back(t.candidates_ms);
    aggregate.push_back(t.aggregate_ms);
    rerank.push_back(t.rerank_ms);
    localize.push_back(t.localize_ms);
    total.push_back(t.total_ms);
  }
};

nlohmann::ordered_json pct(const std::vector<double>& v) {
  return {{"p50", percentile(v, 0.5)}, {"p95", percentile(v, 0.95)}};
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = parse(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines as they come, also into a file
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  const char* l2 = std::getenv("OPENBLAS_L2_SIZE");
  const char* omp = std::getenv("OMP_NUM_THREADS");
  fmt::print(
      "search bench: {} volumes x {} slices = {} vectors, d {}, {} clusters; {} queries of {} "
      "slices, k {}, "
      "rerank {}; {} usable CPUs; OPENBLAS_CORETYPE={} OPENBLAS_L2_SIZE={} OMP_NUM_THREADS={}\n",
      cfg.volumes, cfg.slices, std::int64_t{cfg.volumes} * cfg.slices, cfg.dim, cfg.clusters,
      cfg.queries, cfg.slices, cfg.k, cfg.rerank, usable_cpus(), coretype ? coretype : "(unset)",
      l2 ? l2 : "(unset)", omp ? omp : "(unset)");

  auto t = Clock::now();
  // The volumes after the first cfg.volumes are the queries: new patients, not in the index
  // (docs/method.md §4), whose slices find neighbours in the other volumes of their cluster.
  auto set = voxir::testing::clustered_set({.volumes = cfg.volumes + cfg.queries + 2,
                                            .slices = cfg.slices,
                                            .dim = cfg.dim,
                                            .clusters = cfg.clusters,
                                            .spread = cfg.spread,
                                            .step = 0.15,
                                            .seed = 7,
                                            .shared_trajectory = true,
                                            .jitter = cfg.jitter});
  std::vector<voxir::VolumeVectors> query_set(set.begin() + cfg.volumes, set.end());
  set.resize(static_cast<std::size_t>(cfg.volumes));
  const std::vector<float> all = voxir::testing::all_rows(set);
  fmt::print("generated vectors in {:.1f} s\n", ms_since(t) / 1000);

  // Queries: whole 100-slice volumes (the region) with noise; the first 2 are warm-ups.
  std::vector<std::vector<float>> queries;
  std::vector<int> query_cluster;
  for (int q = 0; q < cfg.queries + 2; ++q) {
    auto x = query_set[static_cast<std::size_t>(q)].vectors;
    voxir::testing::perturb(x, cfg.dim, cfg.noise, static_cast<std::uint32_t>(q));
    queries.push_back(std::move(x));
    query_cluster.push_back((cfg.volumes + q) % cfg.clusters);
  }
  const std::int64_t n = cfg.slices;
  const voxir::EmbedderIdentity identity{"bench:clustered", "bench-clustered;seed=7", cfg.dim};

  nlohmann::ordered_json report;
  report["config"] = {{"spread", cfg.spread},
                      {"jitter", cfg.jitter},
                      {"noise", cfg.noise},
                      {"volumes", cfg.volumes},
                      {"slices", cfg.slices},
                      {"dim", cfg.dim},
                      {"clusters", cfg.clusters},
                      {"queries", cfg.queries},
                      {"k", cfg.k},
                      {"rerank", cfg.rerank},
                      {"usable_cpus", usable_cpus()},
                      {"OPENBLAS_CORETYPE", coretype ? coretype : ""},
                      {"OMP_NUM_THREADS", omp ? omp : ""}};

  // Bare Faiss: IndexFlatIP holding the same vectors, one batch search per query region.
  std::vector<double> bare;
  {
    faiss::IndexFlatIP flat(cfg.dim);
    flat.add(static_cast<faiss::Index::idx_t>(all.size() / static_cast<std::size_t>(cfg.dim)),
             all.data());
    std::vector<float> d(static_cast<std::size_t>(n * cfg.k));
    std::vector<faiss::Index::idx_t> ids(d.size());
    for (std::size_t q = 0; q < queries.size(); ++q) {
      t = Clock::now();
      flat.search(n, queries[q].data(), cfg.k, d.data(), ids.data());
      if (q >= 2) bare.push_back(ms_since(t));
    }
  }
  fmt::print("bare faiss IndexFlatIP batch search ({} x {}): p50 {:.1f} ms, p95 {:.1f} ms\n", n,
             all.size() / static_cast<std::size_t>(cfg.dim), percentile(bare, 0.5),
             percentile(bare, 0.95));
  report["bare_faiss_flat_ms"] = pct(bare);

  std::vector<std::vector<std::int64_t>> exact_ids;  // per query, from the first (Flat) spec
  nlohmann::ordered_json runs = nlohmann::ordered_json::array();
  for (const auto& spec_text : split(cfg.specs, ';')) {
    const auto spec = voxir::IndexSpec::parse(spec_text);
    const auto dir = std::filesystem::path(cfg.dir) / spec.str();
    std::filesystem::remove_all(dir);
    t = Clock::now();
    voxir::write_generation(dir, true, spec, identity, set, {}, {});
    const double build_s = ms_since(t) / 1000;
    const auto index = voxir::Index::open(dir);
    std::uint64_t bytes = 0, ann_bytes = 0;
    for (const auto& [name, size] : index->file_sizes()) {
      bytes += size;
      if (name.rfind("ann.", 0) == 0) ann_bytes = size;
    }
    const double per_vector = double(bytes) / double(index->num_vectors());

    voxir::SearchParams params;
    params.k = cfg.k;
    params.rerank_n = cfg.rerank;
    StageTimes times;
    double recall_sum = 0;
    int top1_same = 0;
    double candidate_volumes = 0;
    for (std::size_t q = 0; q < queries.size(); ++q) {
      const auto answer = voxir::testing::search_vectors(*index, queries[q], 0, params);
      if (q < 2) continue;
      times.add(answer.timings);
      if (!answer.results.empty() &&
          std::stoi(answer.results[0].volume.substr(1)) % cfg.clusters == query_cluster[q]) {
        ++top1_same;
      }
      {
        voxir::SearchParams all_votes = params;
        all_votes.rerank = false;
        all_votes.top = 1 << 30;
        candidate_volumes +=
            double(voxir::testing::search_vectors(*index, queries[q], 0, all_votes).results.size()) / cfg.queries;
      }
      // Candidate-stage recall@k against exact search of the same query slices.
      std::vector<std::int64_t> ids(static_cast<std::size_t>(n * cfg.k));
      std::vector<float> sims(ids.size());
      index->search(queries[q], n, cfg.k, {}, ids, sims);
      if (spec.type == voxir::IndexSpec::Type::kFlat) {
        exact_ids.resize(queries.size());
        exact_ids[q] = ids;
      }
      if (exact_ids.size() == queries.size() && !exact_ids[q].empty()) {
        std::size_t found = 0;
        for (std::int64_t i = 0; i < n; ++i) {
          const std::set<std::int64_t> truth(exact_ids[q].begin() + i * cfg.k,
                                             exact_ids[q].begin() + (i + 1) * cfg.k);
          for (int r = 0; r < cfg.k; ++r)
            found += truth.count(ids[static_cast<std::size_t>(i * cfg.k + r)]);
        }
        recall_sum += double(found) / double(n * cfg.k);
      }
    }
    const double recall = exact_ids.empty() ? -1 : recall_sum / cfg.queries;
    fmt::print(
        "\n{}: build {:.1f} s, {:.0f} bytes/vector ({:.0f} of them the search structure), "
        "recall@{} vs exact "
        "{:.4f}, top-1 in the query's cluster {}/{}, {:.0f} volumes get votes\n",
        spec.str(), build_s, per_vector, double(ann_bytes) / double(index->num_vectors()), cfg.k,
        recall, top1_same, cfg.queries, candidate_volumes);
    fmt::print("  {:<11} {:>9} {:>9}\n", "stage (ms)", "p50", "p95");
    const std::pair<const char*, const std::vector<double>*> stages[] = {
        {"candidates", &times.candidates},
        {"aggregate", &times.aggregate},
        {"rerank", &times.rerank},
        {"localize", &times.localize},
        {"total", &times.total}};
    nlohmann::ordered_json stage_json;
    for (const auto& [name, v] : stages) {
      fmt::print("  {:<11} {:>9.2f} {:>9.2f}\n", name, percentile(*v, 0.5), percentile(*v, 0.95));
      stage_json[name] = pct(*v);
    }
    if (spec.type == voxir::IndexSpec::Type::kFlat) {
      fmt::print("  exact candidates / bare faiss (p50): {:.2f}x\n",
                 percentile(times.candidates, 0.5) / percentile(bare, 0.5));
    }
    // Recall / latency trade-off of the candidate stage under per-query knobs (AnnParams).
    nlohmann::ordered_json sweep = nlohmann::ordered_json::array();
    std::vector<voxir::AnnParams> knobs;
    if (spec.type == voxir::IndexSpec::Type::kHnsw) {
      for (const int ef : {16, 32, 64, 128, 256}) knobs.push_back({.ef_search = ef});
    } else if (spec.type == voxir::IndexSpec::Type::kIvfPq) {
      for (const int np : {16, 32, 128}) {
        for (const int rf : {1, 10, 50}) knobs.push_back({.nprobe = np, .refine = rf});
      }
    }
    for (const auto& ann : knobs) {
      if (exact_ids.size() != queries.size()) break;
      std::vector<double> ms;
      double rsum = 0;
      for (std::size_t q = 2; q < queries.size(); ++q) {
        std::vector<std::int64_t> ids(static_cast<std::size_t>(n * cfg.k));
        std::vector<float> sims(ids.size());
        const auto t0 = Clock::now();
        index->search(queries[q], n, cfg.k, ann, ids, sims);
        ms.push_back(ms_since(t0));
        std::size_t found = 0;
        for (std::int64_t i = 0; i < n; ++i) {
          const std::set<std::int64_t> truth(exact_ids[q].begin() + i * cfg.k,
                                             exact_ids[q].begin() + (i + 1) * cfg.k);
          for (int r = 0; r < cfg.k; ++r)
            found += truth.count(ids[static_cast<std::size_t>(i * cfg.k + r)]);
        }
        rsum += double(found) / double(n * cfg.k);
      }
      fmt::print("  candidates with ef {} nprobe {} refine {}: recall@{} {:.4f}, p50 {:.2f} ms\n",
                 ann.ef_search, ann.nprobe, ann.refine, cfg.k, rsum / cfg.queries,
                 percentile(ms, 0.5));
      sweep.push_back({{"ef_search", ann.ef_search},
                       {"nprobe", ann.nprobe},
                       {"refine", ann.refine},
                       {"recall_at_k", rsum / cfg.queries},
                       {"candidates_p50_ms", percentile(ms, 0.5)}});
    }
    runs.push_back({{"spec", spec.str()},
                    {"sweep", sweep},
                    {"build_s", build_s},
                    {"bytes_per_vector", per_vector},
                    {"ann_bytes_per_vector", double(ann_bytes) / double(index->num_vectors())},
                    {"recall_at_k", recall},
                    {"top1_in_cluster", top1_same},
                    {"voted_volumes", candidate_volumes},
                    {"stages_ms", stage_json}});
    std::filesystem::remove_all(dir);
  }
  report["runs"] = runs;
  if (!cfg.json.empty()) std::ofstream(cfg.json) << report.dump(2) << "\n";
  return 0;
}
