// voxir/embed.h: slice embedders.
//
// Data contract: an embedder maps each axial slice of a canonical volume (voxir/volume.h) to one
// float32 vector of dimension dim(), L2-normalised, so inner product = cosine similarity.
// Vectors of n slices are stored row-major: out[i * dim() + j].
//
// Spec strings (they round-trip: make_embedder(e->spec())->spec() == e->spec()):
//   builtin:tissue[,key=value...]  the weight-free default (docs/embedders.md): body level from
//                                  tissue-class layout maps on a fixed physical window
//   torchscript:<model.pt>         a TorchScript model with its JSON sidecar <model.pt>.json
//                                  (docs/embedders.md lists its fields; tools/export_models.py
//                                  writes both)
// "builtin" alone means "builtin:tissue".
#pragma once

#include "voxir/slicing.h"
#include "voxir/volume.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace voxir {

// The embedder every front end uses when none is named: weight-free, runs anywhere.
inline constexpr const char* kDefaultEmbedderSpec = "builtin";

// Slice content (voxir/volume.h kMinContentMm2): every embedder measures, for each slice it
// embeds, the area in mm² of the body it sees.
// The intensity test, for any embedder: area in mm² of slice k's voxels above kBodyHu.
[[nodiscard]] double body_area_mm2(const Volume& volume, std::int64_t k);

// A volume's slice vectors with each slice's content.
struct SliceEmbeddings {
  std::vector<float> vectors;  // nz * dim, row-major (contract above)
  std::vector<float> content;  // nz body areas in mm² (see kMinContentMm2)
};

class Embedder {
 public:
  virtual ~Embedder() = default;
  // The spec string this embedder was made from, in canonical form; make_embedder(spec()) makes
  // an equal one.
  [[nodiscard]] virtual std::string spec() const = 0;
  // Everything that changes the vectors (model, weights checksum, preprocessing), as one string;
  // an index refuses queries embedded with a different fingerprint.
  [[nodiscard]] virtual std::string fingerprint() const = 0;
  [[nodiscard]] virtual int dim() const = 0;
  // Embeds slices [k0, k1) of `volume` into out ((k1 - k0) * dim() floats), batched, on
  // EmbedderOptions::threads threads (all cores by default). Thread-safe (concurrent calls share
  // the cores; TorchScript's thread count is process-wide in libtorch).
  // Throws Error(kUsage) when the range is outside the volume or out has the wrong size.
  virtual void embed(const Volume& volume, std::int64_t k0, std::int64_t k1,
                     std::span<float> out) const = 0;

  // Embeds slices [k0, k1) as embed() does and measures their content: content[k - k0] = the
  // body area in mm² on slice k (k1 - k0 floats). The default runs embed() and the intensity
  // test body_area_mm2; the built-in embedder reports the area of the body mask it embeds.
  virtual void embed_measured(const Volume& volume, std::int64_t k0, std::int64_t k1,
                              std::span<float> out, std::span<float> content) const;

  // Every slice of `volume`: nz() * dim() floats.
  [[nodiscard]] std::vector<float> embed_all(const Volume& volume) const;
  // Every slice of `volume`, with its content.
  [[nodiscard]] SliceEmbeddings embed_all_measured(const Volume& volume) const;
};

struct EmbedderOptions {
  // Threads per embed() call, taken from the library's pool (at most $VOXIR_THREADS, else the
  // CPUs the process may use); 0 = all of them. libtorch's own threads: this many.
  int threads = 0;
  // Slices per model forward pass (TorchScript). Larger batches are a little faster and need
  // channels*width*height*4 bytes of input per slice plus the model's activations.
  int batch = 8;
};

// Makes an embedder from a spec string (see the top of this file).
// Throws Error(kUsage) for an unknown or malformed spec, kNotFound for a missing model or
// sidecar file, kInvalidInput for a sidecar that is malformed or does not match the model (input
// size, output dimension), kUnsupported for torchscript: when voxir was built without libtorch.
[[nodiscard]] std::unique_ptr<Embedder> make_embedder(std::string_view spec,
                                                      const EmbedderOptions& options = {});

// Embeddings of whole volumes, cached on disk in a folder: one file per (volume content,
// embedder fingerprint) pair, so re-indexing with another index type does not re-embed.
// Entries carry a header (magic, version, dims, fingerprint) and a checksum of the vectors; a
// corrupt or mismatching entry is recomputed and rewritten, never trusted. Writes are atomic.
// Safe to use from several threads and processes on one folder (the last writer wins; all write
// the same bytes).
class EmbeddingCache {
 public:
  // The folder is created on first write.
  explicit EmbeddingCache(std::filesystem::path folder);

  struct Stats {
    std::int64_t hits = 0;
    std::int64_t misses = 0;    // absent: computed and stored
    std::int64_t rejected = 0;  // present but corrupt or mismatching: recomputed and rewritten
  };

  // embedder.embed_all_measured(volume), from the cache when a valid entry exists.
  [[nodiscard]] SliceEmbeddings embed_all_measured(const Embedder& embedder, const Volume& volume);
  // The vectors of embed_all_measured.
  [[nodiscard]] std::vector<float> embed_all(const Embedder& embedder, const Volume& volume);
  [[nodiscard]] Stats stats() const;
  [[nodiscard]] const std::filesystem::path& folder() const { return folder_; }
  // The file an entry of (volume, embedder) lives in.
  [[nodiscard]] std::filesystem::path entry_path(const Embedder& embedder,
                                                 const Volume& volume) const;

 private:
  std::filesystem::path folder_;
  struct Counters;
  std::shared_ptr<Counters> counters_;
};

// 64-bit hash of a volume's content: dims, spacing, affine and every HU value, so the same scan
// read from two files (or formats) hashes equal when the readers agree to the bit.
[[nodiscard]] std::uint64_t volume_content_hash(const Volume& volume);

}  // namespace voxir
