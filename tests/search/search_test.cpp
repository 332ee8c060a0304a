// The searcher's stages: MaxSim re-ranking against an independent brute force, vote modes,
// localization, and a database volume's own region retrieving it.
#include "voxir/search.h"
#include "testutil/fake_embedder.h"
#include "testutil/phantoms.h"
#include "testutil/shared_data.h"
#include "testutil/queries.h"
#include "testutil/temp_dir.h"
#include "testutil/vectors.h"
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/labels.h"
#include "voxir/volume.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <random>

namespace voxir {
namespace {

using testing::Phantom;
using testing::TempDir;
using testing::write_phantom;

const EmbedderIdentity kIdentity{"fake:vectors", "fake-vectors;v=1", 32};

using testing::search_slices;
using testing::search_vectors;

TEST(CentralRange, DropsTenPercentAtEachEnd) {
  struct Case {
    std::vector<std::int64_t> slices;
    double fraction;
    std::array<std::int64_t, 2> want;
  };
  const Case cases[] = {
      {{}, 0.8, {-1, -1}},
      {{7}, 0.8, {7, 7}},
      {{5, 1, 3}, 0.8, {1, 5}},  // 10% of 3 rounds down to nothing
      {{0, 10, 11, 12, 13, 14, 15, 16, 17, 90}, 0.8, {10, 17}},
      {{0, 10, 11, 12, 13, 14, 15, 16, 17, 90}, 1.0, {0, 90}},
      {{4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4}, 0.5, {4, 4}},
  };
  for (const auto& c : cases) EXPECT_EQ(central_range(c.slices, c.fraction), c.want);
}

TEST(SearchParams, ValidateNamesTheBadKnob) {
  SearchParams p;
  p.k = 0;
  EXPECT_THROW(p.validate(), Error);
  p = {};
  p.rerank_n = 0;
  EXPECT_THROW(p.validate(), Error);
  p.rerank = false;
  EXPECT_NO_THROW(p.validate());
  p.central_fraction = 1.5;
  EXPECT_THROW(p.validate(), Error);
  EXPECT_EQ(parse_vote_mode("sum"), VoteMode::kSum);
  EXPECT_THROW((void)parse_vote_mode("freq"), Error);
}

// Independent MaxSim: double-precision loops over the test's own copy of the vectors.
double brute_maxsim(const std::vector<float>& q, const std::vector<float>& v, int dim,
                    std::vector<std::int64_t>& arg) {
  const auto d = static_cast<std::size_t>(dim);
  const std::size_t n = q.size() / d, m = v.size() / d;
  double total = 0;
  arg.assign(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    double best = -1e9;
    for (std::size_t j = 0; j < m; ++j) {
      double dot = 0;
      for (std::size_t c = 0; c < d; ++c) dot += double(q[i * d + c]) * v[j * d + c];
      if (dot > best) best = dot, arg[i] = static_cast<std::int64_t>(j);
    }
    total += best;
  }
  return total / double(n);
}

TEST(Search, RerankScoresEqualBruteForceMaxSim) {
  TempDir tmp;
  const auto set = testing::clustered_set({.volumes = 80, .slices = 40, .clusters = 4});
  write_generation(tmp.path(), true, IndexSpec::parse("Flat"), kIdentity, set, {}, {});
  const auto index = Index::open(tmp.path());
  // Query: slices 10..29 of v0013, re-scanned (noise).
  std::vector<float> query(set[13].vectors.begin() + 10 * 32, set[13].vectors.begin() + 30 * 32);
  testing::perturb(query, 32, 0.2, 7);
  SearchParams params;
  params.k = 100;  // a volume's own neighbouring slices take the first places: fetch deep
  params.rerank_n = 20;
  params.top = 20;
  const auto answer = search_vectors(*index, query, 10, params);
  ASSERT_GE(answer.results.size(), 10u);
  EXPECT_EQ(answer.results[0].volume, "v0013");
  EXPECT_EQ(answer.query_slices, (std::array<std::int64_t, 2>{10, 29}));
  for (std::size_t r = 0; r < answer.results.size(); ++r) {
    const auto& res = answer.results[r];
    SCOPED_TRACE(res.volume);
    const auto& vec = set[static_cast<std::size_t>(std::stoi(res.volume.substr(1)))].vectors;
    std::vector<std::int64_t> arg;
    const double want = brute_maxsim(query, vec, 32, arg);
    EXPECT_NEAR(res.score, want, 1e-5);
    ASSERT_EQ(res.alignment.size(), 20u);
    for (std::size_t i = 0; i < 20; ++i) {
      EXPECT_EQ(res.alignment[i].query_slice, 10 + static_cast<std::int64_t>(i));
      EXPECT_EQ(res.alignment[i].volume_slice, arg[i]);
    }
    if (r > 0) {
      EXPECT_LE(res.score, answer.results[r - 1].score);
    }
  }
  // The query came from slices 10..29: the alignment localizes it there.
  EXPECT_GE(answer.results[0].location[0], 8);
  EXPECT_LE(answer.results[0].location[1], 31);

  // With every volume a candidate, re-ranking is the exact MaxSim ranking of the whole index.
  std::vector<std::pair<double, std::string>> brute;
  for (const auto& v : set) {
    std::vector<std::int64_t> arg;
    brute.emplace_back(brute_maxsim(query, v.vectors, 32, arg), v.volume.id);
  }
  std::sort(brute.begin(), brute.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  params.k = 80 * 40;
  params.rerank_n = 80;
  const auto all = search_vectors(*index, query, 10, params);
  ASSERT_EQ(all.results.size(), 20u);
  for (std::size_t r = 0; r < 20; ++r) {
    EXPECT_EQ(all.results[r].volume, brute[r].second) << "rank " << r + 1;
    EXPECT_NEAR(all.results[r].score, brute[r].first, 1e-5) << "rank " << r + 1;
  }
}

TEST(Search, VoteModesAndExclusionWithoutRerank) {
  TempDir tmp;
  const auto set = testing::clustered_set({.volumes = 50, .slices = 30, .clusters = 5});
  write_generation(tmp.path(), true, IndexSpec::parse("Flat"), kIdentity, set, {}, {});
  const auto index = Index::open(tmp.path());
  const std::vector<float> query(set[7].vectors.begin() + 5 * 32, set[7].vectors.begin() + 25 * 32);
  for (const auto mode : {VoteMode::kCount, VoteMode::kSum, VoteMode::kMax}) {
    SCOPED_TRACE(to_string(mode));
    SearchParams params;
    params.rerank = false;
    params.mode = mode;
    params.top = 5;
    auto answer = search_vectors(*index, query, 5, params);
    ASSERT_FALSE(answer.results.empty());
    const auto& first = answer.results[0];
    EXPECT_EQ(first.volume, "v0007");
    EXPECT_EQ(static_cast<std::size_t>(first.votes), first.alignment.size());
    if (mode == VoteMode::kCount) {
      EXPECT_DOUBLE_EQ(first.score, first.votes);
    }
    if (mode == VoteMode::kMax) {
      EXPECT_NEAR(first.score, 1.0, 1e-5);  // its own slices are in the index
    }
    EXPECT_GE(first.location[0], 5);  // retrieved slices are its own 5..24 (and neighbours)
    EXPECT_LE(first.location[1], 24);
    params.exclude = {"v0007"};
    answer = search_vectors(*index, query, 5, params);
    for (const auto& r : answer.results) EXPECT_NE(r.volume, "v0007");
    // Without itself, the best volume is another of its cluster (v0002, v0012, ...: v % 5 == 2).
    ASSERT_FALSE(answer.results.empty());
    EXPECT_EQ(std::stoi(answer.results[0].volume.substr(1)) % 5, 2) << answer.results[0].volume;
  }
}

TEST(Search, OwnRegionRetrievesTheVolumeWithLocationInsideTheRegion) {
  TempDir tmp;
  std::vector<Phantom> phantoms;
  std::vector<std::filesystem::path> paths;
  for (int s = 0; s < 12; ++s) {
    const auto dir = tmp / fmt::format("p{:02d}", s);
    std::filesystem::create_directories(dir);
    phantoms.push_back(write_phantom(dir / "ct.nii.gz", s));
    paths.push_back(phantoms.back().path);
  }
  const testing::FakeEmbedder embedder(8);
  BuildOptions options;
  options.index = IndexSpec::parse("HNSW16");
  const auto sources = sources_from_paths(paths);
  ASSERT_EQ(sources[3].id, "p03");
  const auto report = build_index(tmp / "index", sources, embedder, options);
  EXPECT_EQ(report.volumes_added, 12u);
  EXPECT_TRUE(report.skipped.empty());
  const auto index = Index::open(tmp / "index");
  for (const int q : {3, 8}) {
    SCOPED_TRACE(q);
    const auto& ph = phantoms[static_cast<std::size_t>(q)];
    const Volume volume = read_volume(ph.path);
    for (const bool rerank : {true, false}) {
      SearchParams params;
      params.rerank = rerank;
      const auto answer = search_slices(*index, embedder, volume, {ph.organ0, ph.organ1}, params);
      ASSERT_FALSE(answer.results.empty());
      const auto& first = answer.results[0];
      EXPECT_EQ(first.volume, fmt::format("p{:02d}", q));
      EXPECT_EQ(first.path, ph.path.string());
      // With re-ranking each query slice aligns to itself; without, the retrieved slices also
      // include each slice's neighbours, so the range may reach a few slices past the region.
      const std::int64_t slack = rerank ? 0 : 4;
      EXPECT_GE(first.location[0], ph.organ0 - slack);
      EXPECT_LE(first.location[1], ph.organ1 + slack);
      // Every query slice shows a body (the test phantoms' bodies are 250-530 mm²): all took part.
      EXPECT_EQ(answer.query_slices_used, ph.organ1 - ph.organ0 + 1);
      SearchParams exclude = params;
      exclude.exclude = {first.volume};
      const auto others = search_slices(*index, embedder, volume, {ph.organ0, ph.organ1}, exclude);
      ASSERT_FALSE(others.results.empty());
      EXPECT_NE(others.results[0].volume, first.volume);
    }
  }
  // A query embedded differently is refused, naming the differing part.
  const testing::FakeEmbedder other(8, "-500..500");
  const Volume volume = read_volume(phantoms[0].path);
  try {
    (void)search_slices(*index, other, volume, {0, 5}, {});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("window=-500..500"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)search_slices(*index, embedder, volume, {5, 500}, {}), Error);
}

TEST(Search, UnreadableVolumesAreSkippedNotHalfAdded) {
  TempDir tmp;
  std::vector<std::filesystem::path> paths;
  for (int s = 0; s < 3; ++s) {
    paths.push_back(tmp / fmt::format("good{}.nii.gz", s));
    write_phantom(paths.back(), s);
  }
  paths.insert(paths.begin() + 1, tmp / "broken.nii.gz");
  std::ofstream(paths[1]) << "not a nifti file";
  const testing::FakeEmbedder embedder(8);
  BuildOptions options;
  std::vector<std::string> seen;
  options.progress = [&](const BuildProgress& p) {
    if (p.stage == "embedding") seen.push_back(p.current);
  };
  const auto report = build_index(tmp / "index", sources_from_paths(paths), embedder, options);
  EXPECT_EQ(report.volumes_added, 3u);
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_NE(report.skipped[0].first.find("broken.nii.gz"), std::string::npos);
  EXPECT_EQ(seen.size(), 4u);
  const auto index = Index::open(tmp / "index");
  EXPECT_EQ(index->volumes().size(), 3u);
  EXPECT_EQ(index->find("broken"), nullptr);
  // Adding only broken volumes fails and leaves the index as it was.
  const std::vector<std::filesystem::path> broken{paths[1]};
  EXPECT_THROW(add_to_index(tmp / "index", sources_from_paths(broken), embedder, {}), Error);
  EXPECT_EQ(Index::open(tmp / "index")->volumes().size(), 3u);
  // Adding with another embedder is refused.
  EXPECT_THROW(add_to_index(tmp / "index", sources_from_paths(paths), testing::FakeEmbedder(4), {}),
               Error);
}

// Counts the slices it embeds, to see which builds re-embed.
class CountingEmbedder final : public Embedder {
 public:
  [[nodiscard]] std::string spec() const override { return inner_.spec(); }
  [[nodiscard]] std::string fingerprint() const override { return inner_.fingerprint(); }
  [[nodiscard]] int dim() const override { return inner_.dim(); }
  void embed(const Volume& volume, std::int64_t k0, std::int64_t k1, std::span<float> out) const override {
    slices += k1 - k0;
    inner_.embed(volume, k0, k1, out);
  }
  mutable std::atomic<std::int64_t> slices{0};

 private:
  testing::FakeEmbedder inner_{8};
};

TEST(Search, RebuildingWithAnotherIndexSpecReusesCachedEmbeddings) {
  TempDir tmp;
  std::vector<std::filesystem::path> paths;
  for (int s = 0; s < 3; ++s) {
    paths.push_back(tmp / fmt::format("p{}.nii.gz", s));
    write_phantom(paths.back(), s);
  }
  const CountingEmbedder embedder;
  BuildOptions options;
  options.embedding_cache = tmp / "cache";
  options.index = IndexSpec::parse("Flat");
  const auto first = build_index(tmp / "index", sources_from_paths(paths), embedder, options);
  EXPECT_EQ(embedder.slices.load(), first.slices_added);
  EXPECT_EQ(first.from_cache, 0);
  options.index = IndexSpec::parse("HNSW16");
  const auto second = build_index(tmp / "index", sources_from_paths(paths), embedder, options);
  EXPECT_EQ(embedder.slices.load(), first.slices_added) << "the second build re-embedded";
  EXPECT_EQ(second.from_cache, 3);
  const auto cached = Index::open(tmp / "index");
  EXPECT_EQ(cached->spec().type, IndexSpec::Type::kHnsw);
  // Without the cache every build embeds again, and gives the same vectors.
  options.embedding_cache.clear();
  EXPECT_EQ(build_index(tmp / "plain", sources_from_paths(paths), embedder, options).from_cache, 0);
  EXPECT_EQ(embedder.slices.load(), 2 * first.slices_added);
  const auto plain = Index::open(tmp / "plain");
  ASSERT_EQ(plain->vectors().size(), cached->vectors().size());
  EXPECT_TRUE(std::equal(plain->vectors().begin(), plain->vectors().end(), cached->vectors().begin()));
}

constexpr const char* kBuiltinEmbedder = "builtin";

// docs/method.md §3 on real data: the liver region of the DICOM abdomen, searched in an index of the real
// samples plus phantoms, finds ts-mini/s0001 at its liver (slices 70..111).
TEST(Search, RealLiverRegionFindsTsMini) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const std::unique_ptr<Embedder> embedder = make_embedder(kBuiltinEmbedder);
  TempDir tmp;
  std::vector<std::filesystem::path> paths{data / "ct/ts-mini",
                                           data / "ct/ts-thorax-cta/aorta/ct_cropped.nii.gz",
                                           data / "ct/ts-thorax-cta/pulmonary/ct_cropped.nii.gz"};
  for (int s = 0; s < 6; ++s) {
    paths.push_back(tmp / fmt::format("phantom{}.nii.gz", s));
    write_phantom(paths.back(), s);
  }
  BuildOptions options;
  options.index = IndexSpec::parse("Flat");
  const auto report = build_index(tmp / "index", sources_from_paths(paths), *embedder, options);
  // The 32 mm test phantoms are narrower than the built-in embedder's opening (2 pixels of 4 mm):
  // it sees no body on any of their slices, so they are refused rather than indexed as air.
  EXPECT_EQ(report.skipped.size(), 6u);
  for (const auto& [path, why] : report.skipped) {
    EXPECT_NE(path.find("phantom"), std::string::npos) << path;
    EXPECT_NE(why.find("no slice shows a body"), std::string::npos) << why;
  }
  const auto index = Index::open(tmp / "index");
  ASSERT_NE(index->find("s0001"), nullptr);

  const auto query_dir = data / "ct/ts-dicom-abdomen";
  const Volume query = read_volume(query_dir / "dicom");
  const SliceLabels labels = read_labels(query_dir / "example_seg_dicom_v2.nii.gz", query);
  const auto liver = labels.extent(ClassCatalog::builtin().at("liver").index);
  ASSERT_TRUE(liver.has_value());
  for (const bool rerank : {true, false}) {
    SCOPED_TRACE(rerank ? "rerank" : "votes");
    SearchParams params;
    params.rerank = rerank;
    const auto answer = search_slices(*index, *embedder, query, *liver, params);
    ASSERT_FALSE(answer.results.empty());
    EXPECT_EQ(answer.results[0].volume, "s0001");
    const auto location = answer.results[0].location;
    EXPECT_TRUE(location[0] <= 111 && location[1] >= 70) << location[0] << ".." << location[1];
  }
}

}  // namespace
}  // namespace voxir
