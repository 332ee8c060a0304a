// Splitting slice ranges over the library's thread pool (util/parallel.h).
#pragma once

#include "util/parallel.h"

#include <algorithm>
#include <cstdint>

namespace voxir::embed {

using voxir::parallel_chunks;

// Threads to use for `requested` (0 = every CPU the process may use, voxir::resolve_threads),
// never more than `work` items.
[[nodiscard]] inline int resolve_threads(int requested, std::int64_t work) {
  const int n = voxir::resolve_threads(requested);
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(n, work)));
}

}  // namespace voxir::embed
