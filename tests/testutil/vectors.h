// Random-but-clustered slice vectors, like real volumes: each volume is a smooth random walk
// around one of a few cluster centres (volume v around centre v % clusters), L2-normalised.
// Deterministic for a seed.
// With shared_trajectory, the volumes of one cluster follow one common walk (the "anatomy" along
// the body axis) plus their own offset and per-slice jitter, so slice s of a volume has near
// neighbours in the other volumes of its cluster, as a liver slice has in other patients.
#pragma once

#include "voxir/index.h"

#include <cstdint>
#include <string>
#include <vector>

namespace voxir::testing {

struct ClusteredSetOptions {
  int volumes = 100;
  int slices = 50;
  int dim = 32;
  int clusters = 10;
  double spread = 0.6;  // distance of volume starts from their centre, relative to unit vectors
  double step = 0.15;   // random-walk step per slice
  std::uint32_t seed = 42;
  bool shared_trajectory = false;
  double jitter = 0.1;  // with shared_trajectory: per-slice noise of a volume around the walk
};

// Volumes named "v0000", "v0001", ... with their vectors; no labels.
[[nodiscard]] std::vector<VolumeVectors> clustered_set(const ClusteredSetOptions& options);

// In place: x += noise * N(0, 1) per component, then L2-normalised.
void perturb(std::vector<float>& x, int dim, double noise, std::uint32_t seed);

// Exact top-k rows of each query over `rows` (n_rows x dim), by plain loops.
void brute_force_knn(const std::vector<float>& queries, const std::vector<float>& rows, int dim,
                     int k, std::vector<std::int64_t>& ids, std::vector<float>& sims);

// All rows of a set, concatenated in order.
[[nodiscard]] std::vector<float> all_rows(const std::vector<VolumeVectors>& set);

}  // namespace voxir::testing
