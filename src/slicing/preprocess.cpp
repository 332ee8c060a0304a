#include "slicing/preprocess.h"

#include "voxir/error.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace voxir {

void Preprocessing::validate() const {
  if (channels < 1 || channels > 4) {
    fail(ErrorKind::kUsage, "preprocessing: channels = {} (expected 1..4)", channels);
  }
  if (input_width < 8 || input_width > 4096 || input_height < 8 || input_height > 4096) {
    fail(ErrorKind::kUsage, "preprocessing: input size {}x{} (expected 8..4096 per side)",
         input_width, input_height);
  }
  const auto check_count = [&](std::size_t n, const char* what) {
    if (n != 1 && n != static_cast<std::size_t>(channels)) {
      fail(ErrorKind::kUsage, "preprocessing: {} {} values for {} channels (expected 1 or {})", n,
           what, channels, channels);
    }
  };
  check_count(windows.size(), "window");
  check_count(mean.size(), "mean");
  check_count(std.size(), "std");
  for (const auto& w : windows) {
    if (!(w.hi > w.lo) || !std::isfinite(w.lo) || !std::isfinite(w.hi)) {
      fail(ErrorKind::kUsage, "preprocessing: window [{}, {}] (expected finite lo < hi)", w.lo,
           w.hi);
    }
  }
  for (float s : std) {
    if (!(s > 0) || !std::isfinite(s))
      fail(ErrorKind::kUsage, "preprocessing: std {} (expected > 0)", s);
  }
  for (float m : mean) {
    if (!std::isfinite(m)) fail(ErrorKind::kUsage, "preprocessing: mean {} is not finite", m);
  }
}

std::string Preprocessing::to_string() const {
  std::string win;
  for (const auto& w : windows) win += fmt::format("{}{}:{}", win.empty() ? "" : ",", w.lo, w.hi);
  return fmt::format("win={};in={}x{}x{};mean={};std={}", win, input_width, input_height, channels,
                     fmt::join(mean, ","), fmt::join(std, ","));
}

namespace slicing {
namespace {

// Taps of one axis: output o reads count[o] source pixels from first[o] with weights at
// weights[o * max_taps ...]; count 0 means "pad".
void make_taps(std::int64_t n_src, double spacing, const AxisMap& map, Scratch::Taps& s) {
  const double scale = std::abs(map.step_mm) / spacing;  // source pixels per output pixel
  const double radius = std::max(1.0, scale);
  const int max_taps = static_cast<int>(std::ceil(radius)) * 2 + 1;
  s.first.assign(static_cast<std::size_t>(map.size), 0);
  s.count.assign(static_cast<std::size_t>(map.size), 0);
  s.weights.assign(static_cast<std::size_t>(map.size) * static_cast<std::size_t>(max_taps), 0.0f);
  const double extent = static_cast<double>(n_src) * spacing;
  for (int o = 0; o < map.size; ++o) {
    const double u = map.origin_mm + (o + 0.5) * map.step_mm;
    if (u < 0 || u > extent) continue;
    const double f = u / spacing - 0.5;  // continuous source index
    std::int64_t lo = static_cast<std::int64_t>(std::ceil(f - radius));
    std::int64_t hi = static_cast<std::int64_t>(std::floor(f + radius));
    lo = std::max<std::int64_t>(lo, 0);
    hi = std::min<std::int64_t>(hi, n_src - 1);
    float* w = &s.weights[static_cast<std::size_t>(o) * static_cast<std::size_t>(max_taps)];
    double total = 0;
    int c = 0;
    for (std::int64_t i = lo; i <= hi && c < max_taps; ++i, ++c) {
      const double wt = std::max(0.0, 1.0 - std::abs(static_cast<double>(i) - f) / radius);
      w[c] = static_cast<float>(wt);
      total += wt;
    }
    if (total <= 0) {  // u lies within the edge half-pixel: nearest pixel
      lo = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::lround(f)), 0, n_src - 1);
      w[0] = 1.0f;
      c = 1;
      total = 1;
    }
    for (int t = 0; t < c; ++t) w[t] = static_cast<float>(w[t] / total);
    s.first[static_cast<std::size_t>(o)] = static_cast<int>(lo);
    s.count[static_cast<std::size_t>(o)] = c;
  }
  s.max_taps = max_taps;
}

}  // namespace

void resample_plane(std::span<const float> src, std::int64_t nx, std::int64_t ny, double sx,
                    double sy, const AxisMap& mx, const AxisMap& my, float pad,
                    std::span<float> out, Scratch& s) {
  const auto w = static_cast<std::size_t>(mx.size);
  const auto h = static_cast<std::size_t>(my.size);
  if (out.size() != w * h || src.size() != static_cast<std::size_t>(nx * ny)) {
    fail(ErrorKind::kInternal, "resample_plane: buffer sizes {} / {} do not match {}x{} / {}x{}",
         src.size(), out.size(), nx, ny, w, h);
  }
  // y pass first, over whole source rows: the long inner loop runs along x and vectorises, and
  // it does the bulk of the work when the plane shrinks (512 -> 100 pixels).
  make_taps(ny, sy, my, s.y);
  const int ty = s.y.max_taps;
  const auto sw = static_cast<std::size_t>(nx);
  s.row_pass.resize(h * sw);
  for (std::size_t o = 0; o < h; ++o) {
    float* dst = s.row_pass.data() + o * sw;
    const int c = s.y.count[o];
    if (c == 0) {
      std::fill(dst, dst + sw, pad);
      continue;
    }
    const float* wt = &s.y.weights[o * static_cast<std::size_t>(ty)];
    const float* base = src.data() + static_cast<std::size_t>(s.y.first[o]) * sw;
    for (std::size_t x = 0; x < sw; ++x) dst[x] = wt[0] * base[x];
    for (int t = 1; t < c; ++t) {
      const float* r = base + static_cast<std::size_t>(t) * sw;
      const float wv = wt[t];
      for (std::size_t x = 0; x < sw; ++x) dst[x] += wv * r[x];
    }
  }
  // x pass over the h rows of the y pass.
  make_taps(nx, sx, mx, s.x);
  const int tx = s.x.max_taps;
  for (std::size_t y = 0; y < h; ++y) {
    const float* row = s.row_pass.data() + y * sw;
    float* dst = out.data() + y * w;
    for (std::size_t o = 0; o < w; ++o) {
      const int c = s.x.count[o];
      if (c == 0) {
        dst[o] = pad;
        continue;
      }
      const float* wt = &s.x.weights[o * static_cast<std::size_t>(tx)];
      const float* p = row + s.x.first[o];
      float acc = 0;
      for (int t = 0; t < c; ++t) acc += wt[t] * p[t];
      dst[o] = acc;
    }
  }
}

void fit_slice(const Volume& volume, std::int64_t k, int width, int height, float pad,
               std::span<float> out, Scratch& scratch) {
  const double sx = volume.spacing()[0];
  const double sy = volume.spacing()[1];
  const double extent_x = static_cast<double>(volume.nx()) * sx;
  const double extent_y = static_cast<double>(volume.ny()) * sy;
  const double mm_per_px = std::max(extent_x / width, extent_y / height);
  // Radiological view: column 0 is the patient's right (largest i), row 0 anterior (largest j).
  const AxisMap mx{extent_x / 2 + width / 2.0 * mm_per_px, -mm_per_px, width};
  const AxisMap my{extent_y / 2 + height / 2.0 * mm_per_px, -mm_per_px, height};
  resample_plane(volume.slice(k), volume.nx(), volume.ny(), sx, sy, mx, my, pad, out, scratch);
}

void preprocess_slice(const Volume& volume, std::int64_t k, const Preprocessing& p,
                      std::span<float> out, Scratch& scratch) {
  const std::size_t plane =
      static_cast<std::size_t>(p.input_width) * static_cast<std::size_t>(p.input_height);
  if (out.size() != p.tensor_size()) {
    fail(ErrorKind::kInternal, "preprocess_slice: output holds {} floats, expected {}", out.size(),
         p.tensor_size());
  }
  scratch.plane.resize(plane);
  fit_slice(volume, k, p.input_width, p.input_height, -1000.0f, scratch.plane, scratch);
  for (int c = 0; c < p.channels; ++c) {
    const auto ci = static_cast<std::size_t>(c);
    const HuWindow w = p.windows[p.windows.size() == 1 ? 0 : ci];
    const float m = p.mean[p.mean.size() == 1 ? 0 : ci];
    const float inv_s = 1.0f / p.std[p.std.size() == 1 ? 0 : ci];
    float* dst = out.data() + ci * plane;
    for (std::size_t i = 0; i < plane; ++i)
      dst[i] = (apply_window(scratch.plane[i], w) - m) * inv_s;
  }
}


}  // namespace slicing
}  // namespace voxir
