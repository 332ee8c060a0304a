// Flat and IVF-PQ search through Faiss. Flat runs Faiss's knn_inner_product (the kernel behind
// IndexFlatIP, BLAS for batches of 20+ queries) on the memory-mapped rows, so exact search costs
// no second copy of the vectors.
#include "index/ann.h"

#include "util/exceptions.h"
#include "voxir/error.h"

#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <vector>

namespace voxir::index {
namespace {

class FlatAnn final : public Ann {
 public:
  explicit FlatAnn(const RowVectors& rows) : rows_(rows) {}
  void search(const float* queries, std::int64_t n, int k, const AnnParams& /*params*/,
              std::int64_t* ids, float* sims) const override {
    faiss::float_minheap_array_t heap{static_cast<std::size_t>(n), static_cast<std::size_t>(k), ids,
                                      sims};
    faiss::knn_inner_product(queries, rows_.data, static_cast<std::size_t>(rows_.dim),
                             static_cast<std::size_t>(n), static_cast<std::size_t>(rows_.n), &heap);
  }

 private:
  RowVectors rows_;
};

class IvfPqAnn final : public Ann {
 public:
  IvfPqAnn(std::unique_ptr<faiss::Index> index, const RowVectors& rows)
      : index_(std::move(index)), rows_(rows) {}
  void search(const float* queries, std::int64_t n, int k, const AnnParams& params,
              std::int64_t* ids, float* sims) const override {
    faiss::SearchParametersIVF p;
    p.nprobe = static_cast<std::size_t>(params.nprobe);
    const int refine = params.refine;
    if (refine <= 1) {
      index_->search(n, queries, k, sims, ids, &p);
      return;
    }
    const int c = k * refine;
    std::vector<std::int64_t> cand(static_cast<std::size_t>(n * c));
    std::vector<float> dist(cand.size());
    index_->search(n, queries, c, dist.data(), cand.data(), &p);
    rescore_exact(queries, n, rows_, cand.data(), c, k, ids, sims);
  }

 private:
  std::unique_ptr<faiss::Index> index_;
  RowVectors rows_;
};

// Faiss throws faiss::FaissException: a verdict on the file's content, unless it is about writing.
template <typename Fn>
decltype(auto) faiss_call(const std::filesystem::path& file, std::string_view what, Fn&& fn) {
  const bool writing = what.rfind("writing", 0) == 0;
  return translate_exceptions(file, what, writing ? ErrorKind::kIo : ErrorKind::kInvalidInput,
                              std::forward<Fn>(fn));
}

}  // namespace

std::unique_ptr<Ann> open_flat(const IndexSpec& /*spec*/, const RowVectors& rows) {
  return std::make_unique<FlatAnn>(rows);
}

std::unique_ptr<Ann> open_ivfpq(const IndexSpec& spec, const std::filesystem::path& file,
                                const RowVectors& rows) {
  std::unique_ptr<faiss::Index> index(faiss_call(file, "reading the IVF-PQ index", [&] {
    return faiss::read_index(file.c_str(), faiss::IO_FLAG_MMAP | faiss::IO_FLAG_READ_ONLY);
  }));
  if (index->d != rows.dim || index->ntotal != rows.n) {
    fail(ErrorKind::kInvalidInput,
         "{}: holds {} vectors of dimension {}, the index has {} of dimension {}", file.string(),
         index->ntotal, index->d, rows.n, rows.dim);
  }
  // Faiss trusts its own structure when searching (list sizes, codes as table offsets) and hands
  // back the stored ids as rows: check what the manifest fixes, and that the lists hold each row
  // exactly once, so a search can never return a row outside the index.
  const auto* ivf = dynamic_cast<const faiss::IndexIVFPQ*>(index.get());
  if (ivf == nullptr || ivf->metric_type != faiss::METRIC_INNER_PRODUCT || !ivf->is_trained) {
    fail(ErrorKind::kInvalidInput, "{}: not a trained inner-product IVF-PQ index", file.string());
  }
  if (ivf->nlist != static_cast<std::size_t>(spec.ivf_lists) ||
      ivf->pq.M != static_cast<std::size_t>(spec.pq_m) || ivf->pq.nbits != 8 ||
      ivf->quantizer == nullptr || ivf->quantizer->ntotal != spec.ivf_lists ||
      ivf->quantizer->d != rows.dim) {
    fail(ErrorKind::kInvalidInput,
         "{}: IVF{} (quantizer {} of dimension {}), PQ{} with {} bits; the spec is {}",
         file.string(), ivf->nlist, ivf->quantizer ? ivf->quantizer->ntotal : 0,
         ivf->quantizer ? ivf->quantizer->d : 0, ivf->pq.M, ivf->pq.nbits, spec.str());
  }
  const auto* lists = ivf->invlists;
  if (lists == nullptr || lists->nlist != ivf->nlist || lists->code_size != ivf->code_size) {
    fail(ErrorKind::kInvalidInput, "{}: the inverted lists do not match the IVF-PQ header",
         file.string());
  }
  faiss_call(file, "checking the inverted lists", [&] {
    std::vector<std::uint8_t> seen(static_cast<std::size_t>(rows.n), 0);
    for (std::size_t l = 0; l < lists->nlist; ++l) {
      // Mapped from the file (IO_FLAG_MMAP), the ids need not be 8-byte aligned (Faiss's file
      // layout does not align them): each is copied out rather than loaded in place.
      faiss::InvertedLists::ScopedIds ids(lists, l);
      const auto* bytes = reinterpret_cast<const unsigned char*>(ids.get());
      for (std::size_t i = 0, n = lists->list_size(l); i < n; ++i) {
        std::int64_t row = 0;  // Faiss idx_t
        std::memcpy(&row, bytes + i * sizeof row, sizeof row);
        if (row < 0 || row >= rows.n || seen[static_cast<std::size_t>(row)] != 0) {
          fail(ErrorKind::kInvalidInput, "{}: list {} holds row {} (the rows are 0..{}, each once)",
               file.string(), l, row, rows.n - 1);
        }
        seen[static_cast<std::size_t>(row)] = 1;
      }
    }
    if (std::find(seen.begin(), seen.end(), 0) != seen.end()) {
      fail(ErrorKind::kInvalidInput, "{}: the inverted lists miss some of the {} rows",
           file.string(), rows.n);
    }
  });
  return std::make_unique<IvfPqAnn>(std::move(index), rows);
}

void build_ivfpq(const IndexSpec& spec, const RowVectors& rows,
                 const std::filesystem::path& previous, std::int64_t previous_rows,
                 const std::filesystem::path& out, int /*threads*/) {
  std::unique_ptr<faiss::Index> index;
  std::int64_t start = 0;
  if (!previous.empty()) {
    index.reset(faiss_call(previous, "reading the IVF-PQ index",
                           [&] { return faiss::read_index(previous.c_str()); }));
    if (previous_rows > 0 && index->ntotal == previous_rows) {
      start = previous_rows;
    } else {
      index->reset();  // rows changed (a removal): keep the trained quantizers, refill the lists
    }
  } else {
    if (rows.n < spec.ivf_lists) {
      fail(ErrorKind::kUsage,
           "index spec {}: IVF{} needs at least {} vectors to train, there are {}", spec.str(),
           spec.ivf_lists, spec.ivf_lists, rows.n);
    }
    index.reset(faiss_call(out, "making the IVF-PQ index", [&] {
      return faiss::index_factory(rows.dim,
                                  fmt::format("IVF{},PQ{}", spec.ivf_lists, spec.pq_m).c_str(),
                                  faiss::METRIC_INNER_PRODUCT);
    }));
    // index_factory turns on polysemous training, a simulated-annealing pass that only helps
    // Hamming-filtered search (unused here) and made training minutes instead of seconds.
    if (auto* ivfpq = dynamic_cast<faiss::IndexIVFPQ*>(index.get()))
      ivfpq->do_polysemous_training = false;
    // Faiss wants >= 39 points per list; 64 per list is plenty for k-means and PQ codebooks.
    const std::int64_t sample = std::min<std::int64_t>(rows.n, std::int64_t{64} * spec.ivf_lists);
    const auto d = static_cast<std::size_t>(rows.dim);
    std::vector<float> train(static_cast<std::size_t>(sample) * d);
    for (std::int64_t s = 0; s < sample; ++s) {  // evenly spread: rows are grouped by volume
      const std::int64_t row = s * rows.n / sample;
      std::copy_n(rows.data + static_cast<std::size_t>(row) * d, d,
                  train.data() + static_cast<std::size_t>(s) * d);
    }
    faiss_call(out, "training IVF-PQ", [&] { index->train(sample, train.data()); });
  }
  const auto d = static_cast<std::size_t>(rows.dim);
  faiss_call(out, "adding to IVF-PQ",
             [&] { index->add(rows.n - start, rows.data + static_cast<std::size_t>(start) * d); });
  faiss_call(out, "writing the IVF-PQ index",
             [&] { faiss::write_index(index.get(), out.c_str()); });
}

}  // namespace voxir::index
