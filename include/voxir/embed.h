// voxir/embed.h: slice embedders. (Draft interface; the embeddings issue owns and may extend it.)
//
// Data contract: an embedder maps each axial slice of a canonical volume (voxir/volume.h) to one
// float32 vector of dimension dim(), L2-normalised, so inner product = cosine similarity.
// Vectors of n slices are stored row-major: out[i * dim() + j].
#pragma once

#include "voxir/volume.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace voxir {

class Embedder {
 public:
  virtual ~Embedder() = default;
  // The spec string this embedder was made from; make_embedder(spec()) makes an equal one.
  [[nodiscard]] virtual std::string spec() const = 0;
  // Everything that changes the vectors (model, weights checksum, preprocessing), as one string;
  // an index refuses queries embedded with a different fingerprint.
  [[nodiscard]] virtual std::string fingerprint() const = 0;
  [[nodiscard]] virtual int dim() const = 0;
  // Embeds slices [k0, k1) of `volume` into out ((k1 - k0) * dim() floats). Thread-safe.
  virtual void embed(const Volume& volume, std::int64_t k0, std::int64_t k1,
                     std::span<float> out) const = 0;
};

// Makes an embedder from a spec string ("builtin:<name>", "torchscript:<path>", ...).
// Throws Error(kUsage) for an unknown spec, kNotFound for a missing model file.
[[nodiscard]] std::unique_ptr<Embedder> make_embedder(std::string_view spec);

}  // namespace voxir
