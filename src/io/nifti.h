// NIfTI-1/-2 reading and writing (header parsing by nifti_clib, gzip by libdeflate).
#pragma once

#include "io/limits.h"
#include "voxir/volume.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
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
// the number of frames. Dimensions 5 to 7 must be 1. Dims, datatype, vox_offset and the gzip
// stream are checked against `limits` and the file's size before anything sized by the header is
// allocated (docs/limits.md): kInvalidInput for a header the file cannot hold or a stream longer
// than the header promises, kUnsupported for a valid image over max_gzip_bytes.
[[nodiscard]] Volume read_nifti(const std::filesystem::path& path,
                                std::vector<NiftiExtension>* extensions = nullptr,
                                std::optional<std::int64_t> frame = std::nullopt,
                                const ReadLimits& limits = {});

// A binary mask on a volume's grid: 1 where the stored value (after scl_slope/scl_inter) is
// above 0.5, else 0, in canonical order; the same voxels a thresholded read_nifti would give,
// without its float32 copy (a mask is a quarter of the memory).
struct Mask {
  Dims dims{};      // canonical
  Affine affine{};  // canonical voxel -> RAS mm
  std::vector<std::uint8_t> values;

  // The nx * ny values of canonical slice k.
  [[nodiscard]] std::span<const std::uint8_t> slice(std::int64_t k) const {
    const auto n = static_cast<std::size_t>(dims[0] * dims[1]);
    return std::span<const std::uint8_t>(values).subspan(static_cast<std::size_t>(k) * n, n);
  }
};

// Reads a 3-D NIfTI mask (any scalar datatype); errors as read_nifti.
[[nodiscard]] Mask read_nifti_mask(const std::filesystem::path& path, const ReadLimits& limits = {});

}  // namespace voxir::io
