#include "embed/tissue_embedder.h"

#include "embed/embed_checks.h"
#include "embed/parallel.h"
#include "slicing/preprocess.h"
#include "voxir/error.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <vector>

namespace voxir::embed {
namespace {

constexpr int kClasses = 4;  // bone, soft tissue, fat, air

// Class of a HU value inside the body, -1 for none.
int tissue_class(float v, float bone) {
  if (v > bone) return 0;
  if (v >= 0.0f && v <= 150.0f) return 1;
  if (v >= -200.0f && v <= -30.0f) return 2;
  if (v < -400.0f) return 3;
  return -1;
}

struct Work {
  slicing::Scratch scratch;
  std::vector<float> grid;
  std::vector<std::uint8_t> mask, tmp;
  std::vector<std::int32_t> label, queue;
  std::vector<double> integral;  // (w+1)*(h+1) per class
};

// Separable square erosion (min) or dilation (max) of radius r on a 0/1 image, outside = 0.
// A sliding count of ones makes each pass O(1) per pixel whatever the radius.
void morph(std::vector<std::uint8_t>& m, std::vector<std::uint8_t>& tmp, int w, int h, int r,
           bool dilate) {
  tmp.resize(m.size());
  const int full = 2 * r + 1;
  const auto pass = [&](const std::uint8_t* src, std::uint8_t* dst, int n, std::ptrdiff_t stride) {
    int count = 0;
    for (int i = 0; i < std::min(r, n); ++i) count += src[i * stride];
    for (int i = 0; i < n; ++i) {
      if (i + r < n) count += src[(i + r) * stride];
      if (i - r - 1 >= 0) count -= src[(i - r - 1) * stride];
      dst[i * stride] = dilate ? (count > 0) : (count == full);
    }
  };
  for (int y = 0; y < h; ++y)
    pass(m.data() + static_cast<std::ptrdiff_t>(y) * w,
         tmp.data() + static_cast<std::ptrdiff_t>(y) * w, w, 1);
  for (int x = 0; x < w; ++x) pass(tmp.data() + x, m.data() + x, h, w);
}

// Keeps the largest 4-connected component of m (1 = foreground) and fills its holes.
// Returns its pixel count.
std::int64_t largest_component_filled(Work& wk, int w, int h) {
  auto& m = wk.mask;
  auto& label = wk.label;
  auto& queue = wk.queue;
  const std::size_t n = m.size();
  label.assign(n, 0);
  queue.resize(n);
  std::int32_t best = 0, next = 0;
  std::int64_t best_size = 0;
  const auto flood = [&](std::size_t seed, std::int32_t id, auto&& accept) {
    std::size_t head = 0, tail = 0;
    queue[tail++] = static_cast<std::int32_t>(seed);
    label[seed] = id;
    while (head < tail) {
      const auto p = static_cast<std::size_t>(queue[head++]);
      const int x = static_cast<int>(p % static_cast<std::size_t>(w));
      const int y = static_cast<int>(p / static_cast<std::size_t>(w));
      const std::size_t nb[4] = {x > 0 ? p - 1 : n, x + 1 < w ? p + 1 : n,
                                 y > 0 ? p - static_cast<std::size_t>(w) : n,
                                 y + 1 < h ? p + static_cast<std::size_t>(w) : n};
      for (std::size_t q : nb) {
        if (q < n && label[q] == 0 && accept(q)) {
          label[q] = id;
          queue[tail++] = static_cast<std::int32_t>(q);
        }
      }
    }
    return static_cast<std::int64_t>(tail);
  };
  for (std::size_t p = 0; p < n; ++p) {
    if (m[p] && label[p] == 0) {
      const std::int64_t size = flood(p, ++next, [&](std::size_t q) { return m[q] != 0; });
      if (size > best_size) {
        best_size = size;
        best = next;
      }
    }
  }
  if (best_size == 0) return 0;
  // Background reachable from the border (through anything not in the body) stays outside.
  const std::int32_t outside = -1;
  const auto not_body = [&](std::size_t q) { return label[q] != best; };
  for (int x = 0; x < w; ++x) {
    for (int y : {0, h - 1}) {
      const auto p = static_cast<std::size_t>(y * w + x);
      if (label[p] != best && label[p] != outside) flood(p, outside, not_body);
    }
  }
  for (int y = 0; y < h; ++y) {
    for (int x : {0, w - 1}) {
      const auto p = static_cast<std::size_t>(y * w + x);
      if (label[p] != best && label[p] != outside) flood(p, outside, not_body);
    }
  }
  std::int64_t count = 0;
  for (std::size_t p = 0; p < n; ++p) {
    m[p] = label[p] != outside ? 1 : 0;
    count += m[p];
  }
  return count;
}

class TissueEmbedder final : public Embedder {
 public:
  TissueEmbedder(TissueConfig config, int threads) : config_(config), threads_(threads) {
    config_.validate();
  }

  [[nodiscard]] std::string spec() const override {
    const std::string params = config_.to_params();
    return params.empty() ? "builtin:tissue" : "builtin:tissue," + params;
  }
  [[nodiscard]] std::string fingerprint() const override {
    // Every field, defaults included, so a change of default is a change of fingerprint.
    return fmt::format(
        "builtin:tissue/v1;grid={};fov={};cell={};box={};open={};sqrt={};comp={};center={};bone={}",
        config_.grid_mm, config_.fov_mm, config_.cell_mm, config_.box_mm, config_.open_px,
        config_.sqrt, config_.composition, config_.center, config_.bone_hu);
  }
  [[nodiscard]] int dim() const override { return config_.dim(); }

  void embed(const Volume& volume, std::int64_t k0, std::int64_t k1,
             std::span<float> out) const override {
    embed_impl(volume, k0, k1, out, {});
  }

  // The content is the area of the body mask the vector describes (step 2 above).
  void embed_measured(const Volume& volume, std::int64_t k0, std::int64_t k1, std::span<float> out,
                      std::span<float> content) const override {
    if (content.size() != static_cast<std::size_t>(std::max<std::int64_t>(0, k1 - k0))) {
      fail(ErrorKind::kUsage, "embed: content holds {} floats, expected {} slices", content.size(),
           k1 - k0);
    }
    embed_impl(volume, k0, k1, out, content);
  }

 private:
  void embed_impl(const Volume& volume, std::int64_t k0, std::int64_t k1, std::span<float> out,
                  std::span<float> content) const {
    check_embed_args(volume, k0, k1, out.size(), dim());
    const auto d = static_cast<std::size_t>(dim());
    const double pixel_mm2 = config_.grid_mm * config_.grid_mm;
    parallel_chunks(k1 - k0, threads_, [&](std::int64_t b, std::int64_t e, int) {
      Work wk;
      for (std::int64_t i = b; i < e; ++i) {
        const std::int64_t body =
            embed_slice(volume, k0 + i, out.subspan(static_cast<std::size_t>(i) * d, d), wk);
        if (!content.empty()) {
          content[static_cast<std::size_t>(i)] =
              static_cast<float>(static_cast<double>(body) * pixel_mm2);
        }
      }
    });
  }

  // Embeds slice k into out; returns the body mask's pixel count (grid_mm pixels).
  std::int64_t embed_slice(const Volume& volume, std::int64_t k, std::span<float> out,
                           Work& wk) const {
    const TissueConfig& c = config_;
    const double sx = volume.spacing()[0], sy = volume.spacing()[1];
    const int w = std::max(
        1, static_cast<int>(std::lround(static_cast<double>(volume.nx()) * sx / c.grid_mm)));
    const int h = std::max(
        1, static_cast<int>(std::lround(static_cast<double>(volume.ny()) * sy / c.grid_mm)));
    const auto n = static_cast<std::size_t>(w) * static_cast<std::size_t>(h);
    wk.grid.resize(n);
    slicing::resample_plane(volume.slice(k), volume.nx(), volume.ny(), sx, sy, {0, c.grid_mm, w},
                            {0, c.grid_mm, h}, -1000.0f, wk.grid, wk.scratch);

    wk.mask.resize(n);
    for (std::size_t p = 0; p < n; ++p) wk.mask[p] = wk.grid[p] > -300.0f ? 1 : 0;
    if (c.open_px > 0) {
      morph(wk.mask, wk.tmp, w, h, c.open_px, false);
      morph(wk.mask, wk.tmp, w, h, c.open_px, true);
    }
    std::fill(out.begin(), out.end(), 0.0f);
    const std::int64_t body = largest_component_filled(wk, w, h);
    if (body == 0) {  // no body (air, or a slice outside the patient): one fixed unit vector
      const float v = 1.0f / std::sqrt(static_cast<float>(out.size()));
      std::fill(out.begin(), out.end(), v);
      return 0;
    }

    // Per-class integral images over the body, and the body's centre of mass.
    const std::size_t iw = static_cast<std::size_t>(w) + 1;
    const std::size_t plane = iw * (static_cast<std::size_t>(h) + 1);
    wk.integral.assign(plane * kClasses, 0.0);
    double cx = 0, cy = 0;
    double class_total[kClasses] = {0, 0, 0, 0};
    for (int y = 0; y < h; ++y) {
      double row[kClasses] = {0, 0, 0, 0};
      for (int x = 0; x < w; ++x) {
        const auto p = static_cast<std::size_t>(y * w + x);
        if (wk.mask[p]) {
          cx += x;
          cy += y;
          const int t = tissue_class(wk.grid[p], static_cast<float>(c.bone_hu));
          if (t >= 0) {
            row[t] += 1;
            class_total[t] += 1;
          }
        }
        for (int t = 0; t < kClasses; ++t) {
          const std::size_t base = static_cast<std::size_t>(t) * plane;
          const std::size_t at =
              base + (static_cast<std::size_t>(y) + 1) * iw + static_cast<std::size_t>(x) + 1;
          wk.integral[at] = wk.integral[at - iw] + row[t];
        }
      }
    }
    cx /= static_cast<double>(body);
    cy /= static_cast<double>(body);

    const int cells = c.cells();
    const double step = c.cell_mm / c.grid_mm;
    const double half_box = c.box_mm / c.grid_mm / 2;
    float* o = out.data();
    for (int t = 0; t < kClasses; ++t) {
      const double* I = wk.integral.data() + static_cast<std::size_t>(t) * plane;
      for (int gy = 0; gy < cells; ++gy) {
        const double py = cy + (gy - (cells - 1) / 2.0) * step;
        const long y0 = std::lround(py - half_box), y1 = std::lround(py + half_box);
        const auto ya = static_cast<std::size_t>(std::clamp<long>(y0, 0, h));
        const auto yb = static_cast<std::size_t>(std::clamp<long>(y1, 0, h));
        for (int gx = 0; gx < cells; ++gx) {
          const double px = cx + (gx - (cells - 1) / 2.0) * step;
          const long x0 = std::lround(px - half_box), x1 = std::lround(px + half_box);
          const auto xa = static_cast<std::size_t>(std::clamp<long>(x0, 0, w));
          const auto xb = static_cast<std::size_t>(std::clamp<long>(x1, 0, w));
          const double sum = I[yb * iw + xb] - I[ya * iw + xb] - I[yb * iw + xa] + I[ya * iw + xa];
          const double area = static_cast<double>((x1 - x0) * (y1 - y0));
          const double f = area > 0 ? sum / area : 0.0;
          *o++ = static_cast<float>(c.sqrt ? std::sqrt(f) : f);
        }
      }
    }
    if (c.composition > 0) {
      for (int t = 0; t < kClasses; ++t) {
        const double f = class_total[t] / static_cast<double>(body);
        // Scaled so the block's weight relative to the maps does not depend on the cell count.
        *o++ = static_cast<float>(c.composition * cells * (c.sqrt ? std::sqrt(f) : f));
      }
    }
    if (c.center) {
      double mean = 0;
      for (float v : out) mean += v;
      mean /= static_cast<double>(out.size());
      for (float& v : out) v -= static_cast<float>(mean);
    }
    double norm = 0;
    for (float v : out) norm += static_cast<double>(v) * v;
    const float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
    for (float& v : out) v *= inv;
    return body;
  }

  TissueConfig config_;
  int threads_;
};

double parse_number(std::string_view key, std::string_view text) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    fail(ErrorKind::kUsage, "builtin:tissue: {}={} is not a number", key, text);
  }
  return v;
}

}  // namespace

int TissueConfig::cells() const {
  return static_cast<int>(std::lround(fov_mm / cell_mm));
}

int TissueConfig::dim() const {
  return kClasses * cells() * cells() + (composition > 0 ? kClasses : 0);
}

void TissueConfig::validate() const {
  if (!(grid_mm >= 0.5 && grid_mm <= 20))
    fail(ErrorKind::kUsage, "builtin:tissue: grid={} mm (expected 0.5..20)", grid_mm);
  if (!(fov_mm >= 50 && fov_mm <= 1000))
    fail(ErrorKind::kUsage, "builtin:tissue: fov={} mm (expected 50..1000)", fov_mm);
  if (!(cell_mm >= grid_mm && cells() >= 2 && cells() <= 64)) {
    fail(ErrorKind::kUsage, "builtin:tissue: cell={} mm (expected >= grid and fov/cell in 2..64)",
         cell_mm);
  }
  if (!(box_mm >= grid_mm && box_mm <= fov_mm))
    fail(ErrorKind::kUsage, "builtin:tissue: box={} mm (expected grid..fov)", box_mm);
  if (open_px < 0 || open_px > 10)
    fail(ErrorKind::kUsage, "builtin:tissue: open={} (expected 0..10 pixels)", open_px);
  if (!(bone_hu >= 150 && bone_hu <= 3000))
    fail(ErrorKind::kUsage, "builtin:tissue: bone={} HU (expected 150..3000)", bone_hu);
  if (!(composition >= 0 && composition <= 100))
    fail(ErrorKind::kUsage, "builtin:tissue: comp={} (expected 0..100)", composition);
}

std::string TissueConfig::to_params() const {
  const TissueConfig d;
  std::vector<std::string> parts;
  if (grid_mm != d.grid_mm) parts.push_back(fmt::format("grid={}", grid_mm));
  if (fov_mm != d.fov_mm) parts.push_back(fmt::format("fov={}", fov_mm));
  if (cell_mm != d.cell_mm) parts.push_back(fmt::format("cell={}", cell_mm));
  if (box_mm != d.box_mm) parts.push_back(fmt::format("box={}", box_mm));
  if (open_px != d.open_px) parts.push_back(fmt::format("open={}", open_px));
  if (sqrt != d.sqrt) parts.push_back(fmt::format("sqrt={}", sqrt ? 1 : 0));
  if (composition != d.composition) parts.push_back(fmt::format("comp={}", composition));
  if (center != d.center) parts.push_back(fmt::format("center={}", center ? 1 : 0));
  if (bone_hu != d.bone_hu) parts.push_back(fmt::format("bone={}", bone_hu));
  return fmt::format("{}", fmt::join(parts, ","));
}

TissueConfig TissueConfig::from_params(std::string_view params) {
  TissueConfig c;
  while (!params.empty()) {
    const auto comma = params.find(',');
    const std::string_view item = params.substr(0, comma);
    params = comma == std::string_view::npos ? std::string_view{} : params.substr(comma + 1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos)
      fail(ErrorKind::kUsage, "builtin:tissue: '{}' is not key=value", item);
    const std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    const double v = parse_number(key, value);
    const auto flag = [&] {
      if (v != 0 && v != 1)
        fail(ErrorKind::kUsage, "builtin:tissue: {}={} (expected 0 or 1)", key, value);
      return v != 0;
    };
    if (key == "grid")
      c.grid_mm = v;
    else if (key == "fov")
      c.fov_mm = v;
    else if (key == "cell")
      c.cell_mm = v;
    else if (key == "box")
      c.box_mm = v;
    else if (key == "open") {
      if (v != std::floor(v))
        fail(ErrorKind::kUsage, "builtin:tissue: open={} (expected an integer)", value);
      c.open_px = static_cast<int>(v);
    } else if (key == "sqrt")
      c.sqrt = flag();
    else if (key == "comp")
      c.composition = v;
    else if (key == "center")
      c.center = flag();
    else if (key == "bone")
      c.bone_hu = v;
    else
      fail(ErrorKind::kUsage,
           "builtin:tissue: unknown parameter '{}' (known: grid, fov, cell, box, open, sqrt, comp, "
           "center, bone)",
           key);
  }
  c.validate();
  return c;
}

std::unique_ptr<Embedder> make_tissue_embedder(const TissueConfig& config, int threads) {
  return std::make_unique<TissueEmbedder>(config, threads);
}

}  // namespace voxir::embed
