// Argument checks every Embedder::embed implementation makes.
#pragma once

#include "voxir/error.h"
#include "voxir/volume.h"

#include <cstddef>
#include <cstdint>

namespace voxir::embed {

// Slices [k0, k1) must lie in the volume and `out_size` must hold (k1 - k0) * dim floats.
inline void check_embed_args(const Volume& volume, std::int64_t k0, std::int64_t k1, std::size_t out_size,
                             int dim) {
  if (k0 < 0 || k1 > volume.nz() || k0 > k1) {
    fail(ErrorKind::kUsage, "embed: slice range [{}, {}) outside the volume's 0..{}", k0, k1, volume.nz());
  }
  if (out_size != static_cast<std::size_t>(k1 - k0) * static_cast<std::size_t>(dim)) {
    fail(ErrorKind::kUsage, "embed: output holds {} floats, expected {} slices x {}", out_size, k1 - k0, dim);
  }
}

}  // namespace voxir::embed
