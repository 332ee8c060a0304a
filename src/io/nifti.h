// NIfTI-1/-2 reading and writing (header parsing by nifti_clib, gzip by libdeflate).
#pragma once

#include "voxir/volume.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace voxir::io {

// True when the first bytes of `path` are a gzip stream or a NIfTI-1/-2 header.
[[nodiscard]] bool looks_like_nifti(const std::filesystem::path& path);

// A header extension (NIfTI-1 §extension): its code and raw bytes.
struct NiftiExtension {
  int code = 0;
  std::string data;
};

// Reads a NIfTI file into canonical order. Errors name the file (see read_volume). With
// `extensions`, the header extensions are returned too (e.g. the label table that
// TotalSegmentator v2 stores in its multilabel files). `frame` picks one volume of a 4-D file
// (dim[4] > 1; ReadOptions::frame); without it such a file is refused (kUsage) naming --frame and
// the number of frames. Dimensions 5 to 7 must be 1.
[[nodiscard]] Volume read_nifti(const std::filesystem::path& path,
                                std::vector<NiftiExtension>* extensions = nullptr,
                                std::optional<std::int64_t> frame = std::nullopt);

}  // namespace voxir::io
