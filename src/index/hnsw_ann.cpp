// HNSW through hnswlib (header-only). Labels are rows. hnswlib keeps the search breadth in the
// index object, so a query asking for another breadth changes it under an exclusive lock while
// queries with the current one share the index.
#include "index/ann.h"
#include "util/parallel.h"

#include "voxir/error.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

namespace voxir::index {
namespace {

using Hnsw = hnswlib::HierarchicalNSW<float>;

class HnswAnn final : public Ann {
 public:
  HnswAnn(int dim, const std::filesystem::path& file)
      : dim_(static_cast<std::size_t>(dim)), space_(dim_) {
    try {
      hnsw_ = std::make_unique<Hnsw>(&space_, file.string());
    } catch (const std::exception& e) {
      fail(ErrorKind::kInvalidInput, "{}: cannot read the HNSW graph: {}", file.string(), e.what());
    }
    hnsw_->setEf(static_cast<std::size_t>(AnnParams{}.ef_search));
  }

  [[nodiscard]] std::size_t size() const { return hnsw_->cur_element_count; }

  void search(const float* queries, std::int64_t n, int k, const AnnParams& params,
              std::int64_t* ids, float* sims) const override {
    const auto ef = static_cast<std::size_t>(
        std::max(k, params.ef_search));
    std::shared_lock read(ef_lock_);
    while (hnsw_->ef_ != ef) {
      read.unlock();
      {
        std::unique_lock write(ef_lock_);
        hnsw_->setEf(ef);
      }
      read.lock();
    }
    const std::size_t d = dim_;
#pragma omp parallel for schedule(dynamic, 4)
    for (std::int64_t i = 0; i < n; ++i) {
      auto top =
          hnsw_->searchKnn(queries + static_cast<std::size_t>(i) * d, static_cast<std::size_t>(k));
      for (int r = k - 1; r >= 0; --r) {
        if (top.empty()) {
          ids[i * k + r] = -1;
          sims[i * k + r] = -std::numeric_limits<float>::infinity();
          continue;
        }
        // hnswlib's inner-product "distance" is 1 - <q, v>; the queue pops the farthest first.
        ids[i * k + r] = static_cast<std::int64_t>(top.top().second);
        sims[i * k + r] = 1.0f - top.top().first;
        top.pop();
      }
    }
  }

 private:
  std::size_t dim_;
  hnswlib::InnerProductSpace space_;
  std::unique_ptr<Hnsw> hnsw_;
  mutable std::shared_mutex ef_lock_;
};

}  // namespace

std::unique_ptr<Ann> open_hnsw(const std::filesystem::path& file,
                               const RowVectors& rows) {
  auto ann = std::make_unique<HnswAnn>(rows.dim, file);
  if (static_cast<std::int64_t>(ann->size()) != rows.n) {
    fail(ErrorKind::kInvalidInput, "{}: the HNSW graph holds {} vectors, the index has {}",
         file.string(), ann->size(), rows.n);
  }
  return ann;
}

void build_hnsw(const IndexSpec& spec, const RowVectors& rows,
                const std::filesystem::path& previous, std::int64_t previous_rows,
                const std::filesystem::path& out, int threads) {
  hnswlib::InnerProductSpace space(static_cast<std::size_t>(rows.dim));
  std::unique_ptr<Hnsw> hnsw;
  std::int64_t start = 0;
  const auto capacity = static_cast<std::size_t>(std::max<std::int64_t>(rows.n, 1));
  try {
    if (!previous.empty() && previous_rows > 0) {
      hnsw = std::make_unique<Hnsw>(&space, previous.string(), false, capacity);
      if (static_cast<std::int64_t>(hnsw->cur_element_count) != previous_rows) {
        fail(ErrorKind::kInvalidInput, "{}: the HNSW graph holds {} vectors, expected {}",
             previous.string(), hnsw->cur_element_count, previous_rows);
      }
      start = previous_rows;
    } else {
      hnsw = std::make_unique<Hnsw>(&space, capacity, static_cast<std::size_t>(spec.hnsw_m),
                                    static_cast<std::size_t>(spec.ef_construction),
                                    /*random_seed=*/100);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(ErrorKind::kInvalidInput, "{}: cannot read the HNSW graph: {}", previous.string(),
         e.what());
  }
  const auto d = static_cast<std::size_t>(rows.dim);
  // The first node is added alone so that the others all find an entry point.
  if (start == 0 && rows.n > 0) hnsw->addPoint(rows.data, 0), start = 1;
  std::atomic<std::int64_t> next{start};
  std::exception_ptr error;
  std::mutex error_lock;
  auto worker = [&] {
    try {
      for (std::int64_t row = next++; row < rows.n; row = next++) {
        hnsw->addPoint(rows.data + static_cast<std::size_t>(row) * d,
                       static_cast<std::size_t>(row));
      }
    } catch (...) {
      const std::lock_guard lock(error_lock);
      error = std::current_exception();
      next = rows.n;
    }
  };
  std::vector<std::thread> pool;
  const int n_threads = voxir::resolve_threads(threads);
  for (int t = 1; t < n_threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  try {
    hnsw->saveIndex(out.string());
  } catch (const std::exception& e) {
    fail(ErrorKind::kIo, "{}: cannot write the HNSW graph: {}", out.string(), e.what());
  }
}

}  // namespace voxir::index
