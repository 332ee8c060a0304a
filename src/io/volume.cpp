#include "voxir/volume.h"

#include "io/dicom.h"
#include "io/nifti.h"
#include "voxir/error.h"

#include <algorithm>

namespace voxir {

Volume::Volume(Dims dims, Vec3 spacing, Affine affine, std::vector<float> hu,
               std::string source_orientation)
    : dims_(dims),
      spacing_(spacing),
      affine_(affine),
      hu_(std::move(hu)),
      orientation_(std::move(source_orientation)) {
  if (static_cast<std::int64_t>(hu_.size()) != dims_[0] * dims_[1] * dims_[2]) {
    fail(ErrorKind::kInternal, "Volume: {} values for dims {}x{}x{}", hu_.size(), dims_[0], dims_[1],
         dims_[2]);
  }
}

std::span<const float> Volume::slice(std::int64_t k) const {
  if (k < 0 || k >= dims_[2]) fail(ErrorKind::kUsage, "slice {} out of range 0..{}", k, dims_[2] - 1);
  return std::span<const float>(hu_).subspan(static_cast<std::size_t>(k * slice_size()),
                                             static_cast<std::size_t>(slice_size()));
}

std::array<float, 2> Volume::hu_range() const {
  if (hu_.empty()) return {0, 0};
  const auto [lo, hi] = std::minmax_element(hu_.begin(), hu_.end());
  return {*lo, *hi};
}

Volume read_volume(const std::filesystem::path& path, const ReadOptions& options) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    fail(ErrorKind::kNotFound, "{}: no such file or folder (expected a NIfTI file or a DICOM folder)",
         path.string());
  }
  if (std::filesystem::is_directory(status)) return io::read_dicom_series(path, options);
  if (io::looks_like_nifti(path)) return io::read_nifti(path);
  if (io::looks_like_dicom(path)) {
    fail(ErrorKind::kUsage, "{}: is a single DICOM file; pass the folder holding its series",
         path.string());
  }
  return io::read_nifti(path);  // reports what the header lacks
}

}  // namespace voxir
