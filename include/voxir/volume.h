// voxir/volume.h: a CT volume in voxir's canonical voxel order, and how to read one.
//
// Voxel order contract (docs/method.md §1), fixed here and assumed everywhere else:
//   * voxel (i, j, k) is stored at hu()[i + nx * (j + ny * k)]: i fastest, then j, then k;
//   * canonical order is RAS+: i grows towards the patient's Right, j towards Anterior, k towards
//     Superior. Slice k = 0 is the most inferior axial slice;
//   * spacing() is the voxel size in mm along i, j, k;
//   * affine() maps a canonical voxel index (i, j, k, 1) to RAS world coordinates in mm (the
//     NIfTI convention). It is the source's own geometry, re-expressed for the canonical order;
//   * values are Hounsfield units as float32, after the file's rescale (NIfTI scl_slope/scl_inter,
//     DICOM RescaleSlope/RescaleIntercept) has been applied;
//   * values are finite: read_volume replaces NaN and infinite voxels (common after resampling
//     in other tools) by kOutsideScanHu, i.e. treats them as outside the scanned field, and
//     refuses a volume in which they are the majority. nonfinite_voxels() says how many there were.
// Whatever order a file stores (LPS, PIL, slices head-first...), readers bring it to this one by
// permuting and flipping axes only: no interpolation happens, so values are never blurred. An
// oblique source (axes not parallel to the RAS axes) is mapped to the nearest axis order, as
// nibabel's as_closest_canonical does; affine() keeps the exact oblique geometry.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace voxir {

using Vec3 = std::array<double, 3>;
using Affine = std::array<std::array<double, 4>, 4>;  // row-major, last row 0 0 0 1
using Dims = std::array<std::int64_t, 3>;

// The value read_volume gives NaN and infinite voxels: air, as scanners store voxels outside the
// reconstructed field of view. Embedders see them as outside the body.
inline constexpr float kOutsideScanHu = -1024.0f;
// read_volume refuses a volume when more than this fraction of its voxels are NaN or infinite:
// what is left is no longer a scan (an all-NaN file would otherwise embed as empty air).
inline constexpr double kMaxNonfiniteFraction = 0.5;

class Volume {
 public:
  Volume() = default;
  // Takes ownership of `hu`, which must hold dims[0]*dims[1]*dims[2] values in canonical order.
  // `source_orientation` is the axis code of the file before reorientation, e.g. "LPS" or "RAS".
  // Throws Error(kInternal) when hu.size() does not match dims.
  Volume(Dims dims, Vec3 spacing, Affine affine, std::vector<float> hu,
         std::string source_orientation);

  [[nodiscard]] const Dims& dims() const noexcept { return dims_; }
  [[nodiscard]] std::int64_t nx() const noexcept { return dims_[0]; }
  [[nodiscard]] std::int64_t ny() const noexcept { return dims_[1]; }
  [[nodiscard]] std::int64_t nz() const noexcept { return dims_[2]; }
  [[nodiscard]] std::int64_t slice_size() const noexcept { return dims_[0] * dims_[1]; }
  [[nodiscard]] const Vec3& spacing() const noexcept { return spacing_; }
  [[nodiscard]] const Affine& affine() const noexcept { return affine_; }
  [[nodiscard]] const std::string& source_orientation() const noexcept { return orientation_; }

  [[nodiscard]] std::span<const float> hu() const noexcept { return hu_; }
  [[nodiscard]] std::span<float> hu() noexcept { return hu_; }
  // The axial slice k (0 = most inferior), nx*ny values, i fastest.
  [[nodiscard]] std::span<const float> slice(std::int64_t k) const;
  [[nodiscard]] float at(std::int64_t i, std::int64_t j, std::int64_t k) const {
    return hu_[static_cast<std::size_t>(i + dims_[0] * (j + dims_[1] * k))];
  }

  // Smallest and largest finite HU value, not counting the voxels replace_nonfinite() replaced
  // (their range is remembered when they are replaced); {0, 0} when there is none.
  [[nodiscard]] std::array<float, 2> hu_range() const;

  // Replaces every NaN or infinite voxel by kOutsideScanHu and returns how many there were;
  // remembers the count (nonfinite_voxels()) and the range of the finite values (hu_range()).
  // read_volume calls it on everything it reads.
  std::int64_t replace_nonfinite();
  // Voxels replace_nonfinite() found NaN or infinite (0 for a volume that never went through it).
  [[nodiscard]] std::int64_t nonfinite_voxels() const noexcept { return nonfinite_; }

 private:
  Dims dims_{0, 0, 0};
  Vec3 spacing_{1, 1, 1};
  Affine affine_{};
  std::vector<float> hu_;
  std::string orientation_;
  std::int64_t nonfinite_ = 0;
  std::array<float, 2> finite_range_{0, 0};  // valid when nonfinite_ > 0
};

// Slice content (which slices show any body). Slices with less than kMinContentMm2 of body are
// "empty" (air above the head, padding, a slice outside the patient): they carry nothing to match,
// and empty slices of two scans are identical, so the index and the searcher leave them out
// (voxir/index.h, voxir/search.h); embedders measure the area (voxir/embed.h). The threshold's
// measurement is in docs/embedders.md.
inline constexpr double kMinContentMm2 = 100;  // 1 cm²
// HU above which a voxel counts as body in the intensity test (as the built-in body mask).
inline constexpr float kBodyHu = -300.0f;

struct ReadOptions {
  // For a DICOM folder holding several series: the SeriesInstanceUID to read. Empty: the folder
  // must hold exactly one series, else the error lists the series found.
  std::string series_uid;
  // DICOM series whose slice positions are unevenly spaced (missing slices, variable pitch) are
  // refused unless this is set; then they are resampled linearly onto the smallest spacing found.
  bool resample_uneven = false;
  // The frame (0-based) to read from a 4-D input: the 4th dimension of a NIfTI file, or one phase
  // of a multi-phase DICOM series (files told apart by TemporalPositionIdentifier, else by
  // AcquisitionNumber, frames in ascending order of that number). Unset: a 4-D input is refused
  // with an error naming --frame and the number of frames. A 3-D input has one frame, 0.
  std::optional<std::int64_t> frame;
};

// Reads a CT volume: a NIfTI-1 or NIfTI-2 file (.nii or .nii.gz, told by its header, not its
// name) or a folder holding a DICOM CT series. Returns it in canonical order (see above).
// NaN and infinite voxels become kOutsideScanHu (see the contract above).
// Throws Error naming the file and what is wrong: kNotFound, kInvalidInput (corrupt or truncated
// file, absurd header, more than kMaxNonfiniteFraction of the voxels NaN or infinite),
// kUnsupported (datatype, tilted gantry, non-CT modality), kIo, kUsage (a DICOM folder with
// several series and no series_uid; a 4-D input without frame, or a frame it does not have).
// DICOM rules: docs/io.md.
[[nodiscard]] Volume read_volume(const std::filesystem::path& path,
                                 const ReadOptions& options = {});

enum class NiftiDatatype { kUint8, kInt16, kFloat32 };

// Writes `volume` as NIfTI-1 with its affine as sform and qform (code 1, scanner anatomical), in
// canonical order. Values are rounded and clamped to the datatype (NaN, which no integer type
// holds, is written as kOutsideScanHu clamped to it; float32 keeps it). A path ending in .gz is
// gzip-compressed. The file is written to a temporary name and renamed, so a failure never
// leaves a half-written file under `path` (it is not fsynced: callers that need durability
// across power loss sync the folder themselves). Throws Error(kIo) on failure.
void write_nifti(const Volume& volume, const std::filesystem::path& path,
                 NiftiDatatype datatype = NiftiDatatype::kInt16);

}  // namespace voxir
