// The library's thread pool (util/parallel.h): every item runs once, errors reach the caller,
// and loops nested inside loops or started from many threads at once finish.
#include "util/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace voxir {
namespace {

TEST(Parallel, EveryItemRunsOnce) {
  for (const std::size_t n : std::vector<std::size_t>{0, 1, 2, 7, 1000}) {
    std::vector<std::atomic<int>> runs(n);
    parallel_for(n, [&](std::size_t i) { ++runs[i]; });
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(runs[i].load(), 1) << i << " of " << n;
  }
}

TEST(Parallel, ChunksTileTheRangeWithDistinctIndices) {
  for (const int chunks : {0, 1, 3, 50}) {
    std::vector<std::atomic<int>> covered(37), chunk_used(64);
    parallel_chunks(37, chunks, [&](std::int64_t b, std::int64_t e, int c) {
      ++chunk_used[static_cast<std::size_t>(c)];
      for (std::int64_t i = b; i < e; ++i) ++covered[static_cast<std::size_t>(i)];
    });
    for (const auto& c : covered) EXPECT_EQ(c.load(), 1) << chunks << " chunks";
    for (const auto& u : chunk_used) EXPECT_LE(u.load(), 1) << chunks << " chunks";
  }
}

TEST(Parallel, FirstErrorReachesTheCallerAndStopsTheLoop) {
  // Each item takes 1 ms, so running all 1000 would take 0.5 s on two threads: long enough that
  // a loaded machine still lets the thread of item 3 throw before the other thread is through.
  std::atomic<int> ran{0};
  EXPECT_THROW(parallel_for(1000,
                            [&](std::size_t i) {
                              ++ran;
                              if (i == 3) throw std::runtime_error("item 3");
                              std::this_thread::sleep_for(std::chrono::milliseconds(1));
                            }),
               std::runtime_error);
  EXPECT_LT(ran.load(), 1000);
  // The pool is still usable afterwards.
  std::atomic<int> after{0};
  parallel_for(100, [&](std::size_t) { ++after; });
  EXPECT_EQ(after.load(), 100);
}

// Loops inside loops, started from several threads at once, more of them than pool threads:
// callers run their own items, so none waits for a queued item that no thread is free to run.
TEST(Parallel, NestedLoopsFromManyThreadsFinish) {
  std::atomic<long> sum{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      parallel_for(8, [&](std::size_t) {
        parallel_for(8, [&](std::size_t) {
          parallel_chunks(16, 4, [&](std::int64_t b, std::int64_t e, int) { sum += e - b; });
        });
      });
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(sum.load(), 4L * 8 * 8 * 16);
}

}  // namespace
}  // namespace voxir
