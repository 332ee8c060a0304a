// Tiny CT phantoms for index and search tests: a body ellipse (fat-like HU with per-volume
// texture), an "organ" block (HU 150) on slices [organ0, organ1] and a "bone" disk (HU 900) that
// drifts across slices. 32 x 32 x (40..46) voxels at 1 x 1 x 2 mm; every seed gives other sizes.
#pragma once

#include <cstdint>
#include <filesystem>

namespace voxir::testing {

struct Phantom {
  std::filesystem::path path;
  std::int64_t organ0 = 0, organ1 = 0;  // the organ's extent (inclusive slice range)
};

// Writes phantom `seed` as an int16 NIfTI file at `path`.
Phantom write_phantom(const std::filesystem::path& path, int seed);

}  // namespace voxir::testing
