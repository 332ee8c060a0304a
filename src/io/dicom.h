// DICOM CT series reading (GDCM).
#pragma once

#include "voxir/volume.h"

#include <filesystem>
#include <string>
#include <vector>

namespace voxir::io {

// True when `path` starts like a DICOM Part-10 file ("DICM" at byte 128).
[[nodiscard]] bool looks_like_dicom(const std::filesystem::path& path);

// Reads the CT series held in `folder` (see read_volume and ReadOptions).
[[nodiscard]] Volume read_dicom_series(const std::filesystem::path& folder, const ReadOptions& options);

}  // namespace voxir::io
