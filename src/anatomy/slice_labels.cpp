#include "voxir/labels.h"

namespace voxir {

SliceLabels::SliceLabels(const ClassCatalog& catalog, std::int64_t num_slices)
    : catalog_(&catalog),
      num_slices_(num_slices),
      counts_(catalog.classes().size() * static_cast<std::size_t>(num_slices), 0) {}

std::optional<std::array<std::int64_t, 2>> SliceLabels::extent(int class_index,
                                                               std::uint32_t min_voxels) const {
  std::int64_t first = -1;
  std::int64_t last = -1;
  for (std::int64_t k = 0; k < num_slices_; ++k) {
    if (!present(class_index, k, min_voxels)) continue;
    if (first < 0) first = k;
    last = k;
  }
  if (first < 0) return std::nullopt;
  return std::array<std::int64_t, 2>{first, last};
}

bool SliceLabels::coarse_present(int coarse_index, std::int64_t k, std::uint32_t min_voxels) const {
  const auto classes = catalog_->classes();
  for (const auto& c : classes) {
    if (catalog_->coarse_index(c.index) == coarse_index && present(c.index, k, min_voxels)) return true;
  }
  return false;
}

std::optional<std::array<std::int64_t, 2>> SliceLabels::coarse_extent(int coarse_index,
                                                                      std::uint32_t min_voxels) const {
  std::optional<std::array<std::int64_t, 2>> out;
  for (const auto& c : catalog_->classes()) {
    if (catalog_->coarse_index(c.index) != coarse_index) continue;
    const auto e = extent(c.index, min_voxels);
    if (!e) continue;
    if (!out) {
      out = e;
    } else {
      (*out)[0] = std::min((*out)[0], (*e)[0]);
      (*out)[1] = std::max((*out)[1], (*e)[1]);
    }
  }
  return out;
}

std::optional<std::array<std::int64_t, 2>> SliceLabels::extent(const Region& region,
                                                               std::uint32_t min_voxels) const {
  return region.coarse ? coarse_extent(region.index, min_voxels) : extent(region.index, min_voxels);
}

}  // namespace voxir
