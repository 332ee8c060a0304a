// NIfTI-1/-2 reading and writing (header parsing by nifti_clib, gzip by libdeflate).
#pragma once

#include "voxir/volume.h"

#include <filesystem>

namespace voxir::io {

// True when the first bytes of `path` are a gzip stream or a NIfTI-1/-2 header.
[[nodiscard]] bool looks_like_nifti(const std::filesystem::path& path);

// Reads a NIfTI file into canonical order. Errors name the file (see read_volume).
[[nodiscard]] Volume read_nifti(const std::filesystem::path& path);

}  // namespace voxir::io
