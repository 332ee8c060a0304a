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

// Number of worker threads voxir uses: $VOXIR_THREADS if set, else the hardware concurrency.
[[nodiscard]] unsigned worker_threads();

// Calls fn(i) for every i in [0, n), from up to worker_threads() threads.
void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn);

}  // namespace voxir
