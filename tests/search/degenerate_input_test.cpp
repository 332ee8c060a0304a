// Degenerate input (issue 17): NaN voxels, slices without a body, non-finite vectors and 4-D files
// give clear answers, never perfect scores or silently stored garbage.
#include "testutil/dicom_files.h"
#include "testutil/fake_embedder.h"
#include "testutil/nifti_files.h"
#include "testutil/phantoms.h"
#include "testutil/queries.h"
#include "testutil/old_formats.h"
#include "testutil/temp_dir.h"
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/search.h"
#include "voxir/volume.h"


#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

namespace voxir {
namespace {

using testing::TempDir;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The error `fn` throws; fails the test when it throws none.
template <typename Fn>
Error error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error thrown";
  return Error(ErrorKind::kInternal, "no error");
}

bool contains(const Error& e, const std::string& text) {
  return std::string(e.what()).find(text) != std::string::npos;
}

// A float32 NIfTI of nx x ny x nz voxels whose value is value(i, j, k).
template <typename Fn>
std::filesystem::path write_float_volume(const std::filesystem::path& path, Dims dims, Fn value,
                                         std::int64_t frames = 1) {
  testing::RawNifti raw;
  raw.dims = dims;
  raw.datatype = 16;  // float32
  raw.frames = frames;
  for (std::int64_t t = 0; t < frames; ++t)
    for (std::int64_t k = 0; k < dims[2]; ++k)
      for (std::int64_t j = 0; j < dims[1]; ++j)
        for (std::int64_t i = 0; i < dims[0]; ++i) raw.values.push_back(value(i, j, k, t));
  testing::write_raw_nifti(path, raw);
  return path;
}

TEST(NonFinite, SlabIsCountedReplacedByAirAndLeftOutOfTheRange) {
  TempDir tmp;
  const auto path = write_float_volume(tmp / "slab.nii", {6, 5, 8}, [](auto i, auto, auto k, auto) {
    if (k >= 2 && k <= 3) return kNaN;                                     // a slab of 60 NaN
    if (k == 5 && i == 0) return std::numeric_limits<double>::infinity();  // and 5 Inf
    return 40.0 + static_cast<double>(k);
  });
  const Volume v = read_volume(path);
  EXPECT_EQ(v.nonfinite_voxels(), 2 * 30 + 5);
  EXPECT_EQ(v.hu_range(), (std::array<float, 2>{40, 47}));  // finite values only, not -1024
  for (const float h : v.hu()) ASSERT_TRUE(std::isfinite(h));
  EXPECT_EQ(v.at(3, 3, 2), kOutsideScanHu);
}

TEST(NonFinite, MostlyNonFiniteVolumeIsRefusedNamingFileAndCount) {
  TempDir tmp;
  struct Case {
    const char* name;
    int finite_slices;  // of 8
    bool refused;
  };
  for (const Case c : {Case{"all_nan.nii", 0, true}, Case{"most_nan.nii", 3, true},
                       Case{"half_nan.nii", 4, false}}) {
    const auto path = write_float_volume(tmp / c.name, {4, 4, 8}, [&](auto, auto, auto k, auto) {
      return k < c.finite_slices ? 0.0 : kNaN;
    });
    if (!c.refused) {
      EXPECT_EQ(read_volume(path).nonfinite_voxels(), 64) << c.name;
      continue;
    }
    const Error e = error_of([&] { (void)read_volume(path); });
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << c.name;
    EXPECT_TRUE(contains(e, c.name)) << e.what();
    EXPECT_TRUE(contains(e, fmt::format("{} of its 128 voxels", 16 * (8 - c.finite_slices))))
        << e.what();
  }
}

TEST(FourD, NiftiNeedsAFrameAndReadsTheOneAskedFor) {
  TempDir tmp;
  const auto path = write_float_volume(
      tmp / "phases.nii", {4, 3, 5},
      [](auto, auto, auto k, auto t) {
        return 100.0 * static_cast<double>(t) + static_cast<double>(k);
      },
      3);
  Error e = error_of([&] { (void)read_volume(path); });
  EXPECT_EQ(e.kind(), ErrorKind::kUsage);
  EXPECT_TRUE(contains(e, "--frame")) << e.what();
  EXPECT_TRUE(contains(e, "3 frames")) << e.what();
  for (std::int64_t t = 0; t < 3; ++t) {
    ReadOptions options;
    options.frame = t;
    const Volume v = read_volume(path, options);
    EXPECT_EQ(v.dims(), (Dims{4, 3, 5}));
    EXPECT_EQ(v.hu_range(), (std::array<float, 2>{100.0f * t, 100.0f * t + 4})) << t;
  }
  ReadOptions beyond;
  beyond.frame = 3;
  e = error_of([&] { (void)read_volume(path, beyond); });
  EXPECT_EQ(e.kind(), ErrorKind::kUsage);
  EXPECT_TRUE(contains(e, "0..2")) << e.what();
  // A 3-D file is frame 0 and only that.
  const auto flat = write_float_volume(tmp / "flat.nii", {4, 3, 5}, [](auto...) { return 1.0; });
  ReadOptions zero;
  zero.frame = 0;
  EXPECT_NO_THROW((void)read_volume(flat, zero));
  EXPECT_EQ(error_of([&] { (void)read_volume(flat, beyond); }).kind(), ErrorKind::kUsage);
}

TEST(FourD, MultiPhaseDicomSeriesIsSplitByTemporalPositionOrAcquisition) {
  for (const bool temporal : {true, false}) {
    TempDir dir;
    for (int phase = 0; phase < 2; ++phase) {
      for (int k = 0; k < 3; ++k) {
        testing::DicomSlice s;
        s.position = std::array<double, 3>{0, 0, 2.0 * k};
        if (temporal) {
          s.temporal_position = 2 - phase;  // numbering, not file order, decides the frame
        } else {
          s.acquisition_number = 7 - phase;
        }
        s.pixels.assign(s.rows * s.columns, static_cast<std::int16_t>(1024 + 100 * (2 - phase)));
        testing::write_dicom_slice(dir / fmt::format("p{}_{}", phase, k), s);
      }
    }
    const Error e = error_of([&] { (void)read_volume(dir.path()); });
    EXPECT_EQ(e.kind(), ErrorKind::kUsage) << e.what();
    EXPECT_TRUE(contains(e, "2 frames")) << e.what();
    EXPECT_TRUE(contains(e, "--frame")) << e.what();
    EXPECT_TRUE(contains(e, temporal ? "TemporalPositionIdentifier" : "AcquisitionNumber"))
        << e.what();
    for (std::int64_t f = 0; f < 2; ++f) {
      ReadOptions options;
      options.frame = f;
      const Volume v = read_volume(dir.path(), options);
      EXPECT_EQ(v.nz(), 3);
      // Frame 0 is the lower number: phase 1 of the files, 100 HU.
      EXPECT_EQ(v.hu_range(), (std::array<float, 2>{100.0f * (f + 1), 100.0f * (f + 1)})) << f;
    }
  }
}

// Embeds like FakeEmbedder but puts NaN into the vector of slice `bad`.
class NanEmbedder final : public Embedder {
 public:
  explicit NanEmbedder(std::int64_t bad) : bad_(bad) {}
  [[nodiscard]] std::string spec() const override { return inner_.spec(); }
  [[nodiscard]] std::string fingerprint() const override { return inner_.fingerprint(); }
  [[nodiscard]] int dim() const override { return inner_.dim(); }
  void embed(const Volume& volume, std::int64_t k0, std::int64_t k1,
             std::span<float> out) const override {
    inner_.embed(volume, k0, k1, out);
    if (bad_ >= k0 && bad_ < k1) out[static_cast<std::size_t>((bad_ - k0) * dim() + 3)] = NAN;
  }

 private:
  testing::FakeEmbedder inner_{8};
  std::int64_t bad_;
};

TEST(NonFiniteVectors, AreRefusedByBuildAddAndWriteGeneration) {
  TempDir tmp;
  std::vector<std::filesystem::path> good, bad;
  for (int s = 0; s < 2; ++s) {
    good.push_back(tmp / fmt::format("good{}.nii.gz", s));
    (void)testing::write_phantom(good.back(), s);
  }
  bad.push_back(tmp / "bad.nii.gz");
  (void)testing::write_phantom(bad.back(), 5);
  const testing::FakeEmbedder fake(8);
  const NanEmbedder nan_embedder(7);

  // build: the only volume fails, naming it and its slice; nothing is written.
  Error e = error_of([&] { build_index(tmp / "none", sources_from_paths(bad), nan_embedder, {}); });
  EXPECT_TRUE(contains(e, "slice 7")) << e.what();
  EXPECT_TRUE(contains(e, "bad")) << e.what();
  EXPECT_FALSE(std::filesystem::exists(tmp / "none" / "CURRENT"));

  // add: refused, the index keeps its generation and volumes.
  (void)build_index(tmp / "index", sources_from_paths(good), fake, {});
  e = error_of([&] { add_to_index(tmp / "index", sources_from_paths(bad), nan_embedder, {}); });
  EXPECT_TRUE(contains(e, "slice 7")) << e.what();
  auto index = Index::open(tmp / "index");
  EXPECT_EQ(index->generation(), 1);
  EXPECT_EQ(index->volumes().size(), 2u);

  // write_generation (what an import of precomputed vectors calls): refused as well.
  VolumeVectors v;
  v.volume.id = "imported";
  v.volume.num_slices = 3;
  v.vectors.assign(static_cast<std::size_t>(3 * fake.dim()), 0.125f);
  v.vectors[static_cast<std::size_t>(2 * fake.dim() + 5)] = std::numeric_limits<float>::infinity();
  e = error_of([&] {
    std::vector<VolumeVectors> add{v};
    write_generation(tmp / "index", false, {}, {}, std::move(add), {}, {});
  });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
  EXPECT_TRUE(contains(e, "volume imported: the vector of slice 2 holds inf at dimension 5"))
      << e.what();
  index = Index::open(tmp / "index");
  EXPECT_EQ(index->generation(), 1);
  EXPECT_EQ(index->find("imported"), nullptr);
}

// Phantoms padded with `pad` all-air slices below and above their body.
std::vector<std::filesystem::path> padded_phantoms(const TempDir& tmp, int count, int pad) {
  std::vector<std::filesystem::path> paths;
  for (int s = 0; s < count; ++s) {
    const auto raw = tmp / fmt::format("raw{}.nii.gz", s);
    (void)testing::write_phantom(raw, s);
    const Volume v = read_volume(raw);
    std::vector<float> hu(static_cast<std::size_t>(v.slice_size() * (v.nz() + 2 * pad)), -1000.0f);
    std::copy(v.hu().begin(), v.hu().end(), hu.begin() + v.slice_size() * pad);
    paths.push_back(tmp / fmt::format("p{}.nii.gz", s));
    write_nifti(
        Volume({v.nx(), v.ny(), v.nz() + 2 * pad}, v.spacing(), v.affine(), std::move(hu), "RAS"),
        paths.back());
  }
  return paths;
}

TEST(EmptySlices, NeitherVoteNorAreLocalizedAndAnAirQueryIsRefused) {
  TempDir tmp;
  const int pad = 6;
  const auto paths = padded_phantoms(tmp, 4, pad);
  const testing::FakeEmbedder embedder(8);
  (void)build_index(tmp / "index", sources_from_paths(paths), embedder, {});
  const auto index = Index::open(tmp / "index");
  EXPECT_EQ(index->num_empty_rows(), 4 * 2 * pad);
  for (std::size_t v = 0; v < index->volumes().size(); ++v) {
    EXPECT_EQ(index->empty_slices(v), 2 * pad);
    const auto content = index->labels(v).content;
    ASSERT_EQ(content.size(), static_cast<std::size_t>(index->volumes()[v].num_slices));
    EXPECT_EQ(content[0], 0.0f);
    EXPECT_GT(content[static_cast<std::size_t>(pad)], kMinContentMm2);
  }

  // A whole padded volume as query: only its body slices take part, and nothing aligns with or
  // is located on an empty slice.
  const Volume query = read_volume(paths[2]);
  for (const bool rerank : {true, false}) {
    SearchParams params;
    params.rerank = rerank;
    const SearchAnswer a = testing::search_slices(*index, embedder, query, {0, query.nz() - 1}, params);
    EXPECT_EQ(a.query_slices_used, query.nz() - 2 * pad);
    ASSERT_FALSE(a.results.empty());
    EXPECT_EQ(a.results[0].volume, "p2");
    for (const auto& r : a.results) {
      const auto n = index->find(r.volume)->num_slices;
      EXPECT_GE(r.location[0], pad) << r.volume;
      EXPECT_LT(r.location[1], n - pad) << r.volume;
      for (const auto& al : r.alignment) {
        EXPECT_GE(al.query_slice, pad);
        EXPECT_LT(al.query_slice, query.nz() - pad);
        EXPECT_GE(al.volume_slice, pad);
        EXPECT_LT(al.volume_slice, n - pad);
      }
    }
  }
  // Only empty slices selected: a clear error instead of score-1 matches on padding.
  const Error e = error_of([&] { (void)testing::search_slices(*index, embedder, query, {1, pad - 1}, {}); });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
  EXPECT_TRUE(contains(e, fmt::format("slices 1..{} contain no body", pad - 1))) << e.what();

  // An all-air volume cannot be indexed: it has nothing to find.
  const auto air =
      write_float_volume(tmp / "air.nii", {32, 32, 10}, [](auto...) { return -1024.0; });
  const Error add = error_of([&] {
    const std::vector<std::filesystem::path> one{air};
    add_to_index(tmp / "index", sources_from_paths(one), embedder, {});
  });
  EXPECT_TRUE(contains(add, "no slice shows a body")) << add.what();
  EXPECT_EQ(Index::open(tmp / "index")->generation(), 1);
}

TEST(EmptySlices, IndexesOfFormatVersion1OpenWithEverySliceCounted) {
  TempDir tmp;
  const auto paths = padded_phantoms(tmp, 2, 3);
  const testing::FakeEmbedder embedder(8);
  (void)build_index(tmp / "index", sources_from_paths(paths), embedder, {});
  // Turn the generation into what version 1 wrote: no content table, format_version 1.
  testing::rewrite_as_format(tmp / "index", 1, "DROP TABLE content");

  auto index = Index::open(tmp / "index", {.verify_checksums = true});
  EXPECT_EQ(index->num_empty_rows(), 0);
  EXPECT_TRUE(index->labels(0).content.empty());
  // Searching works (the query's own empty slices are still dropped); adding writes version 2
  // and keeps the old volumes' slices counted.
  const Volume query = read_volume(paths[0]);
  EXPECT_EQ(testing::search_slices(*index, embedder, query, {0, query.nz() - 1}, {}).query_slices_used,
            query.nz() - 6);
  const auto more = padded_phantoms(tmp, 3, 3);
  const std::vector<std::filesystem::path> third{more[2]};
  (void)add_to_index(tmp / "index", sources_from_paths(third), embedder, {});
  index = Index::open(tmp / "index");
  EXPECT_EQ(index->num_empty_rows(), 6);  // only the new volume's padding is known
}

}  // namespace
}  // namespace voxir
