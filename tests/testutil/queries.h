// Queries that tests build again and again: slices of a volume in memory, precomputed vectors.
#pragma once

#include "voxir/search.h"

#include <array>
#include <cstdint>
#include <span>

namespace voxir::testing {

// Slices [slices[0], slices[1]] of `volume`, embedded with `embedder`.
[[nodiscard]] SearchAnswer search_slices(const Index& index, const Embedder& embedder,
                                         const Volume& volume, std::array<std::int64_t, 2> slices,
                                         const SearchParams& params = {});
// Precomputed vectors of slices first, first + 1, ...
[[nodiscard]] SearchAnswer search_vectors(const Index& index, std::span<const float> vectors,
                                          std::int64_t first, const SearchParams& params = {});

}  // namespace voxir::testing
