// voxir/json.h: the JSON forms of the library's answers, shared by every front end (`voxir
// search --json`, `voxir index info --json`, the server's API), so they cannot drift apart.
// Each returns a JSON document as text; field meanings are documented in docs/server.md.
#pragma once

#include "voxir/index.h"
#include "voxir/search.h"

#include <string>
#include <string_view>

namespace voxir {

// A search answer: {"index", "query": {path, slices, slices_used, region?}, "query_region"?:
// {name, first, last, predicted, confidence}, "params", "results": [{volume, path, score, votes,
// location, alignment: [[query_slice, volume_slice, sim]...], region?: {first, last, predicted,
// confidence}}], "timings_ms"}. `index_name` and `query_name` are how the caller names the index and the query
// (paths for the CLI, ids for the server).
[[nodiscard]] std::string search_answer_json(const SearchAnswer& answer, const SearchParams& params,
                                             std::string_view index_name,
                                             std::string_view query_name, int indent = 2);

// What an index holds: generation, spec, embedder, counts, sizes per file and, with
// `with_volumes`, the list of volumes (id, path, slices, empty_slices, split, dims, spacing,
// metadata).
[[nodiscard]] std::string index_info_json(const Index& index, std::string_view index_name,
                                          bool checksums_verified, bool with_volumes,
                                          int indent = 2);

// One indexed volume: its entry as in index_info_json plus "labels": [{class, region, first,
// last}] for each class present on at least one slice (empty without labels). Throws
// Error(kNotFound) for an unknown id.
[[nodiscard]] std::string volume_json(const Index& index, std::string_view id, int indent = 2);

}  // namespace voxir
