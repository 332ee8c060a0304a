// Where a class or region lies in an indexed volume: its stored labels, else its predicted
// anatomy (voxir/predict.h). Used by --require and by results that say where the region lies.
#pragma once

#include "voxir/index.h"
#include "voxir/labels.h"
#include "voxir/predict.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

namespace voxir {

struct IndexedExtent {
  std::array<std::int64_t, 2> slices{-1, -1};
  bool predicted = false;
  double confidence = 1;  // 1 for stored labels
};

// The extent of `region` over stored class-presence bitsets; nullopt when on no slice.
// Requires v.presence_bytes > 0.
[[nodiscard]] std::optional<std::array<std::int64_t, 2>> stored_extent(const VolumeVectors& v,
                                                                       const Region& region);

// The prediction stored at ingest for `volume` (Index::predicted) when it was made with the knobs
// of `options` (PredictOptions::str()); nullopt otherwise (then predict at query time).
[[nodiscard]] std::optional<PredictedAnatomy> usable_prediction(const Index& index,
                                                                std::size_t volume,
                                                                const PredictOptions& options);
// The extent of `region` in a stored prediction; nullopt when it was predicted on no slice.
[[nodiscard]] std::optional<PredictedAnatomy::Extent> stored_extent(const PredictedAnatomy& p,
                                                                    const Region& region);

// Makes the predictor (which reads every volume's labels) only when an unlabelled volume needs it.
class RegionLocator {
 public:
  RegionLocator(const Index& index, const PredictOptions& options)
      : index_(index), options_(options) {}
  // Where `region` lies in volume `volume` (position in Index::volumes()); nullopt when absent.
  // An unlabelled volume's anatomy is the prediction stored at ingest, else predicted now from the
  // other volumes' labels; throws Error(kNotFound) when the index has none.
  [[nodiscard]] std::optional<IndexedExtent> locate(std::size_t volume, const Region& region);

 private:
  const Index& index_;
  PredictOptions options_;
  std::unique_ptr<AnatomyPredictor> predictor_;
};

}  // namespace voxir
