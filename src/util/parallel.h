// The library's one thread pool and the loops that run on it. Every parallel loop of the library
// (embedding slices, building graphs, searching batches of queries, reading masks, writing
// phantoms) goes through parallel_for / parallel_chunks, so a process never runs more than
// worker_threads() of our threads at once however many loops, nested or from several caller
// threads, are in flight. (libtorch, Faiss's OpenMP and OpenBLAS keep their own threads.)
//
// Safe from any number of threads at once and when nested: the calling thread runs items of its
// own loop and only ever waits for items that another thread is already running, never for a
// queued one, so a pool thread calling parallel_for cannot deadlock. The first exception thrown
// by an item is rethrown in the caller once every started item has finished; items not started
// by then are skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace voxir {

// `requested` when positive, else the number of CPUs this process may run on (its affinity mask:
// taskset, cgroup cpusets), not all the machine's. Never less than 1.
[[nodiscard]] int resolve_threads(int requested);

// Threads of the pool, the calling thread counted: $VOXIR_THREADS if set (read once, when the
// pool starts), else resolve_threads(0).
[[nodiscard]] unsigned worker_threads();

// Calls fn(i) for every i in [0, n), items claimed one at a time by at most `threads` threads
// (0: worker_threads(); never more than that).
void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn, int threads = 0);

// Calls fn(begin, end, chunk) on `chunks` contiguous chunks of [0, n) (chunks <= 0:
// resolve_threads(0); never more chunks than n), chunk = 0, 1, ...: each chunk index is used by
// one call only, so per-chunk scratch needs no lock.
void parallel_chunks(std::int64_t n, int chunks,
                     const std::function<void(std::int64_t, std::int64_t, int)>& fn);

}  // namespace voxir
