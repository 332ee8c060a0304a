#include "search/region_extent.h"

#include "voxir/error.h"

namespace voxir {

std::optional<std::array<std::int64_t, 2>> stored_extent(const VolumeVectors& v,
                                                         const Region& region) {
  const auto classes = ClassCatalog::builtin().region_classes(region);
  std::optional<std::array<std::int64_t, 2>> out;
  for (std::int64_t k = 0; k < v.volume.num_slices; ++k) {
    const std::uint8_t* row = v.presence.data() + k * v.presence_bytes;
    for (const int c : classes) {
      if (c / 8 >= v.presence_bytes || ((row[c / 8] >> (c % 8)) & 1) == 0) continue;
      if (!out) out = std::array<std::int64_t, 2>{k, k};
      (*out)[1] = k;
      break;
    }
  }
  return out;
}

std::optional<IndexedExtent> RegionLocator::locate(std::size_t volume, const Region& region) {
  const VolumeVectors labels = index_.labels(volume);
  if (labels.presence_bytes > 0) {
    const auto e = stored_extent(labels, region);
    if (!e) return std::nullopt;
    return IndexedExtent{*e, false, 1.0};
  }
  if (!predictor_) predictor_ = std::make_unique<AnatomyPredictor>(index_);
  PredictOptions options = options_;
  options.exclude.push_back(index_.volumes()[volume].id);  // a volume never votes for itself
  const auto e =
      predictor_->predict(index_.volume_vectors(volume), 0, index_.content(volume), options)
          .extent(region);
  if (!e) return std::nullopt;
  return IndexedExtent{e->slices, true, e->confidence};
}

}  // namespace voxir
