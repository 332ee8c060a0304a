#include "testutil/queries.h"

namespace voxir::testing {

SearchAnswer search_slices(const Index& index, const Embedder& embedder, const Volume& volume,
                           std::array<std::int64_t, 2> slices, const SearchParams& params) {
  Query query;
  query.volume = &volume;
  query.slices = slices;
  query.params = params;
  query.embedder = &embedder;
  return search(index, query);
}

SearchAnswer search_vectors(const Index& index, std::span<const float> vectors, std::int64_t first,
                            const SearchParams& params) {
  Query query;
  query.vectors = vectors;
  query.first_slice = first;
  query.params = params;
  return search(index, query);
}

}  // namespace voxir::testing
