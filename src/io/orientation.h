// Orientation arithmetic shared by the volume readers: which file axis becomes which canonical
// (RAS+) axis, and the copy that performs the permutation/flip while converting to float HU.
#pragma once

#include "voxir/volume.h"

#include <array>
#include <cstddef>
#include <string>

namespace voxir::io {

// How the axes of a stored grid map onto the canonical RAS+ axes.
struct AxisMap {
  std::array<int, 3> source_axis{0, 1, 2};  // canonical axis c is the file's axis source_axis[c]
  std::array<bool, 3> flip{false, false, false};  // true: canonical index = n - 1 - file index
};

// The axis permutation closest to `affine` (file voxel -> RAS mm): greedy assignment of the
// largest direction-cosine components, as nibabel's io_orientation. Throws Error(kInvalidInput)
// for a singular affine.
[[nodiscard]] AxisMap closest_canonical(const Affine& affine);

// Axis codes of a grid as three letters, e.g. "LPS": the world direction each file axis points to.
[[nodiscard]] std::string axis_codes(const Affine& affine);

// Canonical dims, spacing (column norms of the affine) and affine of a grid mapped by `map`.
[[nodiscard]] Dims canonical_dims(const Dims& source_dims, const AxisMap& map);
[[nodiscard]] Vec3 canonical_spacing(const Affine& source_affine, const AxisMap& map);
[[nodiscard]] Affine canonical_affine(const Affine& source_affine, const Dims& source_dims,
                                      const AxisMap& map);

// Copies `src` (file order, x fastest, dims `source_dims`) into `dst` (canonical order), storing
// fn(value) for each voxel. `dst` must hold the same number of voxels.
template <typename Src, typename Dst, typename Fn>
void reorient(const Src* src, const Dims& source_dims, const AxisMap& map, Dst* dst, Fn&& fn) {
  const std::array<std::ptrdiff_t, 3> file_stride{
      1, static_cast<std::ptrdiff_t>(source_dims[0]),
      static_cast<std::ptrdiff_t>(source_dims[0] * source_dims[1])};
  std::array<std::ptrdiff_t, 3> stride{};
  std::array<std::ptrdiff_t, 3> n{};
  std::ptrdiff_t base = 0;
  for (int c = 0; c < 3; ++c) {
    const int a = map.source_axis[c];
    n[c] = static_cast<std::ptrdiff_t>(source_dims[a]);
    stride[c] = map.flip[c] ? -file_stride[a] : file_stride[a];
    if (map.flip[c]) base += (n[c] - 1) * file_stride[a];
  }
  for (std::ptrdiff_t k = 0; k < n[2]; ++k) {
    for (std::ptrdiff_t j = 0; j < n[1]; ++j) {
      const Src* row = src + base + k * stride[2] + j * stride[1];
      Dst* out = dst + (k * n[1] + j) * n[0];
      for (std::ptrdiff_t i = 0; i < n[0]; ++i) out[i] = fn(row[i * stride[0]]);
    }
  }
}

// The float value of a stored voxel: value * slope + intercept, in float as the readers always
// computed it (masks are thresholded on this same value, so both readings agree).
template <typename Src>
[[nodiscard]] inline float scaled_value(Src v, float slope, float intercept) {
  return static_cast<float>(v) * slope + intercept;
}

// reorient() applying value * slope + intercept, converting to float HU.
template <typename Src>
void reorient_to_float(const Src* src, const Dims& source_dims, const AxisMap& map, double slope,
                       double intercept, float* dst) {
  if (slope == 1.0 && intercept == 0.0) {
    reorient(src, source_dims, map, dst, [](Src v) { return static_cast<float>(v); });
  } else {
    const auto fslope = static_cast<float>(slope);
    const auto finter = static_cast<float>(intercept);
    reorient(src, source_dims, map, dst,
             [=](Src v) { return scaled_value(v, fslope, finter); });
  }
}

}  // namespace voxir::io
