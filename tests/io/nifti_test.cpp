#include "testutil/nifti_files.h"
#include "testutil/shared_data.h"
#include "testutil/temp_dir.h"
#include "voxir/error.h"
#include "voxir/volume.h"

#include <gtest/gtest.h>
#include <nifti/nifti1.h>

#include <algorithm>
#include <cmath>

namespace voxir {
namespace {

using testing::RawNifti;
using testing::TempDir;

std::vector<double> ramp(std::size_t n, double scale = 1.0) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<double>(i) * scale - 5;
  return v;
}

struct TypeCase {
  const char* name;
  int datatype;
  int version;
  const char* file;
  double slope;
  double inter;
};

TEST(Nifti, ReadsEveryDatatypeVersionAndCompression) {
  const TypeCase cases[] = {
      {"uint8 nii", DT_UINT8, 1, "a.nii", 0, 0},        {"int16 nii.gz", DT_INT16, 1, "b.nii.gz", 0, 0},
      {"int32 nifti2", DT_INT32, 2, "c.nii.gz", 0, 0},  {"float32 nifti2 nii", DT_FLOAT32, 2, "d.nii", 0, 0},
      {"float64", DT_FLOAT64, 1, "e.nii.gz", 0, 0},     {"int16 scaled", DT_INT16, 1, "f.nii.gz", 2, -1024},
      {"uint8 scaled nifti2", DT_UINT8, 2, "g.nii", 0.5, 3},
  };
  TempDir dir;
  for (const auto& c : cases) {
    RawNifti raw;
    raw.datatype = c.datatype;
    raw.version = c.version;
    raw.scl_slope = c.slope;
    raw.scl_inter = c.inter;
    raw.values = ramp(24);
    if (c.datatype == DT_UINT8) {
      for (auto& v : raw.values) v += 5;
    }
    testing::write_raw_nifti(dir / c.file, raw);
    const Volume vol = read_volume(dir / c.file);
    ASSERT_EQ(vol.dims(), (Dims{4, 3, 2})) << c.name;
    for (std::size_t i = 0; i < 24; ++i) {
      const double expect = c.slope != 0 ? raw.values[i] * c.slope + c.inter : raw.values[i];
      EXPECT_NEAR(vol.hu()[i], expect, 1e-5) << c.name << " voxel " << i;
    }
    EXPECT_EQ(vol.source_orientation(), "RAS") << c.name;
  }
}

TEST(Nifti, LpsFileIsFlippedToRas) {
  TempDir dir;
  RawNifti raw;
  raw.affine = {{{-0.5, 0, 0, 100}, {0, -2, 0, 50}, {0, 0, 3, -10}, {0, 0, 0, 1}}};
  raw.values = ramp(24);
  testing::write_raw_nifti(dir / "lps.nii.gz", raw);
  const Volume vol = read_volume(dir / "lps.nii.gz");
  EXPECT_EQ(vol.source_orientation(), "LPS");
  EXPECT_EQ(vol.spacing(), (Vec3{0.5, 2, 3}));
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 4; ++i) {
        const auto file_index = static_cast<std::size_t>((3 - i) + 4 * ((2 - j) + 3 * k));
        EXPECT_EQ(vol.at(i, j, k), raw.values[file_index]);
      }
  // Canonical voxel 0 is the file's last voxel along x and y: world x = 100 - 0.5*3.
  EXPECT_DOUBLE_EQ(vol.affine()[0][3], 98.5);
  EXPECT_DOUBLE_EQ(vol.affine()[1][3], 46);
  EXPECT_DOUBLE_EQ(vol.affine()[0][0], 0.5);
}

TEST(Nifti, WriteThenReadRoundTrips) {
  TempDir dir;
  std::vector<float> hu(5 * 4 * 3);
  for (std::size_t i = 0; i < hu.size(); ++i) hu[i] = static_cast<float>(i) * 10.0f - 1000.0f;
  const Affine a{{{0.8, 0, 0, -20}, {0, 0.8, 0, 30}, {0, 0, 2.5, -400}, {0, 0, 0, 1}}};
  const Volume vol({5, 4, 3}, {0.8, 0.8, 2.5}, a, hu, "RAS");
  for (const char* name : {"v.nii", "v.nii.gz"}) {
    write_nifti(vol, dir / name, NiftiDatatype::kInt16);
    const Volume back = read_volume(dir / name);
    EXPECT_EQ(back.dims(), vol.dims());
    EXPECT_EQ(std::vector<float>(back.hu().begin(), back.hu().end()), hu) << name;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) EXPECT_NEAR(back.affine()[r][c], a[r][c], 1e-5) << name;
  }
  // uint8 rounds to nearest and clamps to 0..255.
  std::vector<float> small(hu.size());
  for (std::size_t i = 0; i < small.size(); ++i) small[i] = static_cast<float>(i) * 5.2f - 10.0f;
  write_nifti(Volume({5, 4, 3}, {0.8, 0.8, 2.5}, a, small, "RAS"), dir / "m.nii.gz", NiftiDatatype::kUint8);
  const Volume mask = read_volume(dir / "m.nii.gz");
  for (std::size_t i = 0; i < small.size(); ++i) {
    EXPECT_EQ(mask.hu()[i], std::clamp(std::nearbyint(small[i]), 0.0f, 255.0f)) << i;
  }
}

// A hand-made volume may hold NaN, which no integer type can: written as outside the scan.
TEST(Nifti, NanIsWrittenAsOutsideTheScanInIntegerFiles) {
  TempDir dir;
  std::vector<float> hu(2 * 2 * 2, 40.0f);
  hu[3] = std::nanf("");
  const Affine a{{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}};
  const Volume vol({2, 2, 2}, {1, 1, 1}, a, hu, "RAS");
  write_nifti(vol, dir / "ct.nii", NiftiDatatype::kInt16);
  const Volume ct = read_volume(dir / "ct.nii");
  EXPECT_EQ(ct.hu()[3], kOutsideScanHu);
  EXPECT_EQ(ct.hu()[2], 40.0f);
  write_nifti(vol, dir / "mask.nii", NiftiDatatype::kUint8);
  EXPECT_EQ(read_volume(dir / "mask.nii").hu()[3], 0.0f);
}

TEST(Nifti, RealSampleTsMini) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const Volume vol = read_volume(data / "ct/ts-mini/s0001/ct.nii.gz");
  EXPECT_EQ(vol.dims(), (Dims{122, 101, 112}));
  EXPECT_NEAR(vol.spacing()[2], 3.0, 1e-3);
  EXPECT_EQ(vol.source_orientation(), "RAS");
  const auto range = vol.hu_range();
  EXPECT_LE(range[0], -1000);
  EXPECT_GE(range[1], 1000);
}

TEST(Nifti, RealSampleLpsThoraxIsReorientedToRas) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const Volume vol = read_volume(data / "ct/ts-thorax-cta/aorta/ct_cropped.nii.gz");
  EXPECT_EQ(vol.source_orientation(), "LPS");
  EXPECT_EQ(vol.dims(), (Dims{120, 126, 164}));
  EXPECT_NEAR(vol.spacing()[0], 1.5, 1e-3);
  // RAS+: world x grows with i, world y with j, world z with k.
  EXPECT_GT(vol.affine()[0][0], 0);
  EXPECT_GT(vol.affine()[1][1], 0);
  EXPECT_GT(vol.affine()[2][2], 0);
  // Anatomy check that fails if a flip were dropped: where vertebra T12 is present, the
  // descending aorta lies to the patient's left (lower i in RAS+) and in front (higher j) of it.
  const Volume aorta = read_volume(data / "ct/ts-thorax-cta/aorta/aorta.nii.gz");
  const Volume t12 = read_volume(data / "ct/ts-thorax-cta/aorta/vertebrae_T12.nii.gz");
  ASSERT_EQ(aorta.dims(), vol.dims());
  auto centroid = [](const Volume& mask, std::int64_t k0, std::int64_t k1) {
    std::array<double, 3> sum{};
    for (std::int64_t k = k0; k <= k1; ++k)
      for (std::int64_t j = 0; j < mask.ny(); ++j)
        for (std::int64_t i = 0; i < mask.nx(); ++i)
          if (mask.at(i, j, k) > 0.5f) {
            sum[0] += static_cast<double>(i);
            sum[1] += static_cast<double>(j);
            sum[2] += 1;
          }
    return std::array<double, 2>{sum[0] / sum[2], sum[1] / sum[2]};
  };
  const auto a = centroid(aorta, 5, 25);
  const auto v = centroid(t12, 5, 25);
  EXPECT_LT(a[0], v[0]) << "aorta should be left of the spine (lower i)";
  EXPECT_GT(a[1], v[1]) << "aorta should be anterior to the spine (higher j)";
}

}  // namespace
}  // namespace voxir
