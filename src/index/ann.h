// The approximate (or exact) search structure of an index generation, behind one interface.
// Implementations: Flat (Faiss's BLAS kernel straight on the memory-mapped vectors, no copy),
// HNSW (hnswlib: on this machine it builds ~4x and searches ~5x faster than Faiss's HNSW at equal
// recall, docs/dependencies.md) and IVF-PQ (Faiss, with exact re-scoring from the stored vectors).
#pragma once

#include "voxir/index.h"

#include <cstdint>
#include <filesystem>
#include <memory>

namespace voxir::index {

// Rows 0..n-1 of an index generation, row-major, as stored in its vector file.
struct RowVectors {
  const float* data = nullptr;
  std::int64_t n = 0;
  int dim = 0;
};

class Ann {
 public:
  virtual ~Ann() = default;
  // See Index::search. Thread-safe.
  virtual void search(const float* queries, std::int64_t n, int k, const AnnParams& params,
                      std::int64_t* ids, float* sims) const = 0;
};

// File name of the structure inside a generation folder; empty for Flat (it needs none).
[[nodiscard]] std::string ann_file_name(const IndexSpec& spec);

// Writes the structure for `rows` to `out`. When `previous` names the file of an earlier
// generation whose rows are the first `previous_rows` of `rows` unchanged, it is extended rather
// than rebuilt (HNSW: new nodes added; IVF-PQ: trained quantizers kept, lists refilled when
// previous_rows is 0, e.g. after a removal). Throws Error.
void build_ann(const IndexSpec& spec, const RowVectors& rows, const std::filesystem::path& previous,
               std::int64_t previous_rows, const std::filesystem::path& out, int threads);

// Opens the structure of a generation; `rows` must outlive the result. Everything the library
// would trust (header, counts, sizes, link and row ids) is checked against `spec` and `rows`
// first: a file that disagrees throws Error(kInvalidInput) naming it, whatever its checksum.
[[nodiscard]] std::unique_ptr<Ann> open_ann(const IndexSpec& spec,
                                            const std::filesystem::path& file,
                                            const RowVectors& rows);

// Faiss / hnswlib, one translation unit each.
[[nodiscard]] std::unique_ptr<Ann> open_flat(const IndexSpec& spec, const RowVectors& rows);
[[nodiscard]] std::unique_ptr<Ann> open_ivfpq(const IndexSpec& spec,
                                              const std::filesystem::path& file,
                                              const RowVectors& rows);
void build_ivfpq(const IndexSpec& spec, const RowVectors& rows,
                 const std::filesystem::path& previous, std::int64_t previous_rows,
                 const std::filesystem::path& out, int threads);
[[nodiscard]] std::unique_ptr<Ann> open_hnsw(const IndexSpec& spec,
                                             const std::filesystem::path& file,
                                             const RowVectors& rows);
void build_hnsw(const IndexSpec& spec, const RowVectors& rows,
                const std::filesystem::path& previous, std::int64_t previous_rows,
                const std::filesystem::path& out, int threads);

// Exact top-k of each query among the rows `candidates[i * c .. i * c + c - 1]` (-1 skipped):
// used to refine approximate hits with the stored vectors.
void rescore_exact(const float* queries, std::int64_t n, const RowVectors& rows,
                   const std::int64_t* candidates, int c, int k, std::int64_t* ids, float* sims);

}  // namespace voxir::index
