// voxir/ingest.h: from volumes on disk to an index (voxir/index.h): naming, reading, embedding
// (voxir/embed.h, through the embedding cache) and labelling each volume, then writing a new
// generation with the same guarantees as write_generation.
#pragma once

#include "voxir/index.h"
#include "voxir/predict.h"

#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace voxir {

class Embedder;
class EmbeddingCache;

// A volume to ingest. id empty: derived from the path (see volume_id_for_path).
struct VolumeSource {
  std::string id;
  std::filesystem::path path;    // NIfTI file or DICOM folder
  std::filesystem::path labels;  // folder of per-class masks or multilabel file; empty: none
  std::string split;
  std::string metadata_json = "{}";
  ReadOptions read;  // series and frame to read from `path` (voxir/volume.h)
};

// Where embeddings are cached when the caller does not say: $XDG_CACHE_HOME/voxir/embeddings,
// else ~/.cache/voxir/embeddings; empty (no cache) when neither variable is set.
[[nodiscard]] std::filesystem::path default_embedding_cache();

struct BuildOptions {
  IndexSpec index;  // used by build; add keeps the index's own spec
  int threads = 0;  // threads building the search structure; 0: all cores (the embedder has its own)
  // Embedding cache folder (voxir/embed.h EmbeddingCache); empty: none. With it, re-indexing the
  // same volumes with the same embedder (e.g. with another index spec) does not re-embed them.
  // About 9 KB per slice for the built-in embedder.
  std::filesystem::path embedding_cache = default_embedding_cache();
  // For sources made from paths (the *_from_paths functions): put in front of every id, e.g. "tsv2:",
  // and how to read each path (e.g. the frame of 4-D inputs).
  std::string id_prefix;
  ReadOptions read;
  // A volume that fails to read, embed or label: false (default): skipped and listed in
  // BuildReport::skipped, the others are indexed. true: the whole call fails with that volume's
  // Error (its kind, its path) and nothing is written. For collections where a missing volume
  // matters more than a finished build.
  bool strict = false;
  // Predict the anatomy of each added volume that has no labels from the labelled volumes of the
  // new generation (those of the same build, or already indexed and added with it) and store it
  // with the volume (voxir/predict.h; Index::predicted), in the same generation. Costs about one
  // whole-volume query per unlabelled volume. Nothing is stored when the index has no labelled
  // volume. Volumes already indexed keep what was stored for them (predict_index re-predicts).
  bool predict = true;
  PredictOptions prediction;
  // Called after each volume and at each stage; may throw to abort (the index stays as it was).
  std::function<void(const BuildProgress&)> progress;
};

// Sources from TS dataset folders (meta.csv) and loose volume paths (files or DICOM folders).
// Loose volumes are named by volume_id_for_path, a dataset's by its image_id; `id_prefix` (e.g.
// "tsv2/") goes in front of every id. An id already in `taken` or given earlier in `paths` gets
// "-2", "-3"... so two collections that both start at s0001 can share one index. Every source
// is read with `read`.
[[nodiscard]] std::vector<VolumeSource> sources_from_paths(
    std::span<const std::filesystem::path> paths, std::span<const std::string> taken = {},
    std::string_view id_prefix = {}, const ReadOptions& read = {});
// A readable id for a loose volume: the file name without .nii/.nii.gz, or the folder's name when
// the file is called ct.nii(.gz) (ts layout) or the path is a DICOM folder.
[[nodiscard]] std::string volume_id_for_path(const std::filesystem::path& path);

// Reads, embeds (through `cache` unless it is null) and labels one volume. Throws Error (with the
// path as context) when it fails.
[[nodiscard]] VolumeVectors ingest_volume(const VolumeSource& source, const Embedder& embedder,
                                          EmbeddingCache* cache = nullptr);

// Creates (or replaces) the index in `dir` from `sources`. Volumes that fail to read, embed or
// label are left out and reported in BuildReport::skipped (path, why), unless options.strict.
// Throws Error when no volume could be indexed (the kind of the first failure), when one fails
// under options.strict, or when the write fails; the previous index in `dir`, if any, is then
// untouched. Any exception of a library underneath (Faiss, libtorch, JSON, filesystem,
// std::bad_alloc) arrives as Error.
BuildReport build_index(const std::filesystem::path& dir, std::span<const VolumeSource> sources,
                        const Embedder& embedder, const BuildOptions& options);
// Adds volumes to an existing index (the embedder must match it). Same guarantees as build.
BuildReport add_to_index(const std::filesystem::path& dir, std::span<const VolumeSource> sources,
                         const Embedder& embedder, const BuildOptions& options);
// build_index for volumes given by path (named by sources_from_paths with options.id_prefix and
// read with options.read), embedded by make_embedder(embedder_spec) on options.threads threads:
// what `voxir index build` and the Python module's build_index do.
BuildReport build_index_from_paths(const std::filesystem::path& dir,
                                   std::span<const std::filesystem::path> paths,
                                   std::string_view embedder_spec, const BuildOptions& options);
// add_to_index for volumes given by path (named as above, against the ids already indexed),
// embedded with the index's own embedder (made from its spec): what `voxir index add` and the
// Python module's add_to_index do.
BuildReport add_to_index_from_paths(const std::filesystem::path& dir,
                                    std::span<const std::filesystem::path> paths,
                                    const BuildOptions& options);
// Re-predicts the anatomy of every indexed volume without labels from the labelled volumes indexed
// now, and stores it as a new generation (vectors and labels unchanged): after labelled volumes
// were added or removed, or to store predictions in an index written before format version 3.
// Throws Error(kNotFound) when the index has no labelled volume.
BuildReport predict_index(const std::filesystem::path& dir, const PredictOptions& prediction = {},
                          const WriteOptions& options = {});
// Removes one volume. Throws Error(kNotFound) when the index has no such volume.
BuildReport remove_from_index(const std::filesystem::path& dir, std::string_view volume_id,
                              const WriteOptions& options = {});

// Vectors made outside voxir (another model, a Python pipeline), from .npy files (voxir/npy.h;
// the format and a NumPy example: docs/import.md). Row r of `vectors` (n x d, '<f4' or '<f2')
// is slice slice_ids[r] of volume volume_ids[r]; rows may come in any order. Each volume's slice
// numbers must be 0 .. num_slices - 1 (0 = most inferior, voxir/volume.h), each once.
struct ImportSource {
  std::filesystem::path vectors;     // n x d, '<f4' or '<f2' (widened), C order, finite, nonzero
  std::filesystem::path volume_ids;  // n values, '<i4' or '<i8'
  std::filesystem::path slice_ids;   // n values, '<i4' (or '<i8'), >= 0
  // Optional text file, one volume name per line, one line per distinct volume id in increasing
  // id order (line i names the i-th smallest id; with ids 0..V-1, line i names volume i). Names
  // are the volume ids in the index; without the file the ids are the numbers in decimal.
  std::filesystem::path names;
};

// The embedder spec recorded for imported vectors of dimension `dim`: "external:<dim>". voxir
// cannot embed a volume for such an index: search it with vectors or an indexed volume id.
[[nodiscard]] std::string external_embedder_spec(int dim);

struct ImportOptions {
  // Index spec of a new index; for an existing one, nullopt (keep its spec) or the same spec.
  std::optional<IndexSpec> index = std::nullopt;
  WriteOptions write = {};
};

// Imports the vectors into `dir`: a new index when `dir` holds none (build), else a new
// generation of the existing one (add), which must hold imported vectors of the same dimension.
// Each row is L2-normalised (inner product = cosine, the index contract). Every file is read and
// checked before anything is written; a bad one throws Error naming the file and what is wrong
// (kInvalidInput: wrong dtype or shape, lengths that differ, NaN or infinite values, a zero row,
// duplicate or missing (volume, slice) pairs, names that do not match the ids, a dimension or
// embedder that differs from the index; kUnsupported: see voxir/npy.h), and the index stays as it
// was.
BuildReport import_vectors(const std::filesystem::path& dir, const ImportSource& source,
                           const ImportOptions& options = {});

// Query slice vectors from a .npy file (m x dim, '<f4' or '<f2', one row per query slice in slice
// order), checked (finite, nonzero) and L2-normalised, ready for Query::vectors (voxir/search.h).
// Throws Error(kInvalidInput) naming the file when its shape or dimension does not fit `dim`.
[[nodiscard]] std::vector<float> read_query_vectors(const std::filesystem::path& path, int dim);

}  // namespace voxir
