// voxir/search.h: volume retrieval with a query (sub-)volume (docs/method.md §3).
//
// A search runs four named stages, each timed:
//   candidates  every query slice fetches its k most similar indexed slices;
//   aggregate   each hit votes for its volume; volumes are ranked by votes (count), by the sum of
//               the hits' similarities (sum) or by the best hit (max);
//   rerank      the top N volumes are scored exactly by late interaction (ColBERT MaxSim):
//               S(Q, V) = (1/n) sum_i max_j <q_i, v_j> over all slices of V; j*(i) is the
//               alignment of query slice i;
//   localize    the slice range of each result: the central `central_fraction` of its aligned
//               slices (with rerank) or of its retrieved slices (without).
// Empty slices (body area below kMinContentMm2, voxir/embed.h) take no part: query slices without
// content are dropped before stage 1, indexed rows without content (Index::row_has_content)
// neither receive votes nor count in MaxSim, so they are never aligned or localized. Empty
// slices of two scans are identical; without this rule an all-air query matched padding slices
// with score 1.
// Query slice vectors follow voxir/index.h's contract (float32, L2-normalised, row-major).
//
// Every front end (CLI, bench, server, MPI coordinator, Python) describes what it wants as a
// Query and calls search(index, query): which slices a region means, which volume is "the query
// itself", which embedder and defaults apply are decided here, once.
#pragma once

#include "voxir/index.h"
#include "voxir/labels.h"
#include "voxir/predict.h"
#include "voxir/volume.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace voxir {

class Embedder;
class Volume;

enum class VoteMode { kCount, kSum, kMax };
[[nodiscard]] std::string_view to_string(VoteMode mode);
// "count", "sum" or "max"; throws Error(kUsage) otherwise.
[[nodiscard]] VoteMode parse_vote_mode(std::string_view text);

// Per-query knobs; the index stays immutable. Defaults follow docs/method.md §3.
struct SearchParams {
  int k = 10;  // neighbours per query slice (stage 1)
  VoteMode mode = VoteMode::kCount;
  bool rerank = true;
  int rerank_n = 50;              // candidate volumes scored exactly; cost grows linearly with it
  int top = 10;                   // results returned
  double central_fraction = 0.8;  // localization keeps this central share of slices
  // Volumes never returned (e.g. the query itself, for --exclude-self).
  std::vector<std::string> exclude;
  AnnParams ann;
  // Keep each result's MaxSim similarity matrix (SearchResult::similarity) to explain it
  // (voxir/explain.h); needs rerank. Costs query slices x result slices floats per result.
  bool explain = false;
  // Only volumes containing this class or coarse region (voxir/labels.h) are returned: by their
  // stored labels, or for volumes indexed without labels by their predicted anatomy
  // (voxir/predict.h; costs a k-NN search of each such candidate's slices). "" : no filter.
  std::string require;
  // When search() must give up: once std::chrono::steady_clock passes it, search() throws
  // Error(kTimeout) saying how far it got. Checked between the stages and inside their long loops
  // (embedding the query, per block of 64 slices; k-NN, per block of 64 query slices; the region
  // filter and the re-rank, per candidate volume), so a search stops within about one block's
  // time after it. Predicting a query's region and the one matrix product of the re-rank are not
  // interrupted. Default: no limit. Set it with set_time_limit() or from a deadline of your own.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // deadline = now + `seconds` (> 0, or 0 for a deadline that has already passed: tests).
  // Throws Error(kUsage) for a negative or non-finite number.
  void set_time_limit(double seconds);
  // Throws Error(kUsage) naming the bad knob.
  void validate() const;
};

struct SearchResult {
  std::string volume;  // id
  std::string path;    // source path
  double score = 0;    // MaxSim S with rerank; else votes (count), similarity sum or max
  int votes = 0;       // stage-1 hits on this volume
  std::array<std::int64_t, 2> location{-1, -1};  // first and last slice of the match
  struct Aligned {
    std::int64_t query_slice;   // absolute slice index in the query volume
    std::int64_t volume_slice;  // slice of the result
    float similarity;
  };
  std::vector<Aligned> alignment;  // one per query slice with rerank; retrieved hits without
  // With SearchParams::explain (and rerank): <q_i, v_j> for row i = alignment[i]'s query slice
  // and column j = slice j of the result (similarity_columns = its slice count), row-major; the
  // re-ranker's own matrix, whose row maxima are the alignment. -inf in columns of slices
  // without content (never aligned).
  std::vector<float> similarity;
  std::int64_t similarity_columns = 0;
  // With a query region (or SearchParams::require): where that region lies in this result, from
  // its stored labels or, indexed without labels, predicted (region_predicted, with its
  // confidence); {-1, -1} when it is absent there or cannot be known.
  std::array<std::int64_t, 2> region{-1, -1};
  bool region_predicted = false;
  double region_confidence = 0;
};

struct SearchTimings {
  double read_ms = 0;  // reading the query volume and its labels (path and volume sources)
  double embed_ms = 0, candidates_ms = 0, aggregate_ms = 0, rerank_ms = 0, localize_ms = 0,
         total_ms = 0;
};

struct SearchAnswer {
  std::vector<SearchResult> results;
  SearchTimings timings;
  std::array<std::int64_t, 2> query_slices{0, 0};  // query slice range asked for, inclusive
  std::int64_t query_slices_used = 0;  // slices of that range with content, which took part
  std::string query_region;            // the Query's region, canonical name; or ""
  // Whether query_slices is the region's predicted extent (the query had no labels,
  // voxir/predict.h) and that extent's confidence (mean probability; 1 for labelled regions).
  bool query_region_predicted = false;
  double query_region_confidence = 1;
  std::vector<std::string> excluded;   // volume ids left out (Query::exclude_self)
};

// What to search with. Set exactly one source:
//   path        a NIfTI file or DICOM series folder, read with `read`;
//   volume      a volume already in memory (not owned; must outlive the call);
//   indexed_id  a volume of the index itself: its stored vectors are the query (nothing is read
//               or embedded) and its stored labels give regions;
//   vectors     precomputed slice vectors (voxir/index.h contract, n * dim() floats row-major) of
//               slices first_slice .. first_slice + n - 1 of some volume.
// Then which of its slices: all (default), `slices` (absolute, inclusive; kLastSlice as the end
// means the last slice), or the extent of
// `region` (a class or coarse region name, voxir/labels.h) in the query's labels: `labels` (mask
// folder or multilabel file) for path and volume sources, the index's catalog for indexed_id.
// Without labels (no `labels`, an indexed volume stored without labels, or vectors) the region's
// extent is predicted from the index's labelled slices (voxir/predict.h, with `predict`) and the
// answer says so (SearchAnswer::query_region_predicted).
struct Query {
  static constexpr std::int64_t kLastSlice = -1;  // as slices[1]: up to the last slice

  std::filesystem::path path;
  ReadOptions read;
  const Volume* volume = nullptr;
  std::string indexed_id;
  std::span<const float> vectors;
  std::int64_t first_slice = 0;
  // With vectors: each vector's slice body area in mm² (Embedder::embed_measured), so empty
  // slices take no part; empty: every vector counts as showing a body.
  std::span<const float> content;

  std::optional<std::array<std::int64_t, 2>> slices;
  std::string region;
  std::filesystem::path labels;
  LabelReadOptions label_options;
  // A class is on a slice of `labels` when it has at least this many voxels there (an indexed
  // volume's stored presence is at 1 voxel).
  std::uint32_t min_voxels = 1;
  // How a region is predicted when the query has no labels. The query's own indexed volume
  // (indexed_id) never votes.
  PredictOptions predict;

  // Leaves the query's own volume out of the results: for indexed_id that volume; for a path,
  // every indexed volume read from the same file or folder (compared after resolving links and
  // relative parts). Other sources have no identity in the index: use params.exclude.
  bool exclude_self = false;
  SearchParams params;
  // Embeds path and volume sources; must match the index. nullptr: one is made from the index's
  // embedder spec for this call (a server keeps its own to avoid re-loading a model per query).
  const Embedder* embedder = nullptr;
};

// Runs `query` on `index` (the stages above). Throws Error: kUsage for a malformed query (no or
// several sources, region and slices both, slices outside the volume),
// kNotFound for an unknown region name or indexed id, a region on no slice of the query (or not
// predicted on any), an index without labelled volumes to predict a region from, kTimeout once
// SearchParams::deadline has passed, and whatever reading or embedding the query throws (with
// the query's path as context).
// Thread-safe for concurrent calls on the same index.
[[nodiscard]] SearchAnswer search(const Index& index, const Query& query);




// Range spanned by the central `fraction` of `slices` (order irrelevant): sorts, drops
// floor((1 - fraction) / 2 * size) from each end. {-1, -1} when empty.
[[nodiscard]] std::array<std::int64_t, 2> central_range(std::vector<std::int64_t> slices,
                                                        double fraction);

}  // namespace voxir
