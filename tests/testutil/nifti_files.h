// Writes NIfTI files of any datatype, version and orientation through nifti_clib directly, so
// tests can feed the reader files that voxir's own writer never produces.
#pragma once

#include "voxir/volume.h"

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace voxir::testing {

struct RawNifti {
  Dims dims{4, 3, 2};
  int datatype = 4;             // NIfTI DT_* code (4 = int16)
  int version = 1;              // 1 or 2
  Affine affine{{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}};
  double scl_slope = 0;         // 0: no scaling
  double scl_inter = 0;
  std::int64_t frames = 1;      // > 1: a 4-D file (dim[4] = frames), frame after frame
  std::vector<double> values;   // file order, x fastest, frames last; converted to `datatype`
};

// Writes `raw` to `path` (.nii or .nii.gz); throws std::runtime_error on failure.
void write_raw_nifti(const std::filesystem::path& path, const RawNifti& raw);

// A one-member gzip stream of `data` (zlib, not the reader's libdeflate), for hand-made .nii.gz
// files: bombs, truncated or lying headers. Throws std::runtime_error on failure.
[[nodiscard]] std::vector<std::uint8_t> gzip_bytes(std::span<const std::uint8_t> data);

}  // namespace voxir::testing
