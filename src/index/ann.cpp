#include "index/ann.h"

#include "voxir/error.h"

#include <algorithm>
#include <limits>
#include <thread>
#include <vector>

namespace voxir::index {

std::string ann_file_name(const IndexSpec& spec) {
  switch (spec.type) {
    case IndexSpec::Type::kFlat:
      return "";
    case IndexSpec::Type::kHnsw:
      return "ann.hnsw";
    case IndexSpec::Type::kIvfPq:
      return "ann.faiss";
  }
  return "";
}

void build_ann(const IndexSpec& spec, const RowVectors& rows, const std::filesystem::path& previous,
               std::int64_t previous_rows, const std::filesystem::path& out, int threads) {
  switch (spec.type) {
    case IndexSpec::Type::kFlat:
      return;
    case IndexSpec::Type::kHnsw:
      return build_hnsw(spec, rows, previous, previous_rows, out, threads);
    case IndexSpec::Type::kIvfPq:
      return build_ivfpq(spec, rows, previous, previous_rows, out, threads);
  }
}

std::unique_ptr<Ann> open_ann(const IndexSpec& spec, const std::filesystem::path& file,
                              const RowVectors& rows) {
  switch (spec.type) {
    case IndexSpec::Type::kFlat:
      return open_flat(spec, rows);
    case IndexSpec::Type::kHnsw:
      return open_hnsw(spec, file, rows);
    case IndexSpec::Type::kIvfPq:
      return open_ivfpq(spec, file, rows);
  }
  fail(ErrorKind::kInternal, "unknown index type");
}

void rescore_exact(const float* queries, std::int64_t n, const RowVectors& rows,
                   const std::int64_t* candidates, int c, int k, std::int64_t* ids, float* sims) {
  const auto d = static_cast<std::size_t>(rows.dim);
  std::vector<std::pair<float, std::int64_t>> scored;
  for (std::int64_t i = 0; i < n; ++i) {
    scored.clear();
    const float* q = queries + static_cast<std::size_t>(i) * d;
    for (int r = 0; r < c; ++r) {
      const std::int64_t row = candidates[i * c + r];
      if (row < 0 || row >= rows.n) continue;
      const float* v = rows.data + static_cast<std::size_t>(row) * d;
      float dot = 0;
      for (std::size_t j = 0; j < d; ++j) dot += q[j] * v[j];
      scored.emplace_back(dot, row);
    }
    const auto keep = std::min<std::size_t>(scored.size(), static_cast<std::size_t>(k));
    std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(keep),
                      scored.end(), [](const auto& a, const auto& b) {
                        return a.first > b.first || (a.first == b.first && a.second < b.second);
                      });
    for (int r = 0; r < k; ++r) {
      const bool have = static_cast<std::size_t>(r) < keep;
      ids[i * k + r] = have ? scored[static_cast<std::size_t>(r)].second : -1;
      sims[i * k + r] = have ? scored[static_cast<std::size_t>(r)].first
                             : -std::numeric_limits<float>::infinity();
    }
  }
}

}  // namespace voxir::index
