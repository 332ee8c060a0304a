#include "util/parallel.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace voxir {
namespace {

// One parallel_for call. Shared (shared_ptr) by the caller and the pool threads that join it, so
// a pool thread that finishes the last item may still touch it after the caller has returned.
struct Loop {
  std::size_t n = 0;
  const std::function<void(std::size_t)>* fn = nullptr;  // valid while items remain unfinished
  std::size_t helpers = 0;           // pool threads that may still join (under Pool::mutex)
  std::atomic<std::size_t> next{0};  // next item to claim
  std::atomic<bool> failed{false};
  std::mutex mutex;  // guards error, finished; signals done
  std::condition_variable done;
  std::exception_ptr error;
  std::size_t finished = 0;  // items run or skipped

  // Claims and runs items until none is left.
  void work() {
    std::size_t ran = 0;
    for (std::size_t i = next++; i < n; i = next++, ++ran) {
      if (failed.load(std::memory_order_relaxed)) continue;  // skipped after an error
      try {
        (*fn)(i);
      } catch (...) {
        const std::lock_guard lock(mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
    if (ran == 0) return;
    const std::lock_guard lock(mutex);
    finished += ran;
    if (finished == n) done.notify_all();
  }
};

class Pool {
 public:
  explicit Pool(unsigned threads) {
    threads_.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) threads_.emplace_back([this] { serve(); });
  }
  ~Pool() {
    {
      const std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  [[nodiscard]] std::size_t size() const { return threads_.size(); }

  // Offers `loop` to up to loop->helpers pool threads, runs its items on the calling thread too,
  // then waits for the items other threads have claimed.
  void run(const std::shared_ptr<Loop>& loop) {
    const std::size_t helpers = loop->helpers;  // read before pool threads may count it down
    {
      const std::lock_guard lock(mutex_);
      queue_.push_back(loop);
    }
    if (helpers == 1) {
      wake_.notify_one();
    } else {
      wake_.notify_all();
    }
    loop->work();
    {
      // Every item is claimed: no thread needs to pick the loop up any more.
      const std::lock_guard lock(mutex_);
      const auto it = std::find(queue_.begin(), queue_.end(), loop);
      if (it != queue_.end()) queue_.erase(it);
    }
    std::unique_lock lock(loop->mutex);
    loop->done.wait(lock, [&] { return loop->finished == loop->n; });
    if (loop->error) std::rethrow_exception(loop->error);
  }

 private:
  void serve() {
    for (;;) {
      std::shared_ptr<Loop> loop;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        loop = queue_.front();
        if (--loop->helpers == 0) queue_.pop_front();
      }
      loop->work();
    }
  }

  std::mutex mutex_;  // guards queue_, stop_ and each queued Loop's helpers
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Loop>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// Started on first use, so a process that never runs a parallel loop starts no thread; joined at
// exit.
Pool& pool() {
  static Pool instance(worker_threads() - 1);
  return instance;
}

}  // namespace

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

unsigned worker_threads() {
  static const unsigned threads = [] {
    if (const char* env = std::getenv("VOXIR_THREADS"); env != nullptr && *env != '\0') {
      const int n = std::atoi(env);
      if (n > 0) return static_cast<unsigned>(n);
    }
    return static_cast<unsigned>(resolve_threads(0));
  }();
  return threads;
}

void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn, int threads) {
  const std::size_t limit = threads > 0 ? std::min<std::size_t>(threads, worker_threads())
                                        : worker_threads();
  const std::size_t helpers = std::min(limit, n) - (n > 0 ? 1 : 0);
  if (helpers == 0 || pool().size() == 0) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  auto loop = std::make_shared<Loop>();
  loop->n = n;
  loop->fn = &fn;
  loop->helpers = std::min(helpers, pool().size());
  pool().run(loop);
}

void parallel_chunks(std::int64_t n, int chunks,
                     const std::function<void(std::int64_t, std::int64_t, int)>& fn) {
  if (n <= 0) return;
  const auto c = std::min<std::int64_t>(resolve_threads(chunks), n);
  parallel_for(static_cast<std::size_t>(c), [&](std::size_t i) {
    const auto w = static_cast<std::int64_t>(i);
    fn(n * w / c, n * (w + 1) / c, static_cast<int>(w));
  });
}

}  // namespace voxir
