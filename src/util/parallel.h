// Runs independent work items on all cores. The first exception thrown by any item is rethrown
// in the caller after every thread has stopped; remaining items are skipped.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace voxir {

// `requested` when positive, else the number of CPUs this process may run on (its affinity mask:
// taskset, cgroup cpusets), not all the machine's. Never less than 1.
[[nodiscard]] int resolve_threads(int requested);

// Number of worker threads parallel_for uses: $VOXIR_THREADS if set, else resolve_threads(0).
[[nodiscard]] unsigned worker_threads();

// Calls fn(i) for every i in [0, n), from up to worker_threads() threads.
void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn);

}  // namespace voxir
