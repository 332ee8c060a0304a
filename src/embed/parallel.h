// Splitting slice ranges over worker threads.
#pragma once

#include "util/parallel.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace voxir::embed {

// Threads to use for `requested` (0 = every CPU the process may use, voxir::resolve_threads),
// never more than `work` items.
[[nodiscard]] inline int resolve_threads(int requested, std::int64_t work) {
  const int n = voxir::resolve_threads(requested);
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(n, work)));
}

// Calls fn(begin, end, worker) on `threads` contiguous chunks of [0, n); the calling thread runs
// chunk 0. The first exception thrown by any chunk is rethrown after all have finished.
template <typename Fn>
void parallel_chunks(std::int64_t n, int threads, Fn&& fn) {
  if (n <= 0) return;
  threads = resolve_threads(threads, n);
  if (threads == 1) {
    fn(std::int64_t{0}, n, 0);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(threads));
  const auto run = [&](int w) {
    const std::int64_t b = n * w / threads;
    const std::int64_t e = n * (w + 1) / threads;
    try {
      fn(b, e, w);
    } catch (...) {
      errors[static_cast<std::size_t>(w)] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads - 1));
  for (int w = 1; w < threads; ++w) pool.emplace_back(run, w);
  run(0);
  for (auto& t : pool) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace voxir::embed
