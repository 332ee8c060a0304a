#include "voxir/volume.h"

#include "io/dicom.h"
#include "io/nifti.h"
#include "voxir/error.h"

#include <algorithm>
#include <cmath>

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
  if (nonfinite_ > 0) return finite_range_;
  bool any = false;
  float lo = 0, hi = 0;
  for (const float v : hu_) {
    if (!std::isfinite(v)) continue;
    lo = any ? std::min(lo, v) : v;
    hi = any ? std::max(hi, v) : v;
    any = true;
  }
  return {lo, hi};
}

std::int64_t Volume::replace_nonfinite() {
  const auto range = hu_range();
  std::int64_t count = 0;
  for (float& v : hu_) {
    if (!std::isfinite(v)) {
      v = kOutsideScanHu;
      ++count;
    }
  }
  if (count > 0) {
    nonfinite_ += count;
    finite_range_ = range;
  }
  return count;
}

namespace {

Volume read_any(const std::filesystem::path& path, const ReadOptions& options) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    fail(ErrorKind::kNotFound, "{}: no such file or folder (expected a NIfTI file or a DICOM folder)",
         path.string());
  }
  if (std::filesystem::is_directory(status)) return io::read_dicom_series(path, options);
  if (io::looks_like_nifti(path)) return io::read_nifti(path, nullptr, options.frame);
  if (io::looks_like_dicom(path)) {
    fail(ErrorKind::kUsage, "{}: is a single DICOM file; pass the folder holding its series",
         path.string());
  }
  return io::read_nifti(path, nullptr, options.frame);  // reports what the header lacks
}

}  // namespace

Volume read_volume(const std::filesystem::path& path, const ReadOptions& options) {
  Volume volume = read_any(path, options);
  const std::int64_t nonfinite = volume.replace_nonfinite();
  const auto total = static_cast<std::int64_t>(volume.hu().size());
  if (nonfinite > 0 &&
      static_cast<double>(nonfinite) > kMaxNonfiniteFraction * static_cast<double>(total)) {
    fail(ErrorKind::kInvalidInput,
         "{}: {} of its {} voxels ({:.1f}%) are NaN or infinite; more than {:.0f}% is not a "
         "usable scan",
         path.string(), nonfinite, total,
         100.0 * static_cast<double>(nonfinite) / static_cast<double>(total),
         100 * kMaxNonfiniteFraction);
  }
  return volume;
}

}  // namespace voxir
