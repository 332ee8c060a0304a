// search(index, Query): the one entry point of every front end. Decides what a query means
// (source, slices, region, self-exclusion, embedder) and hands vectors to the staged searcher.
#include "search/region_extent.h"
#include "search/stages.h"
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/labels.h"
#include "voxir/search.h"
#include "voxir/volume.h"

#include <algorithm>
#include <chrono>
#include <memory>

namespace voxir {
namespace {

using Clock = std::chrono::steady_clock;
using Range = std::array<std::int64_t, 2>;

int count_sources(const Query& q) {
  return int{!q.path.empty()} + int{q.volume != nullptr} + int{!q.indexed_id.empty()} +
         int{!q.vectors.empty()};
}

void check_query(const Query& q) {
  const int sources = count_sources(q);
  if (sources != 1) {
    fail(ErrorKind::kUsage,
         "a query needs exactly one source (a volume path, a volume, an indexed volume id or "
         "vectors); got {}",
         sources);
  }
  if (!q.region.empty() && q.slices)
    fail(ErrorKind::kUsage, "a query takes a region or a slice range, not both");
  if (!q.labels.empty() && !q.vectors.empty())
    fail(ErrorKind::kUsage, "labels need a volume to be read against, not bare vectors");
  if (q.region.empty() && !q.labels.empty())
    fail(ErrorKind::kUsage, "labels were given without a region to take from them");
  q.params.validate();
  q.predict.validate();
  // An unknown name fails before anything is read or embedded.
  if (!q.region.empty()) (void)ClassCatalog::builtin().region(q.region);
}

void check_range(const Range& r, std::int64_t num_slices, std::string_view what) {
  if (r[0] < 0 || r[1] >= num_slices || r[0] > r[1]) {
    fail(ErrorKind::kUsage, "query slices {}..{} are outside {}'s 0..{}", r[0], r[1], what,
         num_slices - 1);
  }
}

// The extent of `region` over an indexed volume's class-presence bitsets.
std::optional<Range> stored_extent_of(const VolumeVectors& v, const Region& region) {
  if (v.presence_bytes == 0) {
    fail(ErrorKind::kNotFound, "indexed volume {} has no labels to find region '{}' in",
         v.volume.id, region.name);
  }
  return stored_extent(v, region);
}

std::vector<std::string> same_source(const Index& index, const std::filesystem::path& path) {
  std::error_code ec;
  const auto canonical = std::filesystem::weakly_canonical(path, ec);
  std::vector<std::string> ids;
  for (const auto& v : index.volumes()) {
    if (std::filesystem::weakly_canonical(v.source, ec) == canonical) ids.push_back(v.id);
  }
  return ids;
}

// Query vectors ready for the staged searcher.
struct Resolved {
  std::vector<float> owned;  // embedded here (path and volume sources)
  std::span<const float> vectors;
  std::vector<float> content;  // body area of each query slice in mm²; empty: unknown
  Range slices{};
  double read_ms = 0;
  double embed_ms = 0;
  bool predicted = false;  // slices are a predicted region extent
  double confidence = 1;
};

// The predicted extent of the query's region, from vectors of slices first .. first + n - 1, or
// from the prediction stored at ingest for an indexed query volume (`indexed`, its position).
Range predicted_extent(const Index& index, const Query& q, std::span<const float> vectors,
                       std::span<const float> content, std::int64_t first, std::string_view what,
                       Resolved& out, std::optional<std::size_t> indexed = std::nullopt) {
  const Region region = ClassCatalog::builtin().region(q.region);
  PredictOptions options = q.predict;
  std::optional<PredictedExtent> extent;
  std::size_t labelled = 0;
  std::optional<PredictedAnatomy> stored;
  if (indexed) stored = usable_prediction(index, *indexed, q.predict);
  if (stored) {
    labelled = static_cast<std::size_t>(stored->labelled_volumes);
    if (const auto e = stored_extent(*stored, region))
      extent = PredictedExtent{region, e->slices, e->confidence};
  } else {
    if (!q.indexed_id.empty()) options.exclude.push_back(q.indexed_id);
    const AnatomyPredictor predictor(index);
    labelled = predictor.labelled_volumes();
    extent = predictor.predict(vectors, first, content, options).extent(region);
  }
  if (!extent) {
    fail(ErrorKind::kNotFound,
         "{}: {} '{}' is predicted on no slice of the query (no slice reaches probability {} from "
         "its {} nearest labelled slices among {} labelled volumes); give the query's labels or "
         "--slices",
         what, region.coarse ? "region" : "class", region.name, options.threshold, options.k,
         labelled);
  }
  out.predicted = true;
  out.confidence = extent->confidence;
  return extent->slices;
}

// The slices a query asks for, out of `num_slices` (all when neither range nor region is set).
Range choose_slices(const Query& q, std::int64_t num_slices, const Volume* volume,
                    const VolumeVectors* stored, std::string_view what) {
  Range r{0, num_slices - 1};
  if (q.slices) {
    r = *q.slices;
    if (r[1] == Query::kLastSlice) r[1] = num_slices - 1;
  } else if (!q.region.empty()) {
    const Region region = ClassCatalog::builtin().region(q.region);
    std::optional<Range> extent;
    std::string from;
    if (stored != nullptr) {
      extent = stored_extent_of(*stored, region);
      from = fmt::format("indexed volume {}", stored->volume.id);
    } else {
      const SliceLabels labels = read_labels(q.labels, *volume, q.label_options);
      extent = labels.extent(region, q.min_voxels);
      from = q.labels.string();
    }
    if (!extent) {
      fail(ErrorKind::kNotFound, "{}: {} '{}' is on no slice of the query", from,
           region.coarse ? "region" : "class", region.name);
    }
    r = *extent;
  }
  check_range(r, num_slices, what);
  return r;
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

void resolve_indexed(const Index& index, const Query& query, Resolved& out, SearchParams& params) {
  const IndexedVolume* v = index.find(query.indexed_id);
  if (v == nullptr) {
    fail(ErrorKind::kNotFound, "{}: no indexed volume '{}'", index.dir().string(),
         query.indexed_id);
  }
  const auto position = static_cast<std::size_t>(v - index.volumes().data());
  // The catalog's class presence is read only when a region needs it.
  const VolumeVectors stored = query.region.empty() ? VolumeVectors{} : index.labels(position);
  const std::string what = fmt::format("indexed volume {}", v->id);
  if (!query.region.empty() && stored.presence_bytes == 0) {
    out.slices = predicted_extent(index, query, index.volume_vectors(position),
                                  index.content(position), 0, what, out, position);
  } else {
    out.slices = choose_slices(query, v->num_slices, nullptr, &stored, what);
  }
  if (const auto content = index.content(position); !content.empty()) {
    out.content.assign(content.begin() + out.slices[0], content.begin() + out.slices[1] + 1);
  }
  const auto dim = static_cast<std::size_t>(index.dim());
  out.vectors = index.volume_vectors(position).subspan(
      static_cast<std::size_t>(out.slices[0]) * dim,
      static_cast<std::size_t>(out.slices[1] - out.slices[0] + 1) * dim);
  if (query.exclude_self) params.exclude.push_back(v->id);
}

void resolve_vectors(const Index& index, const Query& query, Resolved& out) {
  const auto dim = static_cast<std::size_t>(index.dim());
  if (query.vectors.size() % dim != 0) {
    fail(ErrorKind::kUsage, "query vectors hold {} floats, not a multiple of the index's {} dimensions",
         query.vectors.size(), dim);
  }
  const auto n = static_cast<std::int64_t>(query.vectors.size() / dim);
  const std::int64_t last = query.first_slice + n - 1;
  if (!query.content.empty() && query.content.size() != static_cast<std::size_t>(n)) {
    fail(ErrorKind::kUsage, "query content holds {} values for {} vectors", query.content.size(), n);
  }
  Range given = query.slices.value_or(Range{query.first_slice, last});
  if (!query.region.empty()) {
    given = predicted_extent(index, query, query.vectors, query.content, query.first_slice,
                             "the query vectors", out);
  }
  if (given[1] == Query::kLastSlice) given[1] = last;
  check_range({given[0] - query.first_slice, given[1] - query.first_slice}, n, "the query vectors");
  out.slices = given;
  const auto offset = static_cast<std::size_t>(given[0] - query.first_slice);
  const auto count = static_cast<std::size_t>(given[1] - given[0] + 1);
  out.vectors = query.vectors.subspan(offset * dim, count * dim);
  if (!query.content.empty()) {
    out.content.assign(query.content.begin() + static_cast<std::ptrdiff_t>(offset),
                       query.content.begin() + static_cast<std::ptrdiff_t>(offset + count));
  }
}

void resolve_volume(const Index& index, const Query& query, Resolved& out, SearchParams& params) {
  auto t = Clock::now();
  std::unique_ptr<Embedder> own;
  const Embedder* embedder = query.embedder;
  if (embedder == nullptr) {
    own = make_embedder(index.embedder().spec);
    embedder = own.get();
  }
  check_same_embedder(index.embedder(), {embedder->spec(), embedder->fingerprint(), embedder->dim()});
  std::optional<Volume> read;
  const Volume* volume = query.volume;
  if (volume == nullptr) volume = &read.emplace(read_volume(query.path, query.read));
  const bool predict = !query.region.empty() && query.labels.empty();
  if (!predict) out.slices = choose_slices(query, volume->nz(), volume, nullptr, "the query volume");
  if (query.exclude_self && !query.path.empty()) {
    const auto self = same_source(index, query.path);
    params.exclude.insert(params.exclude.end(), self.begin(), self.end());
  }
  out.read_ms = ms_since(t);
  t = Clock::now();
  // A predicted region needs every slice embedded first: the prediction chooses the slices.
  const Range embed = predict ? Range{0, volume->nz() - 1} : out.slices;
  const std::int64_t n = embed[1] - embed[0] + 1;
  const auto dim = static_cast<std::size_t>(embedder->dim());
  out.owned.resize(static_cast<std::size_t>(n) * dim);
  out.content.resize(static_cast<std::size_t>(n));
  // In blocks, so that a deadline is noticed while a long query is embedded.
  for (std::int64_t b = 0; b < n; b += kDeadlineBlock) {
    check_deadline(params, "embedding the query (slice {} of {})", b + 1, n);
    const std::int64_t m = std::min(kDeadlineBlock, n - b);
    const auto first = static_cast<std::size_t>(b);
    const auto count = static_cast<std::size_t>(m);
    embedder->embed_measured(*volume, embed[0] + b, embed[0] + b + m,
                             std::span(out.owned).subspan(first * dim, count * dim),
                             std::span(out.content).subspan(first, count));
  }
  out.vectors = out.owned;
  out.embed_ms = ms_since(t);
  if (predict) {
    check_deadline(params, "predicting the query's region");
    PredictOptions options = query.predict;
    options.exclude.insert(options.exclude.end(), params.exclude.begin(), params.exclude.end());
    Query with_exclude = query;
    with_exclude.predict = options;
    out.slices = predicted_extent(index, with_exclude, out.owned, out.content, 0, "the query volume", out);
    const auto first = static_cast<std::size_t>(out.slices[0]);
    const auto count = static_cast<std::size_t>(out.slices[1] - out.slices[0] + 1);
    out.vectors = std::span<const float>(out.owned).subspan(first * dim, count * dim);
    out.content = std::vector<float>(out.content.begin() + static_cast<std::ptrdiff_t>(first),
                                     out.content.begin() + static_cast<std::ptrdiff_t>(first + count));
  }
}

std::string source_name(const Query& q) {
  if (!q.path.empty()) return q.path.string();
  if (!q.indexed_id.empty()) return fmt::format("indexed volume {}", q.indexed_id);
  return q.volume != nullptr ? "query volume" : "query vectors";
}

// Where the query's region (or the required one) lies in each result. Best effort: a result
// whose anatomy cannot be known (an index without any labels) keeps {-1, -1}.
void locate_in_results(const Index& index, const Query& query, SearchAnswer& answer) {
  const std::string& name = !query.region.empty() ? query.region : query.params.require;
  if (name.empty()) return;
  const Region region = ClassCatalog::builtin().region(name);
  RegionLocator locator(index, query.predict);
  for (auto& r : answer.results) {
    check_deadline(query.params, "finding region '{}' in result {}", region.name, r.volume);
    const IndexedVolume* v = index.find(r.volume);
    if (v == nullptr) continue;
    try {
      const auto e = locator.locate(static_cast<std::size_t>(v - index.volumes().data()), region);
      if (!e) continue;
      r.region = e->slices;
      r.region_predicted = e->predicted;
      r.region_confidence = e->confidence;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kNotFound) throw;
    }
  }
}

}  // namespace

SearchAnswer search(const Index& index, const Query& query) {
  check_query(query);
  SearchParams params = query.params;
  check_deadline(params, "starting");
  Resolved resolved;
  if (!query.indexed_id.empty()) {
    resolve_indexed(index, query, resolved, params);
  } else if (!query.vectors.empty()) {
    resolve_vectors(index, query, resolved);
  } else {
    with_context(source_name(query), [&] { resolve_volume(index, query, resolved, params); });
  }
  check_deadline(params, "resolving the query's slices");
  const Range r = resolved.slices;
  // A query without body fails naming its source: "q.nii.gz: slices 0..9 contain no body".
  SearchAnswer answer = with_context(source_name(query), [&] {
    return run_stages(index, resolved.vectors, r[1] - r[0] + 1, r[0], params, resolved.content);
  });
  answer.timings.read_ms = resolved.read_ms;
  answer.timings.embed_ms = resolved.embed_ms;
  answer.timings.total_ms += resolved.read_ms + resolved.embed_ms;
  if (!query.region.empty()) answer.query_region = ClassCatalog::builtin().region(query.region).name;
  answer.query_region_predicted = resolved.predicted;
  answer.query_region_confidence = resolved.confidence;
  locate_in_results(index, query, answer);
  answer.excluded = params.exclude;
  return answer;
}

}  // namespace voxir
