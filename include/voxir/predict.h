// voxir/predict.h: an unlabelled volume's anatomy, predicted from the labelled slices of an index
// (docs/predicted-anatomy.md).
//
// No segmentation model is needed: every labelled indexed slice records which catalogue classes
// it shows (voxir/index.h, presence). Each query slice takes its k nearest labelled slices; each
// neighbour votes for the classes it shows with weight exp((s - s_best) / tau), s its cosine
// similarity and s_best that of the slice's best neighbour; a class's probability on the slice is
// its share of the weight. A coarse region (voxir/labels.h) gets its own vote: a neighbour votes
// for it when it shows any of its classes. Probabilities are then averaged along z over
// 2 * smooth + 1 slices, so one odd neighbour does not open or close a region. A class's extent is
// the run of slices with probability >= threshold holding the most probability (runs apart by at
// most `smooth` slices are joined); its confidence is the mean probability over that run.
// Vectors follow voxir/index.h's contract (float32, L2-normalised, row-major).
//
// Ingest stores the prediction of every volume indexed without labels in the index
// (PredictedAnatomy, voxir/index.h; BuildOptions::predict in voxir/ingest.h), and search uses the
// stored one when its knobs are those of the query; older indexes are predicted at query time.
#pragma once

#include "voxir/index.h"
#include "voxir/labels.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace voxir {

// Knobs of one prediction; the defaults are those measured in docs/predicted-anatomy.md.
struct PredictOptions {
  int k = 10;              // labelled neighbours per slice: more = smoother votes, blurrier borders
  double tau = 0.02;       // similarity temperature of the vote weights: lower = nearest dominates
  int smooth = 2;          // half-width in slices of the moving average along z (0: none)
  double threshold = 0.5;  // probability at which a class counts as present on a slice
  // Indexed volumes that never vote (e.g. the query itself when it is indexed).
  std::vector<std::string> exclude;
  AnnParams ann;
  // Throws Error(kUsage) naming the bad knob.
  void validate() const;
  // The knobs that change a prediction, as text ("k=10,tau=0.02,smooth=2,threshold=0.5,ef=64,
  // nprobe=16,refine=50"; `exclude` is not part of it): a stored prediction is used only by
  // queries whose options give the same text.
  [[nodiscard]] std::string str() const;
};

struct PredictedExtent {
  Region region;                       // the class or coarse region
  std::array<std::int64_t, 2> slices;  // first and last slice, absolute, inclusive
  double confidence = 0;               // mean probability over those slices, in [threshold, 1]
};

// Per-slice probabilities of every class and coarse region of one volume's slices
// first_slice() .. first_slice() + num_slices() - 1. Immutable.
class AnatomyPrediction {
 public:
  AnatomyPrediction(std::int64_t first_slice, std::int64_t num_slices, std::vector<float> class_p,
                    std::vector<float> coarse_p, const PredictOptions& options);
  [[nodiscard]] std::int64_t first_slice() const { return first_slice_; }
  [[nodiscard]] std::int64_t num_slices() const { return num_slices_; }
  // Probability of `region` on absolute slice `slice` (after smoothing).
  [[nodiscard]] float probability(const Region& region, std::int64_t slice) const;
  // The predicted extent of `region`; nullopt when no slice reaches the threshold.
  [[nodiscard]] std::optional<PredictedExtent> extent(const Region& region) const;
  // Extents of all classes (catalogue order) or all coarse regions, those predicted present.
  [[nodiscard]] std::vector<PredictedExtent> extents(bool coarse) const;

 private:
  std::int64_t first_slice_ = 0;
  std::int64_t num_slices_ = 0;
  std::vector<float> class_p_;   // [class][slice]
  std::vector<float> coarse_p_;  // [region][slice]
  int smooth_ = 0;
  double threshold_ = 0.5;
};

// Predicts from one index. Holds the class presence of every labelled indexed slice (one bitset
// per slice, about 16 bytes). Thread-safe: predict() may run concurrently.
class AnatomyPredictor {
 public:
  // Throws Error(kNotFound) when no indexed volume has labels (nothing to learn from).
  explicit AnatomyPredictor(const Index& index);
  ~AnatomyPredictor();
  AnatomyPredictor(const AnatomyPredictor&) = delete;
  AnatomyPredictor& operator=(const AnatomyPredictor&) = delete;

  // Predicts slices first_slice .. first_slice + n - 1 from their n vectors (n * dim floats).
  // `content` (optional, n body areas in mm², Embedder::embed_measured) marks slices without a
  // body: they get probability 0 and vote for nothing. Throws Error(kUsage) when the vector count
  // is not a multiple of the index's dimension or content has another length.
  [[nodiscard]] AnatomyPrediction predict(std::span<const float> vectors, std::int64_t first_slice,
                                          std::span<const float> content,
                                          const PredictOptions& options = {}) const;

  // Predicts indexed volume `volume` (position in Index::volumes()) from its stored vectors and
  // content, the volume itself excluded from the vote (options.exclude gains its id): what a
  // query needs for an indexed volume without labels, and what ingest stores for it.
  [[nodiscard]] AnatomyPrediction predict_indexed(std::size_t volume,
                                                  const PredictOptions& options = {}) const;

  // Labelled volumes it learns from.
  [[nodiscard]] std::size_t labelled_volumes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The stored form of a prediction (voxir/index.h): per-slice presence at the threshold, the extents
// of every class and region predicted present, the knobs (options.str()) and its provenance.
[[nodiscard]] PredictedAnatomy to_stored(const AnatomyPrediction& prediction,
                                         const PredictOptions& options, std::int64_t generation,
                                         std::size_t labelled_volumes);

// Predicts the indexed volumes named by `ids` (empty: every volume without labels) with
// predict_indexed and returns their stored forms, for WriteOptions::predict. Volumes with labels
// are skipped; an index without any labelled volume gives nothing (there is nothing to learn
// from; search then reports so when a query needs it).
[[nodiscard]] std::vector<std::pair<std::string, PredictedAnatomy>> predict_unlabelled(
    const Index& index, std::span<const std::string> ids = {}, const PredictOptions& options = {});

class Embedder;
class Volume;

// Embeds every slice of `volume` with `embedder` (nullptr: one made from the index's embedder
// spec; it must match the index) and predicts its anatomy. What `info --predict-regions` does.
// Throws as AnatomyPredictor and check_same_embedder (voxir/index.h) do, and what embedding throws.
[[nodiscard]] AnatomyPrediction predict_anatomy(const Index& index, const Volume& volume,
                                                const PredictOptions& options = {},
                                                const Embedder* embedder = nullptr);

}  // namespace voxir
