#include "slicing/preprocess.h"
#include "voxir/embed.h"
#include "voxir/error.h"

#include <gtest/gtest.h>

#include <vector>

namespace voxir::slicing {
namespace {

Volume make_volume(Dims dims, Vec3 spacing, std::vector<float> hu) {
  Affine a{};
  for (std::size_t r = 0; r < 3; ++r) a[r][r] = spacing[r];
  a[3][3] = 1;
  return Volume(dims, spacing, a, std::move(hu), "RAS");
}

TEST(Window, MapsLinearlyAndClamps) {
  const HuWindow w{-1000, 1000};
  EXPECT_FLOAT_EQ(apply_window(-1000, w), 0.0f);
  EXPECT_FLOAT_EQ(apply_window(0, w), 0.5f);
  EXPECT_FLOAT_EQ(apply_window(500, w), 0.75f);
  EXPECT_FLOAT_EQ(apply_window(-3024, w), 0.0f);
  EXPECT_FLOAT_EQ(apply_window(3000, w), 1.0f);
  EXPECT_FLOAT_EQ(apply_window(60, HuWindow{-160, 240}), 0.55f);
}

TEST(ResamplePlane, IdentityAndFlip) {
  const std::vector<float> src{1, 2, 3, 4, 5, 6, 7, 8};  // 4 x 2
  std::vector<float> out(8);
  Scratch s;
  resample_plane(src, 4, 2, 1, 1, {0, 1, 4}, {0, 1, 2}, -1000, out, s);
  EXPECT_EQ(out, src);
  resample_plane(src, 4, 2, 1, 1, {4, -1, 4}, {2, -1, 2}, -1000, out, s);
  EXPECT_EQ(out, (std::vector<float>{8, 7, 6, 5, 4, 3, 2, 1}));
}

TEST(ResamplePlane, DownsamplesWithTriangleFilter) {
  // 4 -> 2 pixels of 2 mm: output 0 is centred at source index 0.5 with radius 2:
  // taps 0, 1, 2 weighted .75, .75, .25 (normalised by 1.75).
  const std::vector<float> src{0, 4, 8, 12};
  std::vector<float> out(2);
  Scratch s;
  resample_plane(src, 4, 1, 1, 1, {0, 2, 2}, {0, 1, 1}, 0, out, s);
  EXPECT_NEAR(out[0], (0 * .75 + 4 * .75 + 8 * .25) / 1.75, 1e-5);
  EXPECT_NEAR(out[1], (4 * .25 + 8 * .75 + 12 * .75) / 1.75, 1e-5);
  // A constant stays constant under any resampling.
  const std::vector<float> flat(35, 7.0f);
  std::vector<float> small(6);
  resample_plane(flat, 7, 5, 0.7, 1.3, {0, 1.6, 3}, {0, 2.1, 2}, 0, small, s);
  for (float v : small) EXPECT_NEAR(v, 7.0f, 1e-5);
}

TEST(FitSlice, KeepsPhysicalAspectAndPadsWithAir) {
  // 4 x 2 pixels of 1 mm into 4 x 4: rows 0 and 3 are padding, rows 1-2 the slice in radiological
  // view (column 0 = largest i, row 0 = largest j).
  const Volume v = make_volume({4, 2, 1}, {1, 1, 1}, {1, 2, 3, 4, 5, 6, 7, 8});
  std::vector<float> out(16);
  Scratch s;
  fit_slice(v, 0, 4, 4, -1000, out, s);
  const std::vector<float> expect{-1000, -1000, -1000, -1000, 8,     7,     6,     5,
                                  4,     3,     2,     1,     -1000, -1000, -1000, -1000};
  EXPECT_EQ(out, expect);
  // Anisotropic pixels: 4 x 2 pixels of 1 x 2 mm are a 4 x 4 mm square: no padding.
  const Volume w = make_volume({4, 2, 1}, {1, 2, 1}, {1, 2, 3, 4, 5, 6, 7, 8});
  fit_slice(w, 0, 4, 4, -1000, out, s);
  for (float x : out) EXPECT_GT(x, 0.0f);
  EXPECT_EQ(out[0], 8.0f);
  EXPECT_EQ(out[15], 1.0f);
}

TEST(PreprocessSlice, WindowsPerChannelAndNormalises) {
  const Volume v = make_volume({2, 2, 1}, {1, 1, 1}, {-1000, 0, 500, 1000});
  Preprocessing p;
  p.input_width = 8;  // 2 x 2 into 8 x 8: pure upsampling of a constant-free image; check corners
  p.input_height = 8;
  p.windows = {{-1000, 1000}, {-160, 240}, {-1000, 0}};
  p.mean = {0.5f};
  p.std = {0.25f};
  p.validate();
  std::vector<float> out(p.tensor_size());
  Scratch s;
  preprocess_slice(v, 0, p, out, s);
  // Corner (row 0, col 0) is voxel (i=1, j=1) = 1000 HU (radiological view), no blending at the
  // corner: the triangle filter's nearest taps there are that voxel alone.
  EXPECT_NEAR(out[0], (1.0f - 0.5f) / 0.25f, 1e-5);    // window 1: 1000 -> 1
  EXPECT_NEAR(out[64], (1.0f - 0.5f) / 0.25f, 1e-5);   // window 2: clamps to 1
  EXPECT_NEAR(out[128], (1.0f - 0.5f) / 0.25f, 1e-5);  // window 3: clamps to 1
  EXPECT_NEAR(out[63], (0.0f - 0.5f) / 0.25f, 1e-5);   // last pixel: -1000 HU -> 0
}

TEST(PreprocessSlice, ValidateNamesTheBadField) {
  struct Case {
    const char* what;
    Preprocessing p;
  };
  std::vector<Case> cases;
  Preprocessing p;
  p.windows = {{100, 100}};
  cases.push_back({"window", p});
  p = {};
  p.channels = 5;
  cases.push_back({"channels", p});
  p = {};
  p.input_width = 2;
  cases.push_back({"input size", p});
  p = {};
  p.mean = {1, 2};
  cases.push_back({"mean", p});
  p = {};
  p.std = {0.2f, 0.0f, 0.1f};
  cases.push_back({"std", p});
  for (const auto& c : cases) {
    try {
      c.p.validate();
      ADD_FAILURE() << c.what << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage) << c.what;
      EXPECT_NE(std::string(e.what()).find(c.what), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(Preprocessing{}.to_string(),
            "win=-1000:1000;in=224x224x3;mean=0.485,0.456,0.406;std=0.229,0.224,0.225");
}

}  // namespace
}  // namespace voxir::slicing
