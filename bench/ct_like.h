// A synthetic CT-like volume for benchmarks that need no patient data.
#pragma once

#include "voxir/volume.h"

#include <cmath>
#include <random>
#include <vector>

namespace voxir::bench {

// Air, an elliptic body of soft tissue and fat, a spine, lungs in the upper half, noise; 0.8 mm
// pixels, 1.5 mm slices. Its gzip ratio is close to a real scan's (~2.5-4x).
inline Volume make_ct_like(std::int64_t n, std::int64_t nz) {
  std::vector<float> hu(static_cast<std::size_t>(n * n * nz));
  std::mt19937 rng(42);
  std::normal_distribution<float> noise(0.0f, 12.0f);
  for (std::int64_t k = 0; k < nz; ++k) {
    for (std::int64_t j = 0; j < n; ++j) {
      for (std::int64_t i = 0; i < n; ++i) {
        const double x = (static_cast<double>(i) - n / 2.0) / (n * 0.42);
        const double y = (static_cast<double>(j) - n / 2.0) / (n * 0.30);
        const double r = x * x + y * y;
        float v = -1000.0f;
        if (r < 1.0) {
          v = r > 0.85 ? -100.0f : 40.0f;
          const double lx = std::abs(x) - 0.45;
          if (lx * lx / 0.08 + y * y / 0.5 < 1.0 && k > nz / 2) v = -850.0f;
          if (std::hypot(x, y + 0.6) < 0.12) v = 700.0f;
          v += noise(rng);
        }
        hu[static_cast<std::size_t>(i + n * (j + n * k))] = std::round(v);
      }
    }
  }
  const Affine a{{{0.8, 0, 0, 0}, {0, 0.8, 0, 0}, {0, 0, 1.5, 0}, {0, 0, 0, 1}}};
  return Volume({n, n, nz}, {0.8, 0.8, 1.5}, a, std::move(hu), "RAS");
}

}  // namespace voxir::bench
