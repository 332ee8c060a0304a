// Physical-space 2D resampling and HU windowing of axial slices (docs/method.md §2).
//
// Planes are nx x ny floats, x fastest. Output pixel x of an axis lies at source position
// u(x) = origin_mm + (x + 0.5) * step_mm, measured in mm from the left edge of source pixel 0
// (a negative step flips the axis). Where u falls outside the source (0 .. n * spacing) the
// output is `pad`. Downsampling is antialiased: a triangle filter as wide as the output step
// (PIL's bilinear), so thin structures are averaged, not aliased.
#pragma once

#include "voxir/slicing.h"
#include "voxir/volume.h"

#include <cstdint>
#include <span>
#include <vector>

namespace voxir::slicing {

struct AxisMap {
  double origin_mm = 0;
  double step_mm = 1;  // output pixel size; negative flips
  int size = 0;        // output pixels
};

// Reusable buffers, so per-slice work allocates nothing after the first slice of a thread.
struct Scratch {
  std::vector<float> row_pass;
  struct Taps {
    std::vector<int> first;
    std::vector<int> count;
    std::vector<float> weights;
    int max_taps = 0;
  };
  Taps x, y;
  std::vector<float> plane;
};

// Resamples the nx x ny plane `src` (pixel size sx, sy mm) along x with `mx` and along y with
// `my` into out (mx.size * my.size floats).
void resample_plane(std::span<const float> src, std::int64_t nx, std::int64_t ny, double sx,
                    double sy, const AxisMap& mx, const AxisMap& my, float pad,
                    std::span<float> out, Scratch& scratch);

// (v - lo) / (hi - lo) clamped to [0, 1].
[[nodiscard]] inline float apply_window(float v, HuWindow w) {
  const float t = (v - w.lo) / (w.hi - w.lo);
  return t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
}

// Slice k of `volume` in radiological view, fitted into a width x height image keeping its
// physical aspect, centred and padded with `pad` (HU). Writes width * height floats.
void fit_slice(const Volume& volume, std::int64_t k, int width, int height, float pad,
               std::span<float> out, Scratch& scratch);

// The full model input of slice k (see Preprocessing): out holds p.tensor_size() floats.
void preprocess_slice(const Volume& volume, std::int64_t k, const Preprocessing& p,
                      std::span<float> out, Scratch& scratch);


}  // namespace voxir::slicing
