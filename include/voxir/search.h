// voxir/search.h: volume retrieval with a query (sub-)volume (SPEC §3).
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
#pragma once

#include "voxir/index.h"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace voxir {

class Volume;

enum class VoteMode { kCount, kSum, kMax };
[[nodiscard]] std::string_view to_string(VoteMode mode);
// "count", "sum" or "max"; throws Error(kUsage) otherwise.
[[nodiscard]] VoteMode parse_vote_mode(std::string_view text);

// Per-query knobs; the index stays immutable. Defaults follow SPEC §3.
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
};

struct SearchTimings {
  double embed_ms = 0, candidates_ms = 0, aggregate_ms = 0, rerank_ms = 0, localize_ms = 0,
         total_ms = 0;
};

struct SearchAnswer {
  std::vector<SearchResult> results;
  SearchTimings timings;
  std::array<std::int64_t, 2> query_slices{0, 0};  // query slice range asked for, inclusive
  std::int64_t query_slices_used = 0;  // slices of that range with content, which took part
};

// Searches `index` with precomputed query vectors of slices first_slice .. first_slice + n - 1.
// `query_content` holds those slices' body areas in mm² (Embedder::embed_measured); empty: every
// query slice counts as having content. Throws Error(kInvalidInput) "slices a..b contain no
// body" when no query slice has content. Thread-safe for concurrent calls on the same index.
[[nodiscard]] SearchAnswer search(const Index& index, std::span<const float> query, std::int64_t n,
                                  std::int64_t first_slice, const SearchParams& params,
                                  std::span<const float> query_content = {});

// Embeds and measures slices [slices[0], slices[1]] (inclusive) of `query` with `embedder`,
// which must match the index (check_same_embedder), then searches as above.
[[nodiscard]] SearchAnswer search(const Index& index, const Embedder& embedder, const Volume& query,
                                  std::array<std::int64_t, 2> slices, const SearchParams& params);

// Late-interaction score of query rows against one volume's rows (both row-major, dim floats per
// row): fills best[i] = max_j <q_i, v_j> and argmax[i] = j, returns their mean.
double maxsim(std::span<const float> query, std::int64_t n, std::span<const float> volume,
              std::int64_t m, int dim, std::span<float> best, std::span<std::int64_t> argmax);

// Range spanned by the central `fraction` of `slices` (order irrelevant): sorts, drops
// floor((1 - fraction) / 2 * size) from each end. {-1, -1} when empty.
[[nodiscard]] std::array<std::int64_t, 2> central_range(std::vector<std::int64_t> slices,
                                                        double fraction);

}  // namespace voxir
