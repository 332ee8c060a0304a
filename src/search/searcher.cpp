// The searcher: candidates -> aggregate -> rerank -> localize (voxir/search.h), each timed.
#include "search/region_extent.h"
#include "search/stages.h"
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/search.h"
#include "voxir/volume.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

// Fortran BLAS (OpenBLAS here, through Faiss's link line): one GEMM per candidate volume.
extern "C" int sgemm_(const char* transa, const char* transb, const int* m, const int* n,
                      const int* k, const float* alpha, const float* a, const int* lda,
                      const float* b, const int* ldb, const float* beta, float* c, const int* ldc);

namespace voxir {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct Hit {
  std::int64_t query;  // position in the query (0..n-1)
  std::int64_t slice;  // slice of the hit's volume
  float similarity;
};

struct Candidate {
  std::size_t volume = 0;  // position in Index::volumes()
  int votes = 0;
  double sum = 0;
  float max = -std::numeric_limits<float>::infinity();
  double score = 0;
  std::vector<Hit> hits;
};

double vote_score(const Candidate& c, VoteMode mode) {
  switch (mode) {
    case VoteMode::kCount:
      return c.votes;
    case VoteMode::kSum:
      return c.sum;
    case VoteMode::kMax:
      return c.max;
  }
  return 0;
}

// The query slices that have content (voxir/volume.h kMinContentMm2): their vectors packed
// row-major and their positions in the query. Throws when none has.
struct ContentQuery {
  std::vector<float> vectors;
  std::vector<std::int64_t> position;  // 0..n-1 in the original query
};

ContentQuery content_slices(std::span<const float> query, std::int64_t n, int dim,
                            std::int64_t first_slice, std::span<const float> content) {
  ContentQuery out;
  if (!content.empty() && content.size() != static_cast<std::size_t>(n)) {
    fail(ErrorKind::kInternal, "search: content for {} query slices, {} given", content.size(), n);
  }
  const auto d = static_cast<std::size_t>(dim);
  float largest = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float c =
        content.empty() ? static_cast<float>(kMinContentMm2) : content[static_cast<std::size_t>(i)];
    largest = std::max(largest, c);
    if (!(c >= kMinContentMm2)) continue;
    out.position.push_back(i);
    const auto row = query.subspan(static_cast<std::size_t>(i) * d, d);
    const auto bad =
        std::find_if(row.begin(), row.end(), [](float v) { return !std::isfinite(v); });
    if (bad != row.end()) {
      fail(ErrorKind::kInvalidInput, "query slice {}: its vector holds {} at dimension {}",
           first_slice + i, *bad, bad - row.begin());
    }
    out.vectors.insert(out.vectors.end(), row.begin(), row.end());
  }
  if (out.position.empty()) {
    fail(ErrorKind::kInvalidInput,
         "slices {}..{} contain no body (the largest body area is {:.0f} mm², a slice needs {:.0f} "
         "mm²): nothing to search with",
         first_slice, first_slice + n - 1, largest, kMinContentMm2);
  }
  return out;
}

}  // namespace

std::string_view to_string(VoteMode mode) {
  switch (mode) {
    case VoteMode::kCount:
      return "count";
    case VoteMode::kSum:
      return "sum";
    case VoteMode::kMax:
      return "max";
  }
  return "?";
}

VoteMode parse_vote_mode(std::string_view text) {
  if (text == "count") return VoteMode::kCount;
  if (text == "sum") return VoteMode::kSum;
  if (text == "max") return VoteMode::kMax;
  fail(ErrorKind::kUsage, "vote mode \"{}\": expected count, sum or max", text);
}

void SearchParams::set_time_limit(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) {
    fail(ErrorKind::kUsage, "time limit {} s: expected a number of seconds >= 0", seconds);
  }
  // Beyond the clock's range (centuries) a limit is no limit.
  const auto limit = std::chrono::duration<double>(seconds);
  const auto now = Clock::now();
  deadline = limit < Clock::time_point::max() - now
                 ? now + std::chrono::duration_cast<Clock::duration>(limit)
                 : Clock::time_point::max();
}

void fail_past_deadline(const SearchParams& params, std::string_view doing) {
  fail(ErrorKind::kTimeout,
       "the search passed its time limit while {} ({:.0f} ms past the deadline)", doing,
       std::chrono::duration<double, std::milli>(Clock::now() - params.deadline).count());
}

void SearchParams::validate() const {
  ann.validate();
  if (k < 1) fail(ErrorKind::kUsage, "k = {}: each query slice must fetch at least 1 neighbour", k);
  if (rerank && rerank_n < 1)
    fail(ErrorKind::kUsage, "rerank N = {}: must be at least 1 (or disable re-ranking)", rerank_n);
  if (top < 1) fail(ErrorKind::kUsage, "top = {}: must be at least 1", top);
  if (!require.empty()) (void)ClassCatalog::builtin().region(require);  // did-you-mean on a typo
  if (explain && !rerank)
    fail(ErrorKind::kUsage, "explain needs re-ranking: its similarity matrix is MaxSim's");
  if (!(central_fraction > 0 && central_fraction <= 1)) {
    fail(ErrorKind::kUsage, "central fraction {}: must be in (0, 1]", central_fraction);
  }
}


std::array<std::int64_t, 2> central_range(std::vector<std::int64_t> slices, double fraction) {
  if (slices.empty()) return {-1, -1};
  std::sort(slices.begin(), slices.end());
  // The epsilon keeps (1 - 0.8) / 2 * 10 = 0.0999... from rounding down to 0.
  const auto drop = static_cast<std::size_t>(
      std::floor((1 - fraction) / 2 * static_cast<double>(slices.size()) + 1e-9));
  return {slices[drop], slices[slices.size() - 1 - drop]};
}

SearchAnswer run_stages(const Index& index, std::span<const float> all_query,
                        std::int64_t all_n, std::int64_t first_slice, const SearchParams& params,
                        std::span<const float> query_content) {
  params.validate();
  const auto t_total = Clock::now();
  SearchAnswer answer;
  answer.query_slices = {first_slice, first_slice + all_n - 1};
  if (all_n <= 0) fail(ErrorKind::kUsage, "the query has no slices");
  const int dim = index.dim();
  // From here on the query is its slices with content; used[i] is query slice i's position.
  const ContentQuery packed = content_slices(all_query, all_n, dim, first_slice, query_content);
  const std::span<const float> query = packed.vectors;
  const auto n = static_cast<std::int64_t>(packed.position.size());
  const auto& used = packed.position;
  answer.query_slices_used = n;
  const std::unordered_set<std::string> exclude(params.exclude.begin(), params.exclude.end());

  // Stage 1: each query slice fetches its k nearest indexed slices. Excluded volumes (the query
  // itself, typically) could fill all k places, so they are over-fetched and dropped: fetching
  // k + their slice count leaves k others for every query slice (exactly so for Flat).
  auto t = Clock::now();
  const int k = params.k;
  std::int64_t excluded_slices = 0;
  for (const auto& id : exclude) {
    if (const auto* v = index.find(id)) excluded_slices += v->num_slices;
  }
  // Rows without content are dropped like excluded ones; k more leaves room for them (a query
  // slice whose neighbours are mostly empty rows then votes fewer than k times).
  const std::int64_t empty_allowance = index.num_empty_rows() > 0 ? k : 0;
  const int fetch = static_cast<int>(
      std::min<std::int64_t>(k + excluded_slices + empty_allowance, index.num_vectors()));
  std::vector<std::int64_t> ids(static_cast<std::size_t>(n * fetch));
  std::vector<float> sims(ids.size());
  // In blocks, so that a deadline is noticed while a long query searches a large index.
  for (std::int64_t b = 0; b < n; b += kDeadlineBlock) {
    check_deadline(
        params, "searching the nearest slices of query slice {} of {} (stage 1 of 4, candidates)",
        b + 1, n);
    const std::int64_t m = std::min(kDeadlineBlock, n - b);
    const auto d = static_cast<std::size_t>(dim);
    const auto f = static_cast<std::size_t>(fetch);
    const auto first = static_cast<std::size_t>(b);
    const auto count = static_cast<std::size_t>(m);
    index.search(query.subspan(first * d, count * d), m, fetch, params.ann,
                 std::span(ids).subspan(first * f, count * f),
                 std::span(sims).subspan(first * f, count * f));
  }
  answer.timings.candidates_ms = ms_since(t);

  // Stage 2: hits vote for their volumes.
  check_deadline(params, "counting votes (stage 2 of 4, aggregate)");
  t = Clock::now();
  std::unordered_map<std::size_t, Candidate> by_volume;
  for (std::int64_t i = 0; i < n; ++i) {
    int taken = 0;
    for (int r = 0; r < fetch && taken < k; ++r) {
      const std::int64_t row = ids[static_cast<std::size_t>(i * fetch + r)];
      if (row < 0 || !index.row_has_content(row)) continue;
      const std::size_t v = index.volume_of_row(row);
      const auto& info = index.volumes()[v];
      if (excluded_slices > 0 && exclude.count(info.id) != 0) continue;
      ++taken;
      auto& c = by_volume[v];
      c.volume = v;
      const float s = sims[static_cast<std::size_t>(i * fetch + r)];
      ++c.votes;
      c.sum += s;
      c.max = std::max(c.max, s);
      c.hits.push_back({i, row - info.first_row, s});
    }
  }
  std::vector<Candidate> ranked;
  ranked.reserve(by_volume.size());
  for (auto& [v, c] : by_volume) {
    c.score = vote_score(c, params.mode);
    ranked.push_back(std::move(c));
  }
  const auto better = [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.votes != b.votes) return a.votes > b.votes;
    return a.volume < b.volume;
  };
  const std::size_t want = static_cast<std::size_t>(params.rerank ? params.rerank_n : params.top);
  if (params.require.empty()) {
    const std::size_t keep = std::min(ranked.size(), want);
    std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep),
                      ranked.end(), better);
    ranked.resize(keep);
  } else {
    // Checked best first and only until enough pass: a prediction per unlabelled candidate.
    std::sort(ranked.begin(), ranked.end(), better);
    const Region region = ClassCatalog::builtin().region(params.require);
    RegionLocator locator(index, PredictOptions{});
    std::vector<Candidate> passing;
    for (auto& c : ranked) {
      if (passing.size() >= want) break;
      check_deadline(
          params,
          "checking candidate volumes for region '{}' ({} of {} passed; stage 2 of 4, aggregate)",
          region.name, passing.size(), want);
      if (locator.locate(c.volume, region)) passing.push_back(std::move(c));
    }
    ranked = std::move(passing);
  }
  answer.timings.aggregate_ms = ms_since(t);

  // Stage 3: exact late-interaction score over all slices of each candidate.
  check_deadline(params, "starting the re-rank (stage 3 of 4)");
  t = Clock::now();
  std::vector<std::vector<float>> best(ranked.size());
  std::vector<std::vector<std::int64_t>> argmax(ranked.size());
  std::vector<std::vector<float>> matrix(ranked.size());  // with params.explain: [i][j]
  if (params.rerank) {
    // One GEMM for all candidates: their rows gathered into one block, so BLAS runs one large
    // product on all cores instead of ~50 small ones (4x faster here at 100 x 4000 x 384).
    std::vector<std::int64_t> offsets{0};
    for (const auto& cand : ranked)
      offsets.push_back(offsets.back() + index.volumes()[cand.volume].num_slices);
    const std::int64_t rows = offsets.back();
    std::vector<float> gathered(static_cast<std::size_t>(rows * dim));
    for (std::size_t c = 0; c < ranked.size(); ++c) {
      const auto v = index.volume_vectors(ranked[c].volume);
      std::copy(v.begin(), v.end(), gathered.begin() + offsets[c] * dim);
    }
    std::vector<float> all_sims(static_cast<std::size_t>(rows * n));  // column i: <q_i, row j>
    if (rows > 0) {
      const int mi = static_cast<int>(rows), ni = static_cast<int>(n), d = dim;
      const float one = 1, zero = 0;
      sgemm_("T", "N", &mi, &ni, &d, &one, gathered.data(), &d, query.data(), &d, &zero,
             all_sims.data(), &mi);
    }
    if (index.num_empty_rows() > 0) {
      for (std::size_t c = 0; c < ranked.size(); ++c) {
        const auto first_row = index.volumes()[ranked[c].volume].first_row;
        for (std::int64_t j = 0; j < offsets[c + 1] - offsets[c]; ++j) {
          if (index.row_has_content(first_row + j)) continue;
          // An empty row never wins a query slice's max (every candidate has content rows: it
          // got votes through them).
          for (std::int64_t i = 0; i < n; ++i)
            all_sims[static_cast<std::size_t>(i * rows + offsets[c] + j)] =
                -std::numeric_limits<float>::infinity();
        }
      }
    }
    for (std::size_t c = 0; c < ranked.size(); ++c) {
      check_deadline(params, "re-ranking candidate volume {} of {} (stage 3 of 4)", c + 1,
                     ranked.size());
      best[c].resize(static_cast<std::size_t>(n));
      argmax[c].resize(static_cast<std::size_t>(n));
      double total = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        const float* col = all_sims.data() + i * rows + offsets[c];
        const auto m = offsets[c + 1] - offsets[c];
        const auto j = std::max_element(col, col + m) - col;
        best[c][static_cast<std::size_t>(i)] = col[j];
        argmax[c][static_cast<std::size_t>(i)] = j;
        total += col[j];
        if (params.explain) matrix[c].insert(matrix[c].end(), col, col + m);
      }
      ranked[c].score = total / static_cast<double>(n);
    }
    std::vector<std::size_t> order(ranked.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return better(ranked[a], ranked[b]); });
    order.resize(std::min(order.size(), static_cast<std::size_t>(params.top)));
    std::vector<Candidate> top;
    std::vector<std::vector<float>> top_best;
    std::vector<std::vector<std::int64_t>> top_arg;
    std::vector<std::vector<float>> top_matrix;
    for (const auto i : order) {
      top.push_back(std::move(ranked[i]));
      top_best.push_back(std::move(best[i]));
      top_arg.push_back(std::move(argmax[i]));
      top_matrix.push_back(std::move(matrix[i]));
    }
    ranked = std::move(top);
    best = std::move(top_best);
    argmax = std::move(top_arg);
    matrix = std::move(top_matrix);
  }
  answer.timings.rerank_ms = ms_since(t);

  // Stage 4: where in each result the query lies.
  check_deadline(params, "localizing the results (stage 4 of 4)");
  t = Clock::now();
  for (std::size_t r = 0; r < ranked.size(); ++r) {
    const auto& c = ranked[r];
    const auto& info = index.volumes()[c.volume];
    SearchResult result;
    result.volume = info.id;
    result.path = info.source;
    result.score = c.score;
    result.votes = c.votes;
    std::vector<std::int64_t> slices;
    if (params.rerank) {
      for (std::int64_t i = 0; i < n; ++i) {
        const auto j = argmax[r][static_cast<std::size_t>(i)];
        slices.push_back(j);
        result.alignment.push_back({first_slice + used[static_cast<std::size_t>(i)], j,
                                    best[r][static_cast<std::size_t>(i)]});
      }
    } else {
      for (const auto& h : c.hits) {
        slices.push_back(h.slice);
        result.alignment.push_back(
            {first_slice + used[static_cast<std::size_t>(h.query)], h.slice, h.similarity});
      }
    }
    result.location = central_range(std::move(slices), params.central_fraction);
    if (params.explain) {
      result.similarity = std::move(matrix[r]);
      result.similarity_columns = info.num_slices;
    }
    answer.results.push_back(std::move(result));
  }
  answer.timings.localize_ms = ms_since(t);
  answer.timings.total_ms = ms_since(t_total);
  return answer;
}

}  // namespace voxir
