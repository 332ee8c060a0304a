// Predicted anatomy (voxir/predict.h): k nearest labelled slices vote, votes are smoothed along z.
#include "voxir/predict.h"

#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/volume.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

namespace voxir {
namespace {

using Range = std::array<std::int64_t, 2>;

// The run of slices >= threshold holding the most probability; runs apart by at most `gap`
// slices count as one (a region seen on slices 10..40 with one doubtful slice at 25 is one organ).
std::optional<std::pair<Range, double>> best_run(std::span<const float> p, double threshold,
                                                 int gap) {
  std::optional<std::pair<Range, double>> best;
  double best_mass = 0;
  const auto n = static_cast<std::int64_t>(p.size());
  std::int64_t k = 0;
  while (k < n) {
    if (p[static_cast<std::size_t>(k)] < threshold) {
      ++k;
      continue;
    }
    Range run{k, k};
    double mass = 0;
    int inside = 0;
    std::int64_t j = k;
    while (j < n) {
      if (p[static_cast<std::size_t>(j)] >= threshold) {
        run[1] = j;
        ++j;
        continue;
      }
      std::int64_t next = j;
      while (next < n && p[static_cast<std::size_t>(next)] < threshold) ++next;
      if (next >= n || next - j > gap) break;
      j = next;
    }
    for (std::int64_t s = run[0]; s <= run[1]; ++s) {
      mass += p[static_cast<std::size_t>(s)];
      ++inside;
    }
    if (!best || mass > best_mass) {
      best_mass = mass;
      best = std::pair{run, mass / inside};
    }
    k = run[1] + 1;
  }
  return best;
}

// Moving average over 2 * half + 1 slices, over the slices that have a body only.
void smooth_rows(std::vector<float>& p, std::size_t rows, std::int64_t n, int half,
                 const std::vector<bool>& body) {
  if (half <= 0) return;
  std::vector<float> row(static_cast<std::size_t>(n));
  for (std::size_t r = 0; r < rows; ++r) {
    float* v = p.data() + r * static_cast<std::size_t>(n);
    for (std::int64_t k = 0; k < n; ++k) {
      if (!body[static_cast<std::size_t>(k)]) {
        row[static_cast<std::size_t>(k)] = 0;
        continue;
      }
      double sum = 0;
      int used = 0;
      for (std::int64_t j = std::max<std::int64_t>(0, k - half); j <= std::min(n - 1, k + half);
           ++j) {
        if (!body[static_cast<std::size_t>(j)]) continue;
        sum += v[j];
        ++used;
      }
      row[static_cast<std::size_t>(k)] = static_cast<float>(sum / used);
    }
    std::copy(row.begin(), row.end(), v);
  }
}

}  // namespace

void PredictOptions::validate() const {
  ann.validate();
  if (k < 1) fail(ErrorKind::kUsage, "prediction k = {}: needs at least 1 neighbour per slice", k);
  if (!(tau > 0)) fail(ErrorKind::kUsage, "prediction tau = {}: must be > 0", tau);
  if (smooth < 0) fail(ErrorKind::kUsage, "prediction smoothing = {}: must be >= 0", smooth);
  if (!(threshold > 0 && threshold <= 1))
    fail(ErrorKind::kUsage, "prediction threshold = {}: must be in (0, 1]", threshold);
}

std::string PredictOptions::str() const {
  return fmt::format("k={},tau={},smooth={},threshold={},ef={},nprobe={},refine={}", k, tau,
                     smooth, threshold, ann.ef_search, ann.nprobe, ann.refine);
}

AnatomyPrediction::AnatomyPrediction(std::int64_t first_slice, std::int64_t num_slices,
                                     std::vector<float> class_p, std::vector<float> coarse_p,
                                     const PredictOptions& options)
    : first_slice_(first_slice),
      num_slices_(num_slices),
      class_p_(std::move(class_p)),
      coarse_p_(std::move(coarse_p)),
      smooth_(options.smooth),
      threshold_(options.threshold) {}

float AnatomyPrediction::probability(const Region& region, std::int64_t slice) const {
  if (slice < first_slice_ || slice >= first_slice_ + num_slices_) return 0;
  const auto& p = region.coarse ? coarse_p_ : class_p_;
  return p[static_cast<std::size_t>(region.index * num_slices_ + slice - first_slice_)];
}

std::optional<PredictedExtent> AnatomyPrediction::extent(const Region& region) const {
  const auto& p = region.coarse ? coarse_p_ : class_p_;
  const auto row = std::span(p).subspan(static_cast<std::size_t>(region.index * num_slices_),
                                        static_cast<std::size_t>(num_slices_));
  const auto run = best_run(row, threshold_, std::max(1, smooth_));
  if (!run) return std::nullopt;
  return PredictedExtent{
      region, {run->first[0] + first_slice_, run->first[1] + first_slice_}, run->second};
}

std::vector<PredictedExtent> AnatomyPrediction::extents(bool coarse) const {
  const ClassCatalog& cat = ClassCatalog::builtin();
  std::vector<PredictedExtent> out;
  const std::size_t count = coarse ? cat.coarse_regions().size() : cat.classes().size();
  for (std::size_t i = 0; i < count; ++i) {
    const std::string& name = coarse ? cat.coarse_regions()[i] : cat.classes()[i].name;
    if (auto e = extent(Region{name, coarse, static_cast<int>(i)})) out.push_back(std::move(*e));
  }
  return out;
}

struct AnatomyPredictor::Impl {
  const Index* index = nullptr;
  int bytes = 0;                                 // presence bytes per row (the widest of the index)
  std::vector<std::uint8_t> presence;            // [row][bytes]
  std::vector<bool> labelled;                    // per row
  std::int64_t labelled_rows = 0;
  std::vector<std::vector<int>> coarse_classes;  // coarse region -> class indices
  std::size_t volumes = 0;
};

AnatomyPredictor::AnatomyPredictor(const Index& index) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.index = &index;
  const ClassCatalog& cat = ClassCatalog::builtin();
  m.bytes = static_cast<int>((cat.classes().size() + 7) / 8);
  m.presence.assign(static_cast<std::size_t>(index.num_vectors() * m.bytes), 0);
  m.labelled.assign(static_cast<std::size_t>(index.num_vectors()), false);
  for (std::size_t v = 0; v < index.volumes().size(); ++v) {
    const VolumeVectors labels = index.labels(v);
    if (labels.presence_bytes == 0) continue;
    ++m.volumes;
    const auto& info = index.volumes()[v];
    const int b = std::min(labels.presence_bytes, m.bytes);
    for (std::int64_t k = 0; k < info.num_slices; ++k) {
      const auto row = static_cast<std::size_t>(info.first_row + k);
      m.labelled[row] = true;
      ++m.labelled_rows;
      std::copy_n(labels.presence.begin() + k * labels.presence_bytes, b,
                  m.presence.begin() + static_cast<std::ptrdiff_t>(row) * m.bytes);
    }
  }
  if (m.volumes == 0) {
    fail(ErrorKind::kNotFound,
         "{}: none of its {} volumes has labels, so there is nothing to predict anatomy from "
         "(index labelled volumes, e.g. a TotalSegmentator dataset, or give the query's labels)",
         index.dir().string(), index.volumes().size());
  }
  m.coarse_classes.resize(cat.coarse_regions().size());
  for (const auto& c : cat.classes()) {
    if (const int r = cat.coarse_index(c.index); r >= 0)
      m.coarse_classes[static_cast<std::size_t>(r)].push_back(c.index);
  }
}

AnatomyPredictor::~AnatomyPredictor() = default;

std::size_t AnatomyPredictor::labelled_volumes() const {
  return impl_->volumes;
}

AnatomyPrediction AnatomyPredictor::predict(std::span<const float> vectors,
                                            std::int64_t first_slice,
                                            std::span<const float> content,
                                            const PredictOptions& options) const {
  options.validate();
  const Impl& m = *impl_;
  const Index& index = *m.index;
  const auto dim = static_cast<std::size_t>(index.dim());
  if (vectors.size() % dim != 0) {
    fail(ErrorKind::kUsage, "prediction: {} floats are not a multiple of the index's {} dimensions",
         vectors.size(), dim);
  }
  const auto n = static_cast<std::int64_t>(vectors.size() / dim);
  if (!content.empty() && content.size() != static_cast<std::size_t>(n))
    fail(ErrorKind::kUsage, "prediction: content holds {} values for {} vectors", content.size(),
         n);
  const ClassCatalog& cat = ClassCatalog::builtin();
  const std::size_t classes = cat.classes().size();
  const std::size_t regions = cat.coarse_regions().size();
  std::vector<float> class_p(classes * static_cast<std::size_t>(n), 0.f);
  std::vector<float> coarse_p(regions * static_cast<std::size_t>(n), 0.f);
  std::vector<bool> body(static_cast<std::size_t>(n), true);
  std::vector<float> packed;
  std::vector<std::int64_t> position;
  for (std::int64_t i = 0; i < n; ++i) {
    if (!content.empty() && !(content[static_cast<std::size_t>(i)] >= kMinContentMm2)) {
      body[static_cast<std::size_t>(i)] = false;
      continue;
    }
    position.push_back(i);
    packed.insert(packed.end(), vectors.begin() + static_cast<std::ptrdiff_t>(i * dim),
                  vectors.begin() + static_cast<std::ptrdiff_t>((i + 1) * dim));
  }
  const auto used = static_cast<std::int64_t>(position.size());
  if (used > 0) {
    // Unlabelled, empty and excluded rows are skipped, so more than k are fetched: the excluded
    // labelled volumes' slices in full, and 4k scaled by the share of unlabelled rows for the
    // rest (an archive of mostly unlabelled volumes would otherwise leave slices without votes;
    // a slice that still gets fewer than k only has a wider vote).
    const std::unordered_set<std::string> exclude(options.exclude.begin(), options.exclude.end());
    std::int64_t excluded = 0;
    for (const auto& id : exclude) {
      const auto* v = index.find(id);
      if (v != nullptr && m.labelled[static_cast<std::size_t>(v->first_row)]) excluded += v->num_slices;
    }
    const std::int64_t wanted =
        (4 * options.k * index.num_vectors() + m.labelled_rows - 1) / m.labelled_rows;
    const int fetch = static_cast<int>(std::min<std::int64_t>(wanted + excluded, index.num_vectors()));
    std::vector<std::int64_t> ids(static_cast<std::size_t>(used * fetch));
    std::vector<float> sims(ids.size());
    index.search(packed, used, fetch, options.ann, ids, sims);
    std::vector<double> weight(static_cast<std::size_t>(options.k));
    std::vector<std::int64_t> rows(static_cast<std::size_t>(options.k));
    for (std::int64_t q = 0; q < used; ++q) {
      int taken = 0;
      float best = -std::numeric_limits<float>::infinity();
      for (int r = 0; r < fetch && taken < options.k; ++r) {
        const auto at = static_cast<std::size_t>(q * fetch + r);
        const std::int64_t row = ids[at];
        if (row < 0 || !m.labelled[static_cast<std::size_t>(row)] || !index.row_has_content(row))
          continue;
        if (excluded > 0 && exclude.count(index.volumes()[index.volume_of_row(row)].id) != 0)
          continue;
        best = std::max(best, sims[at]);
        rows[static_cast<std::size_t>(taken)] = row;
        weight[static_cast<std::size_t>(taken)] = sims[at];
        ++taken;
      }
      if (taken == 0) continue;
      double total = 0;
      for (int t = 0; t < taken; ++t) {
        auto& w = weight[static_cast<std::size_t>(t)];
        w = std::exp((w - best) / options.tau);
        total += w;
      }
      const auto slice = static_cast<std::size_t>(position[static_cast<std::size_t>(q)]);
      const auto un = static_cast<std::size_t>(n);
      for (int t = 0; t < taken; ++t) {
        const double w = weight[static_cast<std::size_t>(t)] / total;
        const std::uint8_t* bits =
            m.presence.data() + static_cast<std::size_t>(rows[static_cast<std::size_t>(t)]) *
                                    static_cast<std::size_t>(m.bytes);
        for (std::size_t c = 0; c < classes; ++c) {
          if ((bits[c / 8] >> (c % 8)) & 1) class_p[c * un + slice] += static_cast<float>(w);
        }
        for (std::size_t r = 0; r < regions; ++r) {
          for (const int c : m.coarse_classes[r]) {
            if ((bits[c / 8] >> (c % 8)) & 1) {
              coarse_p[r * un + slice] += static_cast<float>(w);
              break;
            }
          }
        }
      }
    }
  }
  smooth_rows(class_p, classes, n, options.smooth, body);
  smooth_rows(coarse_p, regions, n, options.smooth, body);
  return AnatomyPrediction(first_slice, n, std::move(class_p), std::move(coarse_p), options);
}

AnatomyPrediction AnatomyPredictor::predict_indexed(std::size_t volume,
                                                    const PredictOptions& options) const {
  const Index& index = *impl_->index;
  PredictOptions own = options;
  own.exclude.push_back(index.volumes()[volume].id);  // a volume never votes for itself
  return predict(index.volume_vectors(volume), 0, index.content(volume), own);
}

PredictedAnatomy to_stored(const AnatomyPrediction& prediction, const PredictOptions& options,
                           std::int64_t generation, std::size_t labelled_volumes) {
  const ClassCatalog& cat = ClassCatalog::builtin();
  PredictedAnatomy out;
  out.generation = generation;
  out.labelled_volumes = static_cast<std::int64_t>(labelled_volumes);
  out.options = options.str();
  const std::int64_t n = prediction.num_slices();
  const auto bits = [&](bool coarse, int& bytes, std::vector<std::uint8_t>& set) {
    const std::size_t count = coarse ? cat.coarse_regions().size() : cat.classes().size();
    bytes = static_cast<int>((count + 7) / 8);
    set.assign(static_cast<std::size_t>(n * bytes), 0);
    for (std::size_t i = 0; i < count; ++i) {
      const std::string& name = coarse ? cat.coarse_regions()[i] : cat.classes()[i].name;
      const Region region{name, coarse, static_cast<int>(i)};
      for (std::int64_t k = 0; k < n; ++k) {
        if (prediction.probability(region, prediction.first_slice() + k) < options.threshold)
          continue;
        set[static_cast<std::size_t>(k * bytes) + i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
      }
    }
    for (const auto& e : prediction.extents(coarse))
      out.extents.push_back({e.region.name, coarse, e.slices, e.confidence});
  };
  bits(false, out.class_bytes, out.classes);
  bits(true, out.region_bytes, out.regions);
  return out;
}

std::vector<std::pair<std::string, PredictedAnatomy>> predict_unlabelled(
    const Index& index, std::span<const std::string> ids, const PredictOptions& options) {
  options.validate();
  std::vector<std::size_t> todo;
  if (ids.empty()) {
    for (std::size_t v = 0; v < index.volumes().size(); ++v) todo.push_back(v);
  } else {
    for (const auto& id : ids) {
      const IndexedVolume* v = index.find(id);
      if (v == nullptr) fail(ErrorKind::kNotFound, "{}: no indexed volume '{}'", index.dir().string(), id);
      todo.push_back(static_cast<std::size_t>(v - index.volumes().data()));
    }
  }
  std::erase_if(todo, [&](std::size_t v) { return index.labels(v).presence_bytes > 0; });
  std::vector<std::pair<std::string, PredictedAnatomy>> out;
  if (todo.empty()) return out;
  std::unique_ptr<AnatomyPredictor> predictor;
  try {
    predictor = std::make_unique<AnatomyPredictor>(index);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return out;  // no labelled volume: nothing to store
    throw;
  }
  for (const std::size_t v : todo) {
    out.emplace_back(index.volumes()[v].id,
                     to_stored(predictor->predict_indexed(v, options), options, index.generation(),
                               predictor->labelled_volumes()));
  }
  return out;
}

}  // namespace voxir

namespace voxir {

AnatomyPrediction predict_anatomy(const Index& index, const Volume& volume,
                                  const PredictOptions& options, const Embedder* embedder) {
  std::unique_ptr<Embedder> own;
  if (embedder == nullptr) {
    own = make_embedder(index.embedder().spec);
    embedder = own.get();
  }
  check_same_embedder(index.embedder(),
                      {embedder->spec(), embedder->fingerprint(), embedder->dim()});
  const AnatomyPredictor predictor(index);
  std::vector<float> vectors(static_cast<std::size_t>(volume.nz() * embedder->dim()));
  std::vector<float> content(static_cast<std::size_t>(volume.nz()));
  embedder->embed_measured(volume, 0, volume.nz(), vectors, content);
  return predictor.predict(vectors, 0, content, options);
}

}  // namespace voxir
