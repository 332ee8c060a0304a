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

std::optional<PredictedAnatomy> usable_prediction(const Index& index, std::size_t volume,
                                                  const PredictOptions& options) {
  auto p = index.predicted(volume);
  if (!p || p->options != options.str()) return std::nullopt;
  return p;
}

std::optional<PredictedAnatomy::Extent> stored_extent(const PredictedAnatomy& p,
                                                      const Region& region) {
  for (const auto& e : p.extents) {
    if (e.coarse == region.coarse && e.name == region.name) return e;
  }
  return std::nullopt;
}

std::optional<IndexedExtent> RegionLocator::locate(std::size_t volume, const Region& region) {
  const VolumeVectors labels = index_.labels(volume);
  if (labels.presence_bytes > 0) {
    const auto e = stored_extent(labels, region);
    if (!e) return std::nullopt;
    return IndexedExtent{*e, false, 1.0};
  }
  if (const auto stored = usable_prediction(index_, volume, options_)) {
    const auto e = stored_extent(*stored, region);
    if (!e) return std::nullopt;
    return IndexedExtent{e->slices, true, e->confidence};
  }
  if (!predictor_) predictor_ = std::make_unique<AnatomyPredictor>(index_);
  const auto e = predictor_->predict_indexed(volume, options_).extent(region);
  if (!e) return std::nullopt;
  return IndexedExtent{e->slices, true, e->confidence};
}

}  // namespace voxir
