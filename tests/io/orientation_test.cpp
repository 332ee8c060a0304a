#include "io/orientation.h"

#include "voxir/error.h"

#include <gtest/gtest.h>

namespace voxir::io {
namespace {

Affine diag(double x, double y, double z) {
  return {{{x, 0, 0, 0}, {0, y, 0, 0}, {0, 0, z, 0}, {0, 0, 0, 1}}};
}

struct AxisCase {
  const char* name;
  Affine affine;
  const char* codes;
};

TEST(Orientation, AxisCodesOfCommonAffines) {
  const AxisCase cases[] = {
      {"RAS identity", diag(1, 1, 1), "RAS"},
      {"LPS (DICOM-like)", diag(-0.8, -0.8, 2), "LPS"},
      {"LAS", diag(-1, 2, 3), "LAS"},
      {"RAI (head-first slices)", diag(1, 1, -3), "RAI"},
      {"PIL (sagittal stack)", {{{0, 0, -1, 0}, {-1, 0, 0, 0}, {0, -1, 0, 0}, {0, 0, 0, 1}}}, "PIL"},
      {"slightly oblique RAS", {{{1, 0.1, 0, 0}, {-0.1, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}}, "RAS"},
  };
  for (const auto& c : cases) EXPECT_EQ(axis_codes(c.affine), c.codes) << c.name;
}

TEST(Orientation, SingularAffineIsRejected) {
  EXPECT_THROW((void)closest_canonical(diag(1, 0, 1)), Error);
}

TEST(Orientation, ReorientFlipsAndPermutesAndKeepsWorldPositions) {
  // File grid 2x3x4 stored PIL: file axis 0 -> -S (inferior), 1 -> -R (left), 2 -> -A (posterior).
  const Affine a{{{0, -2, 0, 10}, {0, 0, -3, 20}, {-1.5, 0, 0, 30}, {0, 0, 0, 1}}};
  const Dims src{2, 3, 4};
  std::vector<int> file(24);
  for (int i = 0; i < 24; ++i) file[static_cast<std::size_t>(i)] = i;
  const AxisMap map = closest_canonical(a);
  const Dims dims = canonical_dims(src, map);
  EXPECT_EQ(dims, (Dims{3, 4, 2}));
  EXPECT_EQ(canonical_spacing(a, map), (Vec3{2, 3, 1.5}));
  std::vector<float> out(24);
  reorient_to_float(file.data(), src, map, 1.0, 0.0, out.data());
  const Affine ca = canonical_affine(a, src, map);
  // Every canonical voxel must sit at the same world position as the file voxel it came from.
  for (std::int64_t k = 0; k < dims[2]; ++k) {
    for (std::int64_t j = 0; j < dims[1]; ++j) {
      for (std::int64_t i = 0; i < dims[0]; ++i) {
        const int v = static_cast<int>(out[static_cast<std::size_t>(i + dims[0] * (j + dims[1] * k))]);
        const std::int64_t fi = v % 2;
        const std::int64_t fj = (v / 2) % 3;
        const std::int64_t fk = v / 6;
        for (int w = 0; w < 3; ++w) {
          const double from_file = a[w][0] * fi + a[w][1] * fj + a[w][2] * fk + a[w][3];
          const double from_canon = ca[w][0] * i + ca[w][1] * j + ca[w][2] * k + ca[w][3];
          EXPECT_DOUBLE_EQ(from_file, from_canon) << "voxel " << i << "," << j << "," << k;
        }
      }
    }
  }
  // Canonical axes point R, A, S: the diagonal-dominant entries of the new affine are positive.
  EXPECT_GT(ca[0][0], 0);
  EXPECT_GT(ca[1][1], 0);
  EXPECT_GT(ca[2][2], 0);
}

}  // namespace
}  // namespace voxir::io
