// A deterministic embedder for tests that needs no weights: each slice becomes a side x side
// thumbnail (mean-pooled, HU window [-1000, 1000] -> [0, 1], mean removed, L2-normalised).
#pragma once

#include "voxir/embed.h"

namespace voxir::testing {

class FakeEmbedder final : public Embedder {
 public:
  explicit FakeEmbedder(int side = 8, std::string window = "-1000..1000")
      : side_(side), window_(std::move(window)) {}
  [[nodiscard]] std::string spec() const override;
  [[nodiscard]] std::string fingerprint() const override;
  [[nodiscard]] int dim() const override { return side_ * side_; }
  void embed(const Volume& volume, std::int64_t k0, std::int64_t k1,
             std::span<float> out) const override;

 private:
  int side_;
  std::string window_;  // only recorded in the fingerprint: lets tests make a mismatching twin
};

}  // namespace voxir::testing
