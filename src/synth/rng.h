// A seeded random source whose outputs are the same on every platform: std::mt19937_64 is fully
// specified by the standard, but std::*_distribution are not, so the distributions are written
// out here.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

namespace voxir::synth {

// splitmix64 finaliser: derives independent seeds from (seed, stream) pairs.
[[nodiscard]] constexpr std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  // 64 raw random bits (e.g. to seed another stream).
  std::uint64_t bits() { return engine_(); }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [lo, hi].
  int uniform_int(int lo, int hi) {
    const auto span = static_cast<std::uint64_t>(hi - lo + 1);
    return lo + static_cast<int>(engine_() % span);
  }
  bool chance(double p) { return uniform() < p; }
  // Standard normal by Box-Muller (one value per call; simplicity over speed).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  double normal(double mean, double sd) { return mean + sd * normal(); }
  // x scaled by a factor uniform in [1 - rel, 1 + rel].
  double jitter(double x, double rel) { return x * uniform(1.0 - rel, 1.0 + rel); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace voxir::synth
