// Predicted anatomy (voxir/predict.h): extents learnt from labelled indexed slices, and region
// queries without labels that use them.
#include "voxir/predict.h"
#include "testutil/temp_dir.h"
#include "voxir/error.h"
#include "voxir/index.h"
#include "voxir/labels.h"
#include "voxir/search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace voxir {
namespace {

using testing::TempDir;
using Range = std::array<std::int64_t, 2>;

constexpr int kDim = 32;
const EmbedderIdentity kIdentity{"fake:vectors", "fake-vectors;v=1", kDim};

// A body of `slices` slices whose vectors encode the height z in [0, 1] (smooth in z, so
// neighbouring heights are most similar), with per-volume noise. Anatomy sits at fixed heights:
// liver on z in [0.25, 0.5], L3 on [0.6, 0.7].
struct Body {
  std::vector<float> vectors;
  Range liver, l3;
};

Body make_body(std::int64_t slices, double z0, double z1, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, 0.02);
  Body b;
  b.liver = {-1, -1};
  b.l3 = {-1, -1};
  for (std::int64_t k = 0; k < slices; ++k) {
    const double z = z0 + (z1 - z0) * static_cast<double>(k) / static_cast<double>(slices - 1);
    std::vector<double> v(kDim);
    double norm = 0;
    for (int c = 0; c < kDim; ++c) {
      v[static_cast<std::size_t>(c)] =
          std::cos(3.0 * (c / 2 + 1) * z + (c % 2) * 1.5707963) + noise(rng);
      norm += v[static_cast<std::size_t>(c)] * v[static_cast<std::size_t>(c)];
    }
    for (const double x : v) b.vectors.push_back(static_cast<float>(x / std::sqrt(norm)));
    const auto mark = [&](Range& r, double a, double e) {
      if (z < a || z > e) return;
      if (r[0] < 0) r[0] = k;
      r[1] = k;
    };
    mark(b.liver, 0.25, 0.5);
    mark(b.l3, 0.6, 0.7);
  }
  return b;
}

VolumeVectors to_indexed(const Body& b, const std::string& id, bool labelled) {
  const ClassCatalog& cat = ClassCatalog::builtin();
  VolumeVectors v;
  const auto n = static_cast<std::int64_t>(b.vectors.size() / kDim);
  v.volume.id = id;
  v.volume.source = id + ".nii.gz";
  v.volume.dims = {8, 8, n};
  v.volume.num_slices = n;
  v.vectors = b.vectors;
  if (!labelled) return v;
  v.presence_bytes = static_cast<int>((cat.classes().size() + 7) / 8);
  v.presence.assign(static_cast<std::size_t>(n * v.presence_bytes), 0);
  for (const auto& [name, r] : {std::pair{"liver", b.liver}, std::pair{"vertebrae_L3", b.l3}}) {
    const int c = cat.at(name).index;
    for (std::int64_t k = r[0]; k <= r[1] && k >= 0; ++k)
      v.presence[static_cast<std::size_t>(k * v.presence_bytes + c / 8)] |=
          static_cast<std::uint8_t>(1 << (c % 8));
  }
  return v;
}

double iou(Range a, Range b) {
  const double shared = static_cast<double>(std::min(a[1], b[1]) - std::max(a[0], b[0]) + 1);
  const double either = static_cast<double>(std::max(a[1], b[1]) - std::min(a[0], b[0]) + 1);
  return shared <= 0 ? 0 : shared / either;
}

// 12 labelled bodies of various lengths and fields of view, one labelled body ending below L3
// ("short"), one unlabelled ("plain").
std::unique_ptr<Index> make_index(const std::filesystem::path& dir, bool labelled = true) {
  std::vector<VolumeVectors> set;
  for (int i = 0; i < 12; ++i) {
    const Body b = make_body(40 + 3 * i, 0.05 * (i % 3), 0.9 + 0.03 * (i % 4), 100 + i);
    set.push_back(to_indexed(b, fmt::format("db{:02d}", i), labelled));
  }
  set.push_back(to_indexed(make_body(30, 0.0, 0.45, 8), "short", labelled));
  set.push_back(to_indexed(make_body(50, 0.1, 0.95, 7), "plain", false));
  write_generation(dir, true, IndexSpec::parse("faiss:Flat"), kIdentity, set, {}, {});
  return Index::open(dir);
}

TEST(PredictAnatomy, ExtentsMatchTheTruthOfAnUnseenBody) {
  TempDir tmp;
  const auto index = make_index(tmp.path());
  const AnatomyPredictor predictor(*index);
  EXPECT_EQ(predictor.labelled_volumes(), 13u);
  const ClassCatalog& cat = ClassCatalog::builtin();
  // Another field of view and slice count than any indexed body.
  const Body query = make_body(57, 0.15, 0.85, 999);
  const AnatomyPrediction p = predictor.predict(query.vectors, 0, {});
  for (const auto& [name, truth] :
       {std::pair{"liver", query.liver}, std::pair{"vertebrae_L3", query.l3}}) {
    SCOPED_TRACE(name);
    const auto e = p.extent(cat.region(name));
    ASSERT_TRUE(e.has_value());
    EXPECT_GE(iou(e->slices, truth), 0.8)
        << e->slices[0] << ".." << e->slices[1] << " vs " << truth[0] << ".." << truth[1];
    EXPECT_GE(e->confidence, 0.5);
    EXPECT_LE(e->confidence, 1.0);
  }
  // The coarse region of L3 (vertebrae) has the same extent here.
  const auto v = p.extent(cat.region("vertebrae"));
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(cat.region("vertebrae").coarse);
  EXPECT_GE(iou(v->slices, query.l3), 0.8);
  // Absent anatomy is not predicted; the listing holds exactly what is.
  EXPECT_FALSE(p.extent(cat.region("brain")).has_value());
  ASSERT_EQ(p.extents(false).size(), 2u);
  EXPECT_EQ(p.extents(false)[0].region.name, "liver");
  // Absolute slice numbers follow first_slice.
  const AnatomyPrediction shifted = predictor.predict(query.vectors, 100, {});
  EXPECT_EQ(shifted.extent(cat.region("liver"))->slices[0],
            p.extent(cat.region("liver"))->slices[0] + 100);
}

TEST(PredictAnatomy, SlicesWithoutBodyVoteForNothing) {
  TempDir tmp;
  const auto index = make_index(tmp.path());
  const Body query = make_body(57, 0.15, 0.85, 999);
  std::vector<float> content(57, 5000.f);
  for (std::int64_t k = query.liver[0]; k <= query.liver[1]; ++k)
    content[static_cast<std::size_t>(k)] = 0;
  const auto p = AnatomyPredictor(*index).predict(query.vectors, 0, content);
  EXPECT_FALSE(p.extent(ClassCatalog::builtin().region("liver")).has_value());
}

TEST(PredictAnatomy, ClearErrors) {
  TempDir tmp;
  const auto unlabelled = make_index(tmp.path() / "plain", false);
  try {
    (void)AnatomyPredictor(*unlabelled);
    FAIL() << "an index without labels must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("has labels"), std::string::npos) << e.what();
  }
  const auto index = make_index(tmp.path() / "labelled");
  const AnatomyPredictor predictor(*index);
  EXPECT_THROW((void)predictor.predict(std::vector<float>(kDim + 1, 0.f), 0, {}), Error);
  PredictOptions bad;
  bad.threshold = 0;
  EXPECT_THROW((void)predictor.predict(make_body(40, 0, 1, 1).vectors, 0, {}, bad), Error);
}

TEST(PredictAnatomy, RegionQueryWithoutLabelsUsesThePredictedExtent) {
  TempDir tmp;
  const auto index = make_index(tmp.path());
  const Body query = make_body(57, 0.15, 0.85, 999);
  Query q;
  q.vectors = query.vectors;
  q.region = "liver";
  const SearchAnswer a = search(*index, q);
  EXPECT_EQ(a.query_region, "liver");
  EXPECT_TRUE(a.query_region_predicted);
  EXPECT_GE(a.query_region_confidence, 0.5);
  EXPECT_GE(iou(a.query_slices, query.liver), 0.8);
  ASSERT_FALSE(a.results.empty());
  // An indexed volume stored without labels: its region is predicted too, never from itself.
  Query indexed;
  indexed.indexed_id = "plain";
  indexed.region = "vertebrae_L3";
  indexed.exclude_self = true;
  const SearchAnswer b = search(*index, indexed);
  EXPECT_TRUE(b.query_region_predicted);
  EXPECT_GE(iou(b.query_slices, make_body(50, 0.1, 0.95, 7).l3), 0.8);
  // A labelled indexed volume keeps its stored extent.
  indexed.indexed_id = "db03";
  EXPECT_FALSE(search(*index, indexed).query_region_predicted);

  struct Bad {
    const char* region;
    ErrorKind kind;
    const char* says;
  };
  for (const Bad& bad : {Bad{"livr", ErrorKind::kNotFound, "liver"},
                         Bad{"brain", ErrorKind::kNotFound, "predicted on no slice"}}) {
    SCOPED_TRACE(bad.region);
    q.region = bad.region;
    try {
      (void)search(*index, q);
      FAIL() << "must throw";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), bad.kind);
      EXPECT_NE(std::string(e.what()).find(bad.says), std::string::npos) << e.what();
    }
  }
}

TEST(PredictAnatomy, RequireKeepsVolumesWithTheRegionAndResultsSayWhereItLies) {
  TempDir tmp;
  const auto index = make_index(tmp.path());
  const Body query = make_body(30, 0.0, 0.45, 31);  // like "short": it ranks high
  Query q;
  q.vectors = query.vectors;
  q.params.top = 20;
  const auto ids = [](const SearchAnswer& a) {
    std::vector<std::string> out;
    for (const auto& r : a.results) out.push_back(r.volume);
    return out;
  };
  const auto all = ids(search(*index, q));
  ASSERT_NE(std::find(all.begin(), all.end(), "short"), all.end());
  ASSERT_NE(std::find(all.begin(), all.end(), "plain"), all.end());
  q.params.require = "vertebrae_L3";
  const SearchAnswer a = search(*index, q);
  const auto kept = ids(a);
  EXPECT_EQ(std::find(kept.begin(), kept.end(), "short"), kept.end());
  EXPECT_EQ(kept.size(), all.size() - 1);
  for (const auto& r : a.results) {
    SCOPED_TRACE(r.volume);
    EXPECT_GE(r.region[0], 0);
    EXPECT_EQ(r.region_predicted, r.volume == "plain");
    if (r.volume == "plain") {
      EXPECT_GE(iou(r.region, make_body(50, 0.1, 0.95, 7).l3), 0.8);
    }
  }
  q.params.require = "vertebrae_L33";
  EXPECT_THROW((void)search(*index, q), Error);
}

}  // namespace
}  // namespace voxir
