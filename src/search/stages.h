// The staged searcher behind search(index, Query) (voxir/search.h): candidates -> aggregate ->
// rerank -> localize on query vectors that the Query has already been resolved to.
#pragma once

#include "voxir/search.h"

#include <cstdint>
#include <span>

// (In namespace voxir: a namespace voxir::search would clash with the function voxir::search.)
namespace voxir {

// Searches `index` with precomputed query vectors of slices first_slice .. first_slice + n - 1.
// `query_content` holds those slices' body areas in mm² (Embedder::embed_measured); empty: every
// query slice counts as having content. Throws Error(kInvalidInput) "slices a..b contain no
// body" when no query slice has content. Thread-safe for concurrent calls on the same index.
[[nodiscard]] SearchAnswer run_stages(const Index& index, std::span<const float> query,
                                      std::int64_t n, std::int64_t first_slice,
                                      const SearchParams& params,
                                      std::span<const float> query_content = {});

}  // namespace voxir
