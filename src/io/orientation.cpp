#include "io/orientation.h"

#include "voxir/error.h"

#include <cmath>

namespace voxir::io {
namespace {

double column_norm(const Affine& a, int col) {
  return std::sqrt(a[0][col] * a[0][col] + a[1][col] * a[1][col] + a[2][col] * a[2][col]);
}

}  // namespace

AxisMap closest_canonical(const Affine& affine) {
  // Direction cosines: columns of the 3x3 part, normalised.
  std::array<std::array<double, 3>, 3> cosines{};
  for (int a = 0; a < 3; ++a) {
    const double norm = column_norm(affine, a);
    if (!(norm > 0) || !std::isfinite(norm)) {
      fail(ErrorKind::kInvalidInput, "the voxel-to-world transform is singular (axis {} has length {})",
           a, norm);
    }
    for (int w = 0; w < 3; ++w) cosines[w][a] = affine[w][a] / norm;
  }
  AxisMap map;
  std::array<bool, 3> world_used{};
  std::array<bool, 3> file_used{};
  for (int step = 0; step < 3; ++step) {
    double best = -1;
    int best_w = -1;
    int best_a = -1;
    for (int w = 0; w < 3; ++w) {
      for (int a = 0; a < 3; ++a) {
        if (world_used[w] || file_used[a]) continue;
        if (std::abs(cosines[w][a]) > best) {
          best = std::abs(cosines[w][a]);
          best_w = w;
          best_a = a;
        }
      }
    }
    if (best < 1e-6) fail(ErrorKind::kInvalidInput, "the voxel-to-world transform is degenerate");
    world_used[best_w] = true;
    file_used[best_a] = true;
    map.source_axis[best_w] = best_a;
    map.flip[best_w] = cosines[best_w][best_a] < 0;
  }
  return map;
}

std::string axis_codes(const Affine& affine) {
  const AxisMap map = closest_canonical(affine);
  static constexpr std::array<std::array<char, 2>, 3> kLetters{{{'R', 'L'}, {'A', 'P'}, {'S', 'I'}}};
  std::string codes(3, '?');
  for (int c = 0; c < 3; ++c) {
    codes[static_cast<std::size_t>(map.source_axis[c])] = kLetters[c][map.flip[c] ? 1 : 0];
  }
  return codes;
}

Dims canonical_dims(const Dims& source_dims, const AxisMap& map) {
  return {source_dims[map.source_axis[0]], source_dims[map.source_axis[1]],
          source_dims[map.source_axis[2]]};
}

Vec3 canonical_spacing(const Affine& source_affine, const AxisMap& map) {
  return {column_norm(source_affine, map.source_axis[0]),
          column_norm(source_affine, map.source_axis[1]),
          column_norm(source_affine, map.source_axis[2])};
}

Affine canonical_affine(const Affine& source_affine, const Dims& source_dims, const AxisMap& map) {
  // world = A * file_index; file_index[a] = flip ? n_a - 1 - can[c] : can[c], with a = source_axis[c].
  Affine out{};
  for (int w = 0; w < 3; ++w) out[w][3] = source_affine[w][3];
  for (int c = 0; c < 3; ++c) {
    const int a = map.source_axis[c];
    const double sign = map.flip[c] ? -1.0 : 1.0;
    for (int w = 0; w < 3; ++w) {
      out[w][c] = sign * source_affine[w][a];
      if (map.flip[c]) out[w][3] += static_cast<double>(source_dims[a] - 1) * source_affine[w][a];
    }
  }
  out[3] = {0, 0, 0, 1};
  return out;
}

}  // namespace voxir::io
