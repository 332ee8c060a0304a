// voxir/index.h: the on-disk index of slice vectors, its spec strings, and how to build it.
//
// Data contract: every slice of every indexed volume is one float32 vector of dimension dim(),
// L2-normalised by the embedder (voxir/embed.h), so inner product = cosine similarity. Vectors
// are numbered by *row*: the slices of one volume occupy consecutive rows first_row ..
// first_row + num_slices - 1 in canonical slice order (slice 0 = most inferior, voxir/volume.h).
// n vectors are passed row-major: x[i * dim + j].
//
// An index is a folder (format: docs/index-format.md). Every build, add or remove writes a new
// generation beside the current one and then switches the folder's CURRENT pointer atomically,
// so a failed or interrupted write leaves the previous index intact and openable.
#pragma once

#include "voxir/volume.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace voxir {

class Embedder;

// How slice vectors are searched. Spec strings (parse and str() round-trip; str() spells every
// knob so a stored spec is self-describing):
//   "Flat"                          exact inner-product search (Faiss BLAS kernel)
//   "HNSW32,efc200,ef64"            hnswlib graph: M links, build breadth, default search breadth
//   "IVF1024,PQ48,nprobe16,refine50" Faiss IVF-PQ: lists, sub-quantizers (8 bits each), lists
//                                   probed, and exact re-scoring of k*refine PQ hits with the
//                                   stored vectors (refine1 = none: PQ alone reached .26-.5 recall)
// Omitted knobs take the defaults below: "HNSW32" == "HNSW32,efc200,ef64".
struct IndexSpec {
  enum class Type { kFlat, kHnsw, kIvfPq };
  Type type = Type::kFlat;
  int hnsw_m = 32;            // graph degree: more = better recall, more memory, slower build
  int ef_construction = 200;  // build-time breadth: more = better graph, slower build
  int ef_search = 64;         // query-time breadth (>= k is enforced): recall vs latency
  int ivf_lists = 1024;       // coarse clusters; needs >= 39 training vectors per list
  int pq_m = 48;              // sub-quantizers; dim must be divisible by it; bytes per code
  int nprobe = 16;            // lists visited per query: recall vs latency
  // Exact re-scoring factor for IVF-PQ (1 = PQ distances only). PQ, not nprobe, limits recall:
  // on 300k clustered 384-d vectors recall@10 was .26 / .81 / .997 at refine 1 / 10 / 50, the
  // same at nprobe 16, 32 and 128 (docs/search-bench.md).
  int refine = 50;

  // Throws Error(kUsage) naming the bad token and the accepted grammar.
  [[nodiscard]] static IndexSpec parse(std::string_view spec);
  [[nodiscard]] std::string str() const;
  // Throws Error(kUsage) when the spec cannot index vectors of dimension `dim`.
  void validate(int dim) const;
  bool operator==(const IndexSpec&) const = default;
};

// One indexed volume, as the catalog records it.
struct IndexedVolume {
  std::string id;      // unique in the index (a TS image_id, or derived from the path)
  std::string source;  // path it was read from
  Dims dims{0, 0, 0};
  Vec3 spacing{1, 1, 1};
  std::string split;                 // "train", "val", "test" or ""
  std::string metadata_json = "{}";  // free metadata (e.g. meta.csv columns), a JSON object
  std::int64_t first_row = 0;        // rows of its slices: first_row .. first_row + num_slices - 1
  std::int64_t num_slices = 0;
};

// A volume's slice vectors and labels, ready to be indexed (made by ingest_volume or by hand,
// e.g. in benchmarks). `presence` holds one bitset of `presence_bytes` bytes per slice: bit c of
// slice k is presence[k * presence_bytes + c / 8] >> (c % 8) & 1, c = ClassCatalog index.
// Empty when the volume has no labels. `content` holds each slice's body area in mm² as its
// embedder measured it (voxir/embed.h, kMinContentMm2); empty: unknown, every slice counts as
// having content.
struct VolumeVectors {
  IndexedVolume volume;        // first_row is assigned by the writer
  std::vector<float> vectors;  // volume.num_slices * dim, L2-normalised, finite
  int presence_bytes = 0;
  std::vector<std::uint8_t> presence;
  std::vector<float> content;  // volume.num_slices values, or empty
};

// Throws Error(kInvalidInput) naming the volume, slice and dimension of the first NaN or
// infinite value in `vectors`, or a content value that is negative or not finite. Every write
// (write_generation, hence build, add and any import) runs it on each volume it adds.
void check_volume_vectors(const VolumeVectors& vectors, int dim);

// Identity of the vectors in an index; opening or adding with a different one fails.
struct EmbedderIdentity {
  std::string spec;
  std::string fingerprint;  // everything that changes the vectors, incl. preprocessing
  int dim = 0;
};
// Throws Error(kInvalidInput) saying which part differs (spec, dimension, or the differing
// ';'-separated parts of the fingerprint) when `query` cannot be compared with `indexed`.
void check_same_embedder(const EmbedderIdentity& indexed, const EmbedderIdentity& query);

struct IndexOpenOptions {
  // Re-computes the checksums of every file (reads everything; seconds per GB). Without it, open
  // checks the manifest's own checksum and every file's size only.
  bool verify_checksums = false;
};

// Per-query knobs of the approximate search (0 = the index spec's value).
struct AnnParams {
  int ef_search = 0;
  int nprobe = 0;
  int refine = 0;
};

// An opened, immutable index generation. Thread-safe: any number of threads may search at once.
// The slice vectors stay memory-mapped; the generation's files may be replaced on disk by a later
// build without affecting an open Index.
class Index {
 public:
  // Throws Error(kNotFound) when `dir` holds no index, kInvalidInput naming the file for a
  // corrupt one (bad manifest checksum, truncated file, unknown format version).
  [[nodiscard]] static std::unique_ptr<Index> open(const std::filesystem::path& dir,
                                                   const IndexOpenOptions& options = {});
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  [[nodiscard]] const std::filesystem::path& dir() const;
  [[nodiscard]] std::int64_t generation() const;
  [[nodiscard]] const IndexSpec& spec() const;
  [[nodiscard]] const EmbedderIdentity& embedder() const;
  [[nodiscard]] int dim() const;
  [[nodiscard]] std::int64_t num_vectors() const;
  // Ordered by first_row.
  [[nodiscard]] std::span<const IndexedVolume> volumes() const;
  [[nodiscard]] const IndexedVolume* find(std::string_view id) const;
  // Position in volumes() of the volume owning `row`.
  [[nodiscard]] std::size_t volume_of_row(std::int64_t row) const;
  // All rows, or the rows of one volume (num_slices * dim floats), memory-mapped.
  [[nodiscard]] std::span<const float> vectors() const;
  [[nodiscard]] std::span<const float> volume_vectors(std::size_t volume) const;
  // Class-presence bitsets and content of one volume's slices (see VolumeVectors); presence is
  // empty without labels, content empty when unknown (indexes written by format version 1).
  [[nodiscard]] VolumeVectors labels(std::size_t volume) const;
  // Whether row `row` shows a body: content >= kMinContentMm2, or content unknown. Rows without
  // content neither receive votes nor take part in MaxSim re-ranking (voxir/search.h).
  [[nodiscard]] bool row_has_content(std::int64_t row) const;
  // Rows for which row_has_content is false.
  [[nodiscard]] std::int64_t num_empty_rows() const;
  // Empty slices of one volume (row_has_content false).
  [[nodiscard]] std::int64_t empty_slices(std::size_t volume) const;
  // Bytes on disk of the current generation: total and per file name.
  [[nodiscard]] std::vector<std::pair<std::string, std::uint64_t>> file_sizes() const;

  // The k most similar rows of each of n queries (row-major, n * dim): ids[i * k + r] and
  // sims[i * k + r], best first; -1 / -inf fill when fewer than k rows exist.
  void search(std::span<const float> queries, std::int64_t n, int k, const AnnParams& params,
              std::span<std::int64_t> ids, std::span<float> sims) const;

 private:
  struct Impl;
  explicit Index(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct BuildProgress {
  std::size_t volumes_done = 0;  // read, embedded and staged (or skipped)
  std::size_t volumes_total = 0;
  std::int64_t slices_done = 0;
  double seconds = 0;   // since the start
  std::string current;  // id of the volume just finished
  std::string stage;    // "embedding", "building index", "writing"
};

// A volume to ingest. id empty: derived from the path (see volume_id_for_path).
struct VolumeSource {
  std::string id;
  std::filesystem::path path;    // NIfTI file or DICOM folder
  std::filesystem::path labels;  // folder of per-class masks or multilabel file; empty: none
  std::string split;
  std::string metadata_json = "{}";
  ReadOptions read;  // series and frame to read from `path` (voxir/volume.h)
};

struct BuildOptions {
  IndexSpec index;  // used by build; add keeps the index's own spec
  int threads = 0;  // threads building the search structure; 0: all cores (the embedder has its own)
  // Embedding cache folder (voxir/embed.h EmbeddingCache); empty: none. With it, re-indexing the
  // same volumes with the same embedder (e.g. with another index spec) does not re-embed them.
  std::filesystem::path embedding_cache;
  // Called after each volume and at each stage; may throw to abort (the index stays as it was).
  std::function<void(const BuildProgress&)> progress;
};

struct BuildReport {
  std::size_t volumes_added = 0;
  std::int64_t slices_added = 0;
  std::vector<std::pair<std::string, std::string>> skipped;  // (path, why)
  std::int64_t generation = 0;
  double seconds = 0;
};

// Sources from a TS dataset folder (meta.csv) or loose volume paths (files or DICOM folders);
// ids follow volume_id_for_path, made unique against `taken` and each other with "-2", "-3".
[[nodiscard]] std::vector<VolumeSource> sources_from_paths(
    std::span<const std::filesystem::path> paths, std::span<const std::string> taken = {});
// A readable id for a loose volume: the file name without .nii/.nii.gz, or the folder's name when
// the file is called ct.nii(.gz) (ts layout) or the path is a DICOM folder.
[[nodiscard]] std::string volume_id_for_path(const std::filesystem::path& path);

// Reads, embeds (through the cache in `embedding_cache` unless it is empty) and labels one
// volume. Throws Error (with the path as context) when it fails.
[[nodiscard]] VolumeVectors ingest_volume(const VolumeSource& source, const Embedder& embedder,
                                          const std::filesystem::path& embedding_cache = {});

// Creates (or replaces) the index in `dir` from `sources`. Volumes that fail to read are
// reported in BuildReport::skipped. Throws Error when no volume could be indexed or the write
// fails; the previous index in `dir`, if any, is then untouched.
BuildReport build_index(const std::filesystem::path& dir, std::span<const VolumeSource> sources,
                        const Embedder& embedder, const BuildOptions& options);
// Adds volumes to an existing index (the embedder must match it). Same guarantees as build.
BuildReport add_to_index(const std::filesystem::path& dir, std::span<const VolumeSource> sources,
                         const Embedder& embedder, const BuildOptions& options);
// Removes one volume. Throws Error(kNotFound) when the index has no such volume.
BuildReport remove_from_index(const std::filesystem::path& dir, std::string_view volume_id,
                              const BuildOptions& options = {});

// Lower level, for precomputed vectors (benchmarks, tests): writes a new generation holding the
// current one's volumes minus `remove` plus `add`, then switches to it. `create` starts from
// nothing (with `spec` and `identity`); otherwise both are taken from the current generation.
BuildReport write_generation(const std::filesystem::path& dir, bool create, const IndexSpec& spec,
                             const EmbedderIdentity& identity, std::vector<VolumeVectors> add,
                             std::span<const std::string> remove, const BuildOptions& options);

}  // namespace voxir
