// voxir/index.h: the on-disk index of slice vectors and its spec strings (storage only: reading
// and embedding volumes into it is voxir/ingest.h).
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

#include <array>
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

// How slice vectors are searched: the structure built once per generation. Spec strings name the
// library that serves them; parse and str() round-trip, str() spelling every build knob:
//   "faiss:Flat"               exact inner-product search (Faiss's BLAS kernel on the stored vectors)
//   "hnswlib:M32,efc200"       hnswlib graph: M links per node, build breadth efc
//   "faiss:IVF1024,PQ48"       Faiss IVF-PQ: coarse lists, sub-quantizers (8 bits each); hits are
//                              re-scored exactly with the stored vectors (AnnParams::refine)
// Omitted knobs take the defaults below: "hnswlib:M32" == "hnswlib:M32,efc200". Query-time knobs
// (search breadth, lists probed, re-scoring) are not part of a spec: they travel with each query
// (AnnParams). Round-1 names still parse: "Flat", "HNSW32[,efc200][,ef64]" (hnswlib) and
// "IVF1024,PQ48[,nprobe16][,refine50]"; their query knobs are ignored, with a note.
// The spec every front end builds when none is named: HNSW, as in the paper's tables.
inline constexpr const char* kDefaultIndexSpec = "hnswlib:M32";

struct IndexSpec {
  enum class Type { kFlat, kHnsw, kIvfPq };
  Type type = Type::kFlat;
  int hnsw_m = 32;            // graph degree: more = better recall, more memory, slower build
  int ef_construction = 200;  // build-time breadth: more = better graph, slower build
  int ivf_lists = 1024;       // coarse clusters; needs >= 39 training vectors per list
  int pq_m = 48;              // sub-quantizers; dim must be divisible by it; bytes per code

  // Throws Error(kUsage) naming the bad token and the accepted grammar. A round-1 spelling is
  // accepted; `notes` (when given) then receives what changed, e.g. that ef is now per query.
  [[nodiscard]] static IndexSpec parse(std::string_view spec,
                                       std::vector<std::string>* notes = nullptr);
  [[nodiscard]] std::string str() const;
  // Throws Error(kUsage) when the spec cannot index vectors of dimension `dim`.
  void validate(int dim) const;
  bool operator==(const IndexSpec&) const = default;
};

// One indexed volume, as the catalog records it.
struct IndexedVolume {
  std::string id;      // unique in the index (a TS image_id, or derived from the path)
  std::string source;  // path it was read from
  // Where its labels were read from at ingest (VolumeSource::labels: a folder of per-class masks
  // or a multilabel file), absolute; empty when it was indexed without labels, or by a format
  // version before 3, which did not record it.
  std::string labels_source;
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
// infinite value in `vectors`, a content value that is negative or not finite, or metadata_json
// that is not a JSON object. Every write
// (write_generation, hence build, add and any import) runs it on each volume it adds.
void check_volume_vectors(const VolumeVectors& vectors, int dim);

// Anatomy predicted for a volume indexed without labels (voxir/predict.h), stored with it in the
// catalog since format version 3. Storage only: the index neither makes nor interprets it (ingest
// predicts, search reads). A prediction is never a label: labelled volumes keep their presence
// bitsets, and predictions never teach other predictions.
struct PredictedAnatomy {
  std::int64_t generation = 0;        // the generation in which it was predicted
  std::int64_t labelled_volumes = 0;  // how many labelled volumes it was predicted from
  std::string options;                // the prediction's knobs (PredictOptions::str())
  // Per slice, the classes and the coarse regions predicted present (probability >= threshold),
  // as bitsets laid out like VolumeVectors::presence: class_bytes (region_bytes) bytes per slice,
  // bit i = ClassCatalog class (coarse region) i.
  int class_bytes = 0;
  std::vector<std::uint8_t> classes;
  int region_bytes = 0;
  std::vector<std::uint8_t> regions;
  struct Extent {
    std::string name;                    // class or coarse region name (voxir/labels.h)
    bool coarse = false;                 // a coarse region
    std::array<std::int64_t, 2> slices;  // first and last slice, inclusive
    double confidence = 0;               // mean probability over those slices
    bool operator==(const Extent&) const = default;
  };
  std::vector<Extent> extents;  // every class and region predicted present
  bool operator==(const PredictedAnatomy&) const = default;
};

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
  // Also re-computes the checksum of the memory-mapped vectors (reads them all; about a second
  // per GB). Without it, open checks the manifest's own checksum, every file's size, the
  // checksums of the files it reads whole (search structure, catalog) and their structure, but
  // not the vectors' content: that keeps opening O(1) in the number of vectors.
  bool verify_checksums = false;
};

// Per-query knobs of the approximate search; each applies to one index type and is ignored by
// the others. Trade-offs measured on 300k clustered 384-d vectors (docs/search-bench.md).
struct AnnParams {
  int ef_search = 64;  // hnswlib search breadth (raised to k when smaller): recall vs latency
  int nprobe = 16;     // IVF lists visited: recall vs latency
  // Exact re-scoring of k * refine IVF-PQ hits with the stored vectors (1 = PQ distances only).
  // PQ, not nprobe, limits recall: recall@10 was .26 / .81 / .997 at refine 1 / 10 / 50, the same
  // at nprobe 16, 32 and 128.
  int refine = 50;
  // Throws Error(kUsage) naming a knob below 1.
  void validate() const;
};

// An opened, immutable index generation. Thread-safe: any number of threads may search at once.
// The slice vectors stay memory-mapped. An open Index registers as a reader of its generation
// (a shared flock on the generation's READERS file): later builds, adds and removes switch the
// folder to newer generations but do not delete this one until the Index is destroyed.
class Index {
 public:
  // Throws Error(kNotFound) when `dir` holds no index, kInvalidInput naming the file for a
  // damaged or inconsistent one (what is checked when: docs/index-format.md, "Damaged files"),
  // kUnsupported for an unknown format version.
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
  // The anatomy predicted at ingest for volume `volume`; nullopt when none is stored (a labelled
  // volume, an index without labelled volumes, or one written before format version 3). Reads
  // the catalog (one row and the volume's extents). Throws Error(kInvalidInput) for a malformed
  // row.
  [[nodiscard]] std::optional<PredictedAnatomy> predicted(std::size_t volume) const;
  // Volumes that have a stored prediction (held in memory).
  [[nodiscard]] std::size_t num_predicted() const;
  // Whether row `row` shows a body: content >= kMinContentMm2, or content unknown. Rows without
  // content neither receive votes nor take part in MaxSim re-ranking (voxir/search.h).
  [[nodiscard]] bool row_has_content(std::int64_t row) const;
  // Body area in mm² of each slice of one volume (held in memory); empty when unknown.
  [[nodiscard]] std::span<const float> content(std::size_t volume) const;
  // Rows for which row_has_content is false.
  [[nodiscard]] std::int64_t num_empty_rows() const;
  // Empty slices of one volume (row_has_content false).
  [[nodiscard]] std::int64_t empty_slices(std::size_t volume) const;
  // Bytes on disk of the current generation: total and per file name.
  [[nodiscard]] std::vector<std::pair<std::string, std::uint64_t>> file_sizes() const;
  // Whether the folder's CURRENT still names this generation (false once a later write switched
  // it, or the index was deleted): how a long-running reader notices it should re-open. Reads
  // one small file.
  [[nodiscard]] bool is_current() const;

  // The k most similar rows of each of n queries (row-major, n * dim): ids[i * k + r] and
  // sims[i * k + r], best first; -1 / -inf fill when fewer than k rows exist.
  void search(std::span<const float> queries, std::int64_t n, int k, const AnnParams& params,
              std::span<std::int64_t> ids, std::span<float> sims) const;

 private:
  struct Impl;
  explicit Index(std::unique_ptr<Impl> impl);
  // open() without the translation of other libraries' exceptions into Error.
  // `staged`: a generation folder to open instead of CURRENT's, unregistered (IndexStaging).
  static std::unique_ptr<Index> open_checked(const std::filesystem::path& dir,
                                             const IndexOpenOptions& options,
                                             const std::filesystem::path& staged = {});
  std::unique_ptr<Impl> impl_;
  // Opens the generation a writer is writing, before it is current (src/index/staging.h).
  friend struct IndexStaging;
};

struct BuildProgress {
  std::size_t volumes_done = 0;  // read, embedded and staged (or skipped)
  std::size_t volumes_total = 0;
  std::int64_t slices_done = 0;
  double seconds = 0;   // since the start
  std::string current;  // id of the volume just finished
  std::string stage;    // "embedding", "building index", "writing"
};

struct BuildReport {
  std::size_t volumes_added = 0;
  std::int64_t slices_added = 0;
  std::vector<std::pair<std::string, std::string>> skipped;  // (path, why)
  std::int64_t from_cache = 0;  // volumes whose vectors came from the embedding cache
  std::int64_t generation = 0;
  double seconds = 0;
};

struct WriteOptions {
  int threads = 0;  // threads building the search structure; 0: all cores
  // Called at each stage; may throw to abort (the index stays as it was).
  std::function<void(const BuildProgress&)> progress;
  // Called once the new generation is fully written but before it becomes current, with that
  // generation opened: returns anatomy predicted for some of its volumes, by volume id, which is
  // stored in the same generation (replacing a prediction carried over from the previous one).
  // Volumes kept from the previous generation keep their stored predictions unless replaced.
  // Ingest sets it (BuildOptions::predict); may throw to abort.
  std::function<std::vector<std::pair<std::string, PredictedAnatomy>>(const Index&)> predict;
};

// Writes (volumes from files: voxir/ingest.h; this is the level below, for precomputed vectors):
// writes a new generation holding the
// current one's volumes minus `remove` plus `add`, then switches to it. `create` starts from
// nothing (with `spec` and `identity`); otherwise both are taken from the current generation.
BuildReport write_generation(const std::filesystem::path& dir, bool create, const IndexSpec& spec,
                             const EmbedderIdentity& identity, std::vector<VolumeVectors> add,
                             std::span<const std::string> remove, const WriteOptions& options);

}  // namespace voxir
