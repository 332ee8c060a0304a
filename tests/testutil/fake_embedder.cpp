#include "testutil/fake_embedder.h"

#include "voxir/volume.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace voxir::testing {

std::string FakeEmbedder::spec() const {
  return fmt::format("fake:thumb{}", side_);
}

std::string FakeEmbedder::fingerprint() const {
  return fmt::format("fake-thumb;side={};window={};pool=mean", side_, window_);
}

void FakeEmbedder::embed(const Volume& volume, std::int64_t k0, std::int64_t k1,
                         std::span<float> out) const {
  const auto d = static_cast<std::size_t>(dim());
  const auto side = static_cast<std::int64_t>(side_);
  for (std::int64_t k = k0; k < k1; ++k) {
    std::vector<double> sum(d, 0.0), count(d, 0.0);
    for (std::int64_t j = 0; j < volume.ny(); ++j) {
      for (std::int64_t i = 0; i < volume.nx(); ++i) {
        const auto cell =
            static_cast<std::size_t>((j * side / volume.ny()) * side + i * side / volume.nx());
        sum[cell] += std::clamp((volume.at(i, j, k) + 1000.0) / 2000.0, 0.0, 1.0);
        count[cell] += 1;
      }
    }
    double mean = 0;
    for (std::size_t c = 0; c < d; ++c) {
      sum[c] = count[c] > 0 ? sum[c] / count[c] : 0;
      mean += sum[c] / static_cast<double>(d);
    }
    double norm = 0;
    for (auto& v : sum) norm += (v - mean) * (v - mean);
    norm = std::sqrt(norm);
    float* row = out.data() + static_cast<std::size_t>(k - k0) * d;
    for (std::size_t c = 0; c < d; ++c) {
      row[c] = norm > 1e-12 ? static_cast<float>((sum[c] - mean) / norm) : (c == 0 ? 1.0f : 0.0f);
    }
  }
}

}  // namespace voxir::testing
