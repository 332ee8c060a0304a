// Explanations of search results (voxir/explain.h): the re-ranker's similarity matrix as a
// heatmap with its alignment, aligned slice pairs, and the alignment as JSON, made in memory;
// writing them as files is a separate step.
#include "voxir/explain.h"

#include "search/png.h"
#include "util/file.h"
#include "util/json_text.h"
#include "voxir/error.h"
#include "voxir/index.h"
#include "voxir/volume.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace voxir {
namespace {

using Json = nlohmann::ordered_json;

std::string file_stem(std::size_t rank, const std::string& id) {
  std::string safe;
  for (const char c : id) {
    const bool ok =
        std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
    safe += ok ? c : '_';
  }
  return fmt::format("{}_{}", rank, safe);
}

// Dark blue -> teal -> yellow. Red stays below 255 or green above 0 everywhere, so the pure red
// of the alignment marks cannot occur in the scale.
std::array<std::uint8_t, 3> colour(double t) {
  t = std::clamp(t, 0.0, 1.0);
  const auto byte = [](double v) {
    return static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255));
  };
  return {byte(0.95 * t * t), byte(0.1 + 0.8 * t),
          byte(0.45 + 0.3 * std::sin(3.14159 * t) - 0.35 * t)};
}

RgbImage heatmap(const SearchResult& r, int cell) {
  const auto rows = static_cast<std::int64_t>(r.alignment.size());
  const std::int64_t cols = r.similarity_columns;
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (const float v : r.similarity) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const double span = hi > lo ? hi - lo : 1.0;
  RgbImage img{static_cast<int>(cols * cell), static_cast<int>(rows * cell), {}};
  img.rgb.assign(static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height) * 3, 0);
  const auto fill = [&](std::int64_t i, std::int64_t j, std::array<std::uint8_t, 3> c) {
    for (int dy = 0; dy < cell; ++dy)
      for (int dx = 0; dx < cell; ++dx)
        img.set(static_cast<int>(j * cell + dx), static_cast<int>(i * cell + dy), c[0], c[1], c[2]);
  };
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t j = 0; j < cols; ++j) {
      const float v = r.similarity[static_cast<std::size_t>(i * cols + j)];
      fill(i, j, std::isfinite(v) ? colour((v - lo) / span) : std::array<std::uint8_t, 3>{0, 0, 0});
    }
    fill(i, r.alignment[static_cast<std::size_t>(i)].volume_slice, {255, 0, 0});
  }
  return img;
}

// Slice k of `v` windowed to grey, anterior up, patient's left on the right, at (x0, y0).
void draw_slice(RgbImage& img, const Volume& v, std::int64_t k, int x0, int y0,
                const ExplainOptions& o) {
  const double low = o.window_center - o.window_width / 2;
  for (std::int64_t j = 0; j < v.ny(); ++j) {
    for (std::int64_t i = 0; i < v.nx(); ++i) {
      const double t = (v.at(i, j, k) - low) / o.window_width;
      const auto g = static_cast<std::uint8_t>(std::lround(std::clamp(t, 0.0, 1.0) * 255));
      img.set(x0 + static_cast<int>(v.nx() - 1 - i), y0 + static_cast<int>(v.ny() - 1 - j), g, g,
              g);
    }
  }
}

// Positions in the alignment of `pairs` evenly spaced rows (all when there are fewer).
std::vector<std::size_t> strip_rows(std::size_t rows, int pairs) {
  std::vector<std::size_t> out;
  const auto p = static_cast<std::size_t>(pairs);
  if (rows == 0) return out;
  if (rows <= p) {
    for (std::size_t i = 0; i < rows; ++i) out.push_back(i);
    return out;
  }
  for (std::size_t i = 0; i < p; ++i) out.push_back((2 * i + 1) * rows / (2 * p));
  return out;
}

RgbImage strip(const SearchResult& r, const std::vector<std::size_t>& rows, const Volume& query,
               const Volume& result, const ExplainOptions& o) {
  constexpr int kGap = 4;
  const auto width = static_cast<int>(query.nx() + kGap + result.nx());
  const auto row_h = static_cast<int>(std::max(query.ny(), result.ny()));
  RgbImage img{width, static_cast<int>(rows.size()) * (row_h + kGap), {}};
  img.rgb.assign(static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height) * 3, 0);
  for (std::size_t n = 0; n < rows.size(); ++n) {
    const auto& a = r.alignment[rows[n]];
    const int y0 = static_cast<int>(n) * (row_h + kGap);
    draw_slice(img, query, a.query_slice, 0, y0, o);
    draw_slice(img, result, a.volume_slice, static_cast<int>(query.nx()) + kGap, y0, o);
  }
  return img;
}

}  // namespace

void ExplainOptions::validate() const {
  if (cell < 0) fail(ErrorKind::kUsage, "explain cell = {}: must be >= 0 (0: automatic)", cell);
  if (pairs < 1) fail(ErrorKind::kUsage, "explain pairs = {}: must be at least 1", pairs);
  if (!(window_width > 0))
    fail(ErrorKind::kUsage, "explain window width = {}: must be > 0", window_width);
}

namespace {

// One result, in memory. `query` may be nullptr; `no_query` says why when it is.
Explanation explain_result(const SearchResult& r, std::size_t rank, const Volume* query,
                           const std::string& no_query, const ExplainOptions& options) {
  const auto rows = static_cast<std::int64_t>(r.alignment.size());
  if (r.similarity_columns <= 0 ||
      r.similarity.size() != static_cast<std::size_t>(rows * r.similarity_columns)) {
    fail(ErrorKind::kUsage,
         "result {} has no similarity matrix to explain: search with SearchParams::explain (and "
         "re-ranking)",
         r.volume);
  }
  const int cell =
      options.cell > 0
          ? options.cell
          : std::max<int>(1, static_cast<int>(512 / std::max(rows, r.similarity_columns)));
  Explanation out;
  out.rank = rank;
  out.volume = r.volume;
  out.heatmap_png = encode_png(heatmap(r, cell));

  const auto picked = strip_rows(r.alignment.size(), options.pairs);
  Json strip_json = Json::array();
  if (query == nullptr) {
    out.strip_note = no_query;
  } else {
    std::optional<Volume> result;
    try {
      result.emplace(read_volume(r.path));
    } catch (const Error& e) {
      out.strip_note = fmt::format("cannot read the result volume: {}", e.what());
    }
    if (result) {
      out.strip_png = encode_png(strip(r, picked, *query, *result, options));
      for (const auto i : picked) {
        strip_json.push_back({{"query_slice", r.alignment[i].query_slice},
                              {"result_slice", r.alignment[i].volume_slice}});
      }
    }
  }

  Json j;
  j["volume"] = r.volume;
  j["path"] = r.path;
  j["score"] = r.score;
  j["rank"] = rank;
  j["cell"] = cell;
  Json query_rows = Json::array();
  Json alignment = Json::array();
  for (std::size_t i = 0; i < r.alignment.size(); ++i) {
    const auto& a = r.alignment[i];
    query_rows.push_back(a.query_slice);
    alignment.push_back({{"row", i},
                         {"query_slice", a.query_slice},
                         {"result_slice", a.volume_slice},
                         {"similarity", a.similarity}});
  }
  j["rows"] = query_rows;
  j["columns"] = r.similarity_columns;
  j["alignment"] = alignment;
  j["strip"] = strip_json;
  if (!out.strip_note.empty()) j["strip_note"] = out.strip_note;
  out.alignment_json = json_text(j, 2) + "\n";  // the path may not be UTF-8
  return out;
}

std::vector<Explanation> explain_all(const SearchAnswer& answer, const Volume* query,
                                     const std::string& no_query, const ExplainOptions& options) {
  options.validate();
  std::vector<Explanation> out;
  for (std::size_t i = 0; i < answer.results.size(); ++i)
    out.push_back(explain_result(answer.results[i], i + 1, query, no_query, options));
  return out;
}

std::span<const std::uint8_t> bytes_of(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

}  // namespace

std::vector<Explanation> explain(const SearchAnswer& answer, const Volume* query,
                                 const ExplainOptions& options) {
  return explain_all(answer, query, "no query volume (vectors or an indexed volume were searched)",
                     options);
}

std::vector<Explanation> explain(const Index& index, const Query& query, const SearchAnswer& answer,
                                 const ExplainOptions& options) {
  options.validate();
  std::optional<Volume> read;
  const Volume* volume = query.volume;
  std::string no_query = "no query volume (query vectors were searched)";
  try {
    if (!query.path.empty()) {
      volume = &read.emplace(read_volume(query.path, query.read));
    } else if (!query.indexed_id.empty()) {
      const IndexedVolume* v = index.find(query.indexed_id);
      if (v == nullptr) fail(ErrorKind::kNotFound, "no indexed volume '{}'", query.indexed_id);
      volume = &read.emplace(read_volume(v->source));
    }
  } catch (const Error& e) {
    no_query = fmt::format("cannot read the query volume: {}", e.what());
  }
  return explain_all(answer, volume, no_query, options);
}

std::vector<ExplainFiles> write_explanations(std::span<const Explanation> explanations,
                                             const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    fail(ErrorKind::kIo, "{}: cannot create the explanations folder: {}", dir.string(),
         ec.message());
  std::vector<ExplainFiles> out;
  for (const auto& e : explanations) {
    const std::string stem = file_stem(e.rank, e.volume);
    ExplainFiles files;
    files.heatmap = dir / (stem + "_heatmap.png");
    write_file_atomic(files.heatmap, e.heatmap_png);
    if (!e.strip_png.empty()) {
      files.strip = dir / (stem + "_strip.png");
      write_file_atomic(files.strip, e.strip_png);
    }
    files.strip_note = e.strip_note;
    files.alignment = dir / (stem + "_alignment.json");
    write_file_atomic(files.alignment, bytes_of(e.alignment_json));
    out.push_back(std::move(files));
  }
  return out;
}

}  // namespace voxir
