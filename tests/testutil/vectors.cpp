#include "testutil/vectors.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace voxir::testing {
namespace {

void normalise(float* x, int dim) {
  double norm = 0;
  for (int j = 0; j < dim; ++j) norm += double(x[j]) * x[j];
  const auto inv = static_cast<float>(1.0 / std::sqrt(std::max(norm, 1e-30)));
  for (int j = 0; j < dim; ++j) x[j] *= inv;
}

}  // namespace

std::vector<VolumeVectors> clustered_set(const ClusteredSetOptions& o) {
  std::mt19937 rng(o.seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  const auto d = static_cast<std::size_t>(o.dim);
  std::vector<float> centres(static_cast<std::size_t>(o.clusters) * d);
  for (auto& c : centres) c = gauss(rng);
  for (int c = 0; c < o.clusters; ++c)
    normalise(centres.data() + static_cast<std::size_t>(c) * d, o.dim);
  const float walk_scale = static_cast<float>(o.step / std::sqrt(double(o.dim)));
  const float start_scale = static_cast<float>(o.spread / std::sqrt(double(o.dim)));
  // Common walks, one per cluster (used with shared_trajectory).
  std::vector<float> walks;
  if (o.shared_trajectory) {
    walks.resize(static_cast<std::size_t>(o.clusters) * static_cast<std::size_t>(o.slices) * d);
    for (int c = 0; c < o.clusters; ++c) {
      std::vector<float> pos(
          centres.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(c) * d),
          centres.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(c + 1) * d));
      for (int s = 0; s < o.slices; ++s) {
        for (std::size_t j = 0; j < d; ++j) pos[j] += walk_scale * gauss(rng);
        std::copy(
            pos.begin(), pos.end(),
            walks.begin() + static_cast<std::ptrdiff_t>(
                                (static_cast<std::size_t>(c) * static_cast<std::size_t>(o.slices) +
                                 static_cast<std::size_t>(s)) *
                                d));
      }
    }
  }
  const float jitter_scale = static_cast<float>(o.jitter / std::sqrt(double(o.dim)));
  std::vector<VolumeVectors> out;
  for (int v = 0; v < o.volumes; ++v) {
    VolumeVectors vv;
    vv.volume.id = fmt::format("v{:04d}", v);
    vv.volume.source = fmt::format("/synthetic/{}.nii.gz", vv.volume.id);
    vv.volume.dims = {8, 8, o.slices};
    vv.volume.num_slices = o.slices;
    vv.volume.split = "train";
    const float* centre = centres.data() + static_cast<std::size_t>(v % o.clusters) * d;
    std::vector<float> pos(d);
    for (std::size_t j = 0; j < d; ++j) pos[j] = centre[j] + start_scale * gauss(rng);
    vv.vectors.resize(static_cast<std::size_t>(o.slices) * d);
    std::vector<float> offset(d);
    for (std::size_t j = 0; j < d; ++j) offset[j] = start_scale * gauss(rng);
    for (int s = 0; s < o.slices; ++s) {
      float* row = vv.vectors.data() + static_cast<std::size_t>(s) * d;
      if (o.shared_trajectory) {
        const float* walk = walks.data() + (static_cast<std::size_t>(v % o.clusters) *
                                                static_cast<std::size_t>(o.slices) +
                                            static_cast<std::size_t>(s)) *
                                               d;
        for (std::size_t j = 0; j < d; ++j)
          row[j] = walk[j] + offset[j] + jitter_scale * gauss(rng);
      } else {
        for (std::size_t j = 0; j < d; ++j) pos[j] += walk_scale * gauss(rng);
        std::copy(pos.begin(), pos.end(), row);
      }
      normalise(row, o.dim);
    }
    out.push_back(std::move(vv));
  }
  return out;
}

void perturb(std::vector<float>& x, int dim, double noise, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> gauss(0.0f, static_cast<float>(noise / std::sqrt(double(dim))));
  for (auto& v : x) v += gauss(rng);
  for (std::size_t r = 0; r < x.size() / static_cast<std::size_t>(dim); ++r)
    normalise(x.data() + r * static_cast<std::size_t>(dim), dim);
}

void brute_force_knn(const std::vector<float>& queries, const std::vector<float>& rows, int dim,
                     int k, std::vector<std::int64_t>& ids, std::vector<float>& sims) {
  const auto d = static_cast<std::size_t>(dim);
  const std::size_t nq = queries.size() / d, nr = rows.size() / d;
  ids.assign(nq * static_cast<std::size_t>(k), -1);
  sims.assign(ids.size(), 0);
  std::vector<std::pair<double, std::int64_t>> scored(nr);
  for (std::size_t i = 0; i < nq; ++i) {
    for (std::size_t r = 0; r < nr; ++r) {
      double dot = 0;
      for (std::size_t j = 0; j < d; ++j) dot += double(queries[i * d + j]) * rows[r * d + j];
      scored[r] = {dot, static_cast<std::int64_t>(r)};
    }
    std::partial_sort(scored.begin(), scored.begin() + k, scored.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first; });
    for (int r = 0; r < k; ++r) {
      ids[i * static_cast<std::size_t>(k) + static_cast<std::size_t>(r)] =
          scored[static_cast<std::size_t>(r)].second;
      sims[i * static_cast<std::size_t>(k) + static_cast<std::size_t>(r)] =
          static_cast<float>(scored[static_cast<std::size_t>(r)].first);
    }
  }
}

std::vector<float> all_rows(const std::vector<VolumeVectors>& set) {
  std::vector<float> out;
  for (const auto& v : set) out.insert(out.end(), v.vectors.begin(), v.vectors.end());
  return out;
}

}  // namespace voxir::testing
