#include "synth/raster.h"

#include "voxir/error.h"

#include <algorithm>

namespace voxir::synth {

Ellipsoid Ellipsoid::inset(double mm) const {
  Ellipsoid e = *this;
  for (double& s : e.semi) s = std::max(0.5, s - mm);
  return e;
}

Ellipsoid make_ellipsoid(const Vec3& centre, const Vec3& semi, const Vec3& u, const Vec3& v) {
  const Vec3 a = normalized(u);
  const Vec3 b = normalized(v - dot(v, a) * a);
  return {centre, semi, {a, b, cross(a, b)}};
}

Tube smooth(const Tube& nodes, int per_segment) {
  if (nodes.size() < 3 || per_segment <= 1) return nodes;
  Tube out;
  const std::size_t n = nodes.size();
  for (std::size_t s = 0; s + 1 < n; ++s) {
    const TubeNode& p0 = nodes[s == 0 ? 0 : s - 1];
    const TubeNode& p1 = nodes[s];
    const TubeNode& p2 = nodes[s + 1];
    const TubeNode& p3 = nodes[std::min(n - 1, s + 2)];
    for (int m = 0; m < per_segment; ++m) {
      const double t = static_cast<double>(m) / per_segment;
      const double t2 = t * t;
      const double t3 = t2 * t;
      // Uniform Catmull-Rom: passes through p1 at t = 0 and p2 at t = 1.
      const double w0 = -0.5 * t3 + t2 - 0.5 * t;
      const double w1 = 1.5 * t3 - 2.5 * t2 + 1.0;
      const double w2 = -1.5 * t3 + 2.0 * t2 + 0.5 * t;
      const double w3 = 0.5 * t3 - 0.5 * t2;
      out.push_back({w0 * p0.p + w1 * p1.p + w2 * p2.p + w3 * p3.p, p1.r + t * (p2.r - p1.r)});
    }
  }
  out.push_back(nodes.back());
  return out;
}

bool Profile::at(double z, ProfileKey& out) const {
  if (keys.empty() || z > keys.front().z || z < keys.back().z) return false;
  std::size_t s = 0;
  while (s + 2 < keys.size() && z < keys[s + 1].z) ++s;
  const ProfileKey& a = keys[s];
  const ProfileKey& b = keys[s + 1];
  const double t = a.z == b.z ? 0.0 : (a.z - z) / (a.z - b.z);
  out = {z, a.cx + t * (b.cx - a.cx), a.cy + t * (b.cy - a.cy), a.a + t * (b.a - a.a) - inset,
         a.b + t * (b.b - a.b) - inset};
  return out.a > 0 && out.b > 0;
}

Grid::Grid(std::int64_t nx, std::int64_t ny, std::int64_t nz, Vec3 step, Vec3 origin)
    : nx_(nx), ny_(ny), nz_(nz), step_(step), origin_(origin) {
  if (nx <= 0 || ny <= 0 || nz <= 0 || step[0] <= 0 || step[1] <= 0 || step[2] <= 0) {
    fail(ErrorKind::kInternal, "synth grid {}x{}x{} with steps {}/{}/{}", nx, ny, nz, step[0],
         step[1], step[2]);
  }
  const auto n = static_cast<std::size_t>(nx * ny * nz);
  label_.assign(n, 0);
  tissue_.assign(n, kAir);
}

std::array<std::int64_t, 2> Grid::range(int axis, double lo, double hi) const {
  const auto a = static_cast<std::size_t>(axis);
  const std::int64_t n = axis == 0 ? nx_ : axis == 1 ? ny_ : nz_;
  const double first = std::ceil((lo - origin_[a]) / step_[a]);
  const double last = std::floor((hi - origin_[a]) / step_[a]);
  return {static_cast<std::int64_t>(std::max(first, 0.0)),
          static_cast<std::int64_t>(std::min(last, static_cast<double>(n - 1)))};
}

template <typename Inside>
void Grid::paint_bounded(const Vec3& lo, const Vec3& hi, const Brush& brush, Inside&& inside) {
  const auto [i0, i1] = range(0, lo[0], hi[0]);
  const auto [j0, j1] = range(1, lo[1], hi[1]);
  const auto [k0, k1] = range(2, lo[2], hi[2]);
  for (std::int64_t k = k0; k <= k1; ++k) {
    const double z = z_of(k);
    for (std::int64_t j = j0; j <= j1; ++j) {
      const double y = origin_[1] + static_cast<double>(j) * step_[1];
      const auto row = static_cast<std::size_t>(nx_ * (j + ny_ * k));
      for (std::int64_t i = i0; i <= i1; ++i) {
        const std::size_t idx = row + static_cast<std::size_t>(i);
        if (!admits(idx, brush)) continue;
        const Vec3 p{origin_[0] + static_cast<double>(i) * step_[0], y, z};
        if (inside(p) && brush.passes(p)) set(idx, brush);
      }
    }
  }
}

void Grid::paint(const Ellipsoid& e, const Brush& brush) {
  Vec3 half{};
  for (std::size_t w = 0; w < 3; ++w) {
    double s = 0;
    for (std::size_t a = 0; a < 3; ++a) s += (e.axes[a][w] * e.semi[a]) * (e.axes[a][w] * e.semi[a]);
    half[w] = std::sqrt(s);
  }
  paint_bounded(e.centre - half, e.centre + half, brush, [&e](const Vec3& p) { return e.contains(p); });
}

void Grid::paint_capsule(const Vec3& p0, const Vec3& p1, double r0, double r1, const Brush& brush) {
  if (r0 <= 0 && r1 <= 0) return;
  const double r = std::max(r0, r1);
  const Vec3 lo{std::min(p0[0], p1[0]) - r, std::min(p0[1], p1[1]) - r, std::min(p0[2], p1[2]) - r};
  const Vec3 hi{std::max(p0[0], p1[0]) + r, std::max(p0[1], p1[1]) + r, std::max(p0[2], p1[2]) + r};
  const Vec3 d = p1 - p0;
  const double len2 = dot(d, d);
  paint_bounded(lo, hi, brush, [&](const Vec3& p) {
    const Vec3 rel = p - p0;
    const double t = len2 > 0 ? std::clamp(dot(rel, d) / len2, 0.0, 1.0) : 0.0;
    const Vec3 off = rel - t * d;
    const double rt = r0 + t * (r1 - r0);
    return rt > 0 && dot(off, off) <= rt * rt;
  });
}

void Grid::paint(const Tube& tube, const Brush& brush, double inset) {
  if (tube.size() == 1) {
    paint_capsule(tube[0].p, tube[0].p, tube[0].r - inset, tube[0].r - inset, brush);
  }
  for (std::size_t s = 0; s + 1 < tube.size(); ++s) {
    paint_capsule(tube[s].p, tube[s + 1].p, tube[s].r - inset, tube[s + 1].r - inset, brush);
  }
}

void Grid::paint(const Box& box, const Brush& brush) {
  paint_bounded(box.lo, box.hi, brush, [](const Vec3&) { return true; });
}

void Grid::paint(const Profile& profile, const Brush& brush) {
  for (std::int64_t k = 0; k < nz_; ++k) {
    ProfileKey key;
    if (!profile.at(z_of(k), key)) continue;
    const Vec3 lo{key.cx - key.a, key.cy - key.b, key.z};
    const Vec3 hi{key.cx + key.a, key.cy + key.b, key.z};
    const double ia = 1.0 / key.a;
    const double ib = 1.0 / key.b;
    const auto [i0, i1] = range(0, lo[0], hi[0]);
    const auto [j0, j1] = range(1, lo[1], hi[1]);
    for (std::int64_t j = j0; j <= j1; ++j) {
      const double y = origin_[1] + static_cast<double>(j) * step_[1];
      const double v = (y - key.cy) * ib;
      const auto row = static_cast<std::size_t>(nx_ * (j + ny_ * k));
      for (std::int64_t i = i0; i <= i1; ++i) {
        const std::size_t idx = row + static_cast<std::size_t>(i);
        if (!admits(idx, brush)) continue;
        const Vec3 p{origin_[0] + static_cast<double>(i) * step_[0], y, key.z};
        const double u = (p[0] - key.cx) * ia;
        if (u * u + v * v <= 1.0 && brush.passes(p)) set(idx, brush);
      }
    }
  }
}

}  // namespace voxir::synth
