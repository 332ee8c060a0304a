#include "testutil/phantoms.h"

#include "synth/rng.h"
#include "voxir/volume.h"

#include <cmath>
#include <vector>

namespace voxir::testing {

Phantom write_phantom(const std::filesystem::path& path, int seed) {
  // synth::Rng, not std::uniform_real_distribution: the same phantoms with any standard library.
  synth::Rng rng(static_cast<std::uint64_t>(seed));
  const auto u = [](synth::Rng& r) { return r.uniform(); };
  const std::int64_t nx = 32, ny = 32, nz = 40 + seed % 7;
  Phantom p{path, 8 + seed % 9, 22 + seed % 11};
  std::vector<float> hu(static_cast<std::size_t>(nx * ny * nz), -1000.0f);
  const double rx = 10 + 4 * u(rng), ry = 8 + 4 * u(rng), phase = 6.28 * u(rng),
               ox = 9 + 6 * u(rng);
  for (std::int64_t k = 0; k < nz; ++k) {
    const double bx = 16 + 6 * std::cos(phase + 0.15 * double(k)),
                 by = 16 + 4 * std::sin(phase + 0.1 * double(k));
    for (std::int64_t j = 0; j < ny; ++j) {
      for (std::int64_t i = 0; i < nx; ++i) {
        const double x = double(i) - 15.5, y = double(j) - 15.5;
        float v = -1000;
        if (x * x / (rx * rx) + y * y / (ry * ry) <= 1) v = static_cast<float>(-80 + 60 * u(rng));
        if (k >= p.organ0 && k <= p.organ1 && std::abs(double(i) - ox) < 5 && std::abs(y) < 4)
          v = 150;
        if ((double(i) - bx) * (double(i) - bx) + (double(j) - by) * (double(j) - by) < 6) v = 900;
        hu[static_cast<std::size_t>(i + nx * (j + ny * k))] = v;
      }
    }
  }
  Affine affine{{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 2, 0}, {0, 0, 0, 1}}};
  write_nifti(Volume({nx, ny, nz}, {1, 1, 2}, affine, std::move(hu), "RAS"), path,
              NiftiDatatype::kInt16);
  return p;
}

}  // namespace voxir::testing
