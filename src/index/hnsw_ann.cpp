// HNSW through hnswlib (header-only). Labels are rows. hnswlib 0.6's searchKnn reads the search
// breadth from the index object (setEf), which concurrent queries with different breadths would
// race on; search_knn below does what searchKnn does with the breadth as an argument, so an open
// graph is never written after open and any number of queries share it without a lock.
#include "index/ann.h"
#include "index/mapped_file.h"
#include "util/parallel.h"

#include "voxir/error.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <limits>
#include <queue>
#include <vector>

namespace voxir::index {
namespace {

using Hnsw = hnswlib::HierarchicalNSW<float>;
using LinkId = hnswlib::tableint;

// Reads little PODs from a file image; reading past the end throws (the caller names the file).
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  template <typename T>
  T at(std::size_t offset) const {
    T value;
    if (offset > bytes_.size() || bytes_.size() - offset < sizeof(T)) {
      throw std::out_of_range(fmt::format("ends at byte {}, {} bytes were needed at byte {}",
                                          bytes_.size(), sizeof(T), offset));
    }
    std::memcpy(&value, bytes_.data() + offset, sizeof(T));
    return value;
  }
  template <typename T>
  T next() {
    const T value = at<T>(pos_);
    pos_ += sizeof(T);
    return value;
  }
  [[nodiscard]] std::size_t pos() const { return pos_; }
  void skip(std::size_t bytes) { pos_ += bytes; }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

// hnswlib 0.6 (saveIndex) writes a header of PODs; then per element a level-0 block of
// size_data_per_element bytes: a uint32 whose low 16 bits count the links (byte 2 is the delete
// mark), maxM0 link slots, the vector, the label; then per element a uint32 byte count followed
// by its upper-level link lists (one uint32 count and maxM slots per level). loadIndex allocates
// by the header and search follows links and labels without a check, so a file whose checksum
// matches but that disagrees with the manifest (another writer, a bug) could still crash a search:
// everything hnswlib trusts is checked here first, each failure saying what and where.
void check_hnsw_file(std::span<const std::uint8_t> bytes, const IndexSpec& spec,
                     const RowVectors& rows) {
  Reader in(bytes);
  const auto offset_level0 = in.next<std::size_t>();
  const auto max_elements = in.next<std::size_t>();
  const auto count = in.next<std::size_t>();
  const auto size_per_element = in.next<std::size_t>();
  const auto label_offset = in.next<std::size_t>();
  const auto data_offset = in.next<std::size_t>();
  const auto max_level = in.next<int>();
  const auto entry_point = in.next<LinkId>();
  const auto max_m = in.next<std::size_t>();
  const auto max_m0 = in.next<std::size_t>();
  const auto m = in.next<std::size_t>();
  (void)in.next<double>();       // mult_: level generation, used by inserts only
  (void)in.next<std::size_t>();  // ef_construction_: inserts only
  const auto n = static_cast<std::size_t>(rows.n);
  if (count != n || max_elements < count) {
    throw std::invalid_argument(fmt::format(
        "the graph holds {} vectors (capacity {}), the manifest says {}", count, max_elements, n));
  }
  const auto want_m = static_cast<std::size_t>(spec.hnsw_m);
  if (m != want_m || max_m != want_m || max_m0 != 2 * want_m) {
    throw std::invalid_argument(fmt::format("M {} (maxM {}, maxM0 {}), the spec {} says M {}", m,
                                            max_m, max_m0, spec.str(), want_m));
  }
  const std::size_t links0_bytes = sizeof(LinkId) * (max_m0 + 1);
  const std::size_t vector_bytes = sizeof(float) * static_cast<std::size_t>(rows.dim);
  if (offset_level0 != 0 || data_offset != links0_bytes ||
      label_offset != links0_bytes + vector_bytes ||
      size_per_element != label_offset + sizeof(hnswlib::labeltype)) {
    throw std::invalid_argument(fmt::format(
        "element layout {}/{}/{}/{} bytes (level 0, vector, label, element) does not fit {}-d "
        "vectors with M {}",
        offset_level0, data_offset, label_offset, size_per_element, rows.dim, want_m));
  }
  if (n > 0 && (max_level < 0 || entry_point >= n)) {
    throw std::invalid_argument(
        fmt::format("entry point {} at level {} for {} vectors", entry_point, max_level, n));
  }
  const std::size_t level0_start = in.pos();
  if ((bytes.size() - level0_start) / size_per_element < n) {
    throw std::invalid_argument(fmt::format("{} bytes cannot hold {} elements of {} bytes",
                                            bytes.size(), n, size_per_element));
  }
  auto check_links = [&](std::size_t offset, std::size_t slots, std::size_t element, int level) {
    const auto head = in.at<std::uint32_t>(offset);
    const std::size_t links = level == 0 ? (head & 0xffffu) : head;
    if (links > slots || (level == 0 && (head >> 16) != 0)) {
      throw std::invalid_argument(
          fmt::format("element {} level {}: link header {:#x} (at most {} links, no delete mark)",
                      element, level, head, slots));
    }
    for (std::size_t l = 0; l < links; ++l) {
      const auto to = in.at<LinkId>(offset + sizeof(LinkId) * (1 + l));
      if (to >= n) {
        throw std::invalid_argument(
            fmt::format("element {} level {} links to element {} of {}", element, level, to, n));
      }
    }
  };
  std::vector<std::uint8_t> seen(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t element = level0_start + i * size_per_element;
    check_links(element, max_m0, i, 0);
    const auto label = in.at<hnswlib::labeltype>(element + label_offset);
    if (label >= n || seen[label] != 0) {
      throw std::invalid_argument(fmt::format(
          "element {} has label {} (labels are the rows 0..{}, each once)", i, label, n - 1));
    }
    seen[label] = 1;
  }
  // Upper levels: search at level l only follows links to elements that reach level l.
  const std::size_t level_bytes = sizeof(LinkId) * (max_m + 1);
  std::vector<int> levels(n, 0);
  std::vector<std::size_t> upper(n, 0);
  in.skip(n * size_per_element);
  for (std::size_t i = 0; i < n; ++i) {
    const auto list_bytes = in.next<std::uint32_t>();
    if (list_bytes % level_bytes != 0 ||
        list_bytes / level_bytes > static_cast<std::size_t>(max_level)) {
      throw std::invalid_argument(
          fmt::format("element {}: {} bytes of upper links (a multiple of {}, at most level {})", i,
                      list_bytes, level_bytes, max_level));
    }
    levels[i] = static_cast<int>(list_bytes / level_bytes);
    upper[i] = in.pos();
    in.skip(list_bytes);
  }
  if (in.pos() != bytes.size()) {
    throw std::invalid_argument(
        fmt::format("the graph ends at byte {}, the file at {}", in.pos(), bytes.size()));
  }
  if (n > 0 && levels[entry_point] != max_level) {
    throw std::invalid_argument(fmt::format("entry point {} reaches level {}, the graph {}",
                                            entry_point, levels[entry_point], max_level));
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (int level = 1; level <= levels[i]; ++level) {
      const std::size_t offset = upper[i] + static_cast<std::size_t>(level - 1) * level_bytes;
      check_links(offset, max_m, i, level);
      const auto links = in.at<std::uint32_t>(offset);
      for (std::size_t l = 0; l < links; ++l) {
        const auto to = in.at<LinkId>(offset + sizeof(LinkId) * (1 + l));
        if (levels[to] < level) {
          throw std::invalid_argument(
              fmt::format("element {} level {} links to element {}, which has {} levels", i, level,
                          to, levels[to]));
        }
      }
    }
  }
}

// hnswlib's searchKnn (0.6.2) with the breadth `ef` per call: greedy descent through the upper
// levels, then searchBaseLayerST at level 0. Reads the graph only (searchBaseLayerST takes a
// visited list from hnswlib's own locked pool), so concurrent calls are safe. Open graphs have no
// deleted elements (a removal writes a new generation). Returns (distance, row), farthest on top.
std::priority_queue<std::pair<float, hnswlib::labeltype>> search_knn(const Hnsw& hnsw,
                                                                     const float* query,
                                                                     std::size_t k,
                                                                     std::size_t ef) {
  std::priority_queue<std::pair<float, hnswlib::labeltype>> result;
  if (hnsw.cur_element_count == 0) return result;
  LinkId current = hnsw.enterpoint_node_;
  float current_dist =
      hnsw.fstdistfunc_(query, hnsw.getDataByInternalId(current), hnsw.dist_func_param_);
  for (int level = hnsw.maxlevel_; level > 0; --level) {
    for (bool changed = true; changed;) {
      changed = false;
      hnswlib::linklistsizeint* list = hnsw.get_linklist(current, level);
      const auto* links = reinterpret_cast<const LinkId*>(list + 1);
      for (int i = 0, n = hnsw.getListCount(list); i < n; ++i) {
        const float d =
            hnsw.fstdistfunc_(query, hnsw.getDataByInternalId(links[i]), hnsw.dist_func_param_);
        if (d < current_dist) {
          current_dist = d;
          current = links[i];
          changed = true;
        }
      }
    }
  }
  auto top = hnsw.searchBaseLayerST<false>(current, query, std::max(ef, k));
  while (top.size() > k) top.pop();
  for (; !top.empty(); top.pop()) {
    result.emplace(top.top().first, hnsw.getExternalLabel(top.top().second));
  }
  return result;
}

class HnswAnn final : public Ann {
 public:
  HnswAnn(const IndexSpec& spec, const RowVectors& rows, const std::filesystem::path& file)
      : dim_(static_cast<std::size_t>(rows.dim)), space_(dim_) {
    try {
      check_hnsw_file(MappedFile(file).bytes(), spec, rows);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail(ErrorKind::kInvalidInput, "{}: damaged HNSW graph: {}", file.string(), e.what());
    }
    try {
      // Capacity = the checked count, so the header's own capacity sizes no allocation.
      hnsw_ =
          std::make_unique<Hnsw>(&space_, file.string(), false, static_cast<std::size_t>(rows.n));
    } catch (const std::exception& e) {
      fail(ErrorKind::kInvalidInput, "{}: cannot read the HNSW graph: {}", file.string(), e.what());
    }
  }

  [[nodiscard]] std::size_t size() const { return hnsw_->cur_element_count; }

  void search(const float* queries, std::int64_t n, int k, const AnnParams& params,
              std::int64_t* ids, float* sims) const override {
    const auto ef = static_cast<std::size_t>(std::max(k, params.ef_search));
    const std::size_t d = dim_;
    parallel_for(static_cast<std::size_t>(n), [&](std::size_t i) {
      auto top = search_knn(*hnsw_, queries + i * d, static_cast<std::size_t>(k), ef);
      const auto row = static_cast<std::int64_t>(i);
      for (int r = k - 1; r >= 0; --r) {
        if (top.empty()) {
          ids[row * k + r] = -1;
          sims[row * k + r] = -std::numeric_limits<float>::infinity();
          continue;
        }
        // hnswlib's inner-product "distance" is 1 - <q, v>; the queue pops the farthest first.
        ids[row * k + r] = static_cast<std::int64_t>(top.top().second);
        sims[row * k + r] = 1.0f - top.top().first;
        top.pop();
      }
    });
  }

 private:
  std::size_t dim_;
  hnswlib::InnerProductSpace space_;
  std::unique_ptr<Hnsw> hnsw_;  // not written after open
};

}  // namespace

std::unique_ptr<Ann> open_hnsw(const IndexSpec& spec, const std::filesystem::path& file,
                               const RowVectors& rows) {
  auto ann = std::make_unique<HnswAnn>(spec, rows, file);
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
  parallel_for(
      static_cast<std::size_t>(rows.n - start),
      [&](std::size_t i) {
        const auto row = static_cast<std::size_t>(start) + i;
        hnsw->addPoint(rows.data + row * d, row);
      },
      threads);
  try {
    hnsw->saveIndex(out.string());
  } catch (const std::exception& e) {
    fail(ErrorKind::kIo, "{}: cannot write the HNSW graph: {}", out.string(), e.what());
  }
}

}  // namespace voxir::index
