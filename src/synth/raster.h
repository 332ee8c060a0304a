// Rasterising analytic shapes onto a voxel grid of labels and tissues.
//
// Shapes live in the phantom's reference space (mm, RAS+: x to the patient's right, y anterior,
// z superior; z = 0 at the skull vertex of a reference body). The grid maps voxel indices to that
// space per axis (ref = origin + index * step), which folds the subject's body scaling into the
// grid, so shapes never need rescaling. Each voxel holds one class label (a TotalSegmentator v1 id,
// 0 = none) and one tissue. Painting overwrites: what is painted later has priority, which is how
// overlaps get exactly one label, as in TotalSegmentator's multilabel files. A voxel belongs to a
// shape when its centre lies inside it (no anti-aliasing: labels stay exact and binary).
#pragma once

#include "voxir/volume.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace voxir::synth {

inline Vec3 operator+(const Vec3& a, const Vec3& b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }
inline Vec3 operator-(const Vec3& a, const Vec3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
inline Vec3 operator*(double s, const Vec3& a) { return {s * a[0], s * a[1], s * a[2]}; }
inline double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
inline Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
inline Vec3 normalized(const Vec3& a) { return (1.0 / std::sqrt(dot(a, a))) * a; }

// Tissues decide the HU value of a voxel; they are independent of labels (an unlabelled skull is
// bone, a labelled colon may hold gas).
enum Tissue : std::uint8_t {
  kAir,          // outside the body
  kGas,          // air inside the body: airways, bowel gas
  kLung,
  kFat,          // subcutaneous and intermuscular fat
  kCavityFat,    // fat filling the body cavities, where viscera may be placed
  kMuscle,
  kSoft,         // generic soft tissue: discs, glands, larynx
  kGrey,
  kWhite,
  kCsf,
  kCortical,
  kCancellous,
  kCartilage,
  kLiver,
  kSpleen,
  kKidneyCortex,
  kKidneyMedulla,
  kPancreas,
  kAdrenal,
  kBowelWall,
  kBowelContent,
  kFluid,        // bile, urine, vitreous
  kArterial,     // arterial blood (contrast-dependent)
  kVenous,       // systemic venous blood
  kPortal,       // portal venous blood
  kMyocardium,
  kTable,
  kTissueCount,
};

inline constexpr std::uint32_t tissue_bit(Tissue t) { return 1u << t; }
inline constexpr std::uint32_t kAnyTissue = 0xFFFFFFFFu;
inline constexpr std::uint32_t kInsideBody = ~tissue_bit(kAir);
inline constexpr int kKeep = -1;  // Brush::label / Brush::tissue: leave as it is
inline constexpr int kAnyLabel = -1;

struct Plane {
  Vec3 normal;  // points to the kept side
  double offset = 0;
  [[nodiscard]] bool keeps(const Vec3& p) const { return dot(normal, p) >= offset; }
};
// The half-space on the side of `normal` of the plane through `point`.
inline Plane half_space(const Vec3& point, const Vec3& normal) {
  const Vec3 n = normalized(normal);
  return {n, dot(n, point)};
}

struct Ellipsoid {
  Vec3 centre{};
  Vec3 semi{1, 1, 1};  // semi-axes in mm along axes[0..2]
  std::array<Vec3, 3> axes{Vec3{1, 0, 0}, Vec3{0, 1, 0}, Vec3{0, 0, 1}};  // orthonormal

  [[nodiscard]] bool contains(const Vec3& p) const {
    const Vec3 d = p - centre;
    double q = 0;
    for (int a = 0; a < 3; ++a) {
      const double t = dot(axes[static_cast<std::size_t>(a)], d) / semi[static_cast<std::size_t>(a)];
      q += t * t;
    }
    return q <= 1.0;
  }
  // The same ellipsoid with every semi-axis shrunk by `mm` (floored at 0.5 mm).
  [[nodiscard]] Ellipsoid inset(double mm) const;
};
// An ellipsoid whose first axis points along `u` and second along `v` (made orthogonal to u).
Ellipsoid make_ellipsoid(const Vec3& centre, const Vec3& semi, const Vec3& u = {1, 0, 0},
                         const Vec3& v = {0, 1, 0});

// A tube through nodes, radius interpolated linearly along each segment (a chain of capsules).
struct TubeNode {
  Vec3 p;
  double r;
};
using Tube = std::vector<TubeNode>;
// Catmull-Rom interpolation of the nodes, `per_segment` pieces between consecutive nodes, so
// curved vessels and ribs do not show corners.
Tube smooth(const Tube& nodes, int per_segment);

struct Box {
  Vec3 lo;
  Vec3 hi;
};

// Elliptic cross-sections interpolated linearly in z between keys: the trunk.
struct ProfileKey {
  double z;
  double cx, cy;  // centre
  double a, b;    // half-width (x) and half-depth (y)
};
struct Profile {
  std::vector<ProfileKey> keys;  // strictly decreasing z
  double inset = 0;              // shrinks a and b by this many mm
  // The cross-section at z; false outside the keys' z range.
  [[nodiscard]] bool at(double z, ProfileKey& out) const;
};

// How a shape is painted and where it may paint.
struct Brush {
  int label = kKeep;                  // class id, 0 (clear) or kKeep
  int tissue = kKeep;                 // Tissue or kKeep
  int only_label = kAnyLabel;         // paint only voxels that hold this label
  std::uint32_t tissues = kInsideBody;  // paint only voxels whose tissue bit is set here
  std::vector<Plane> keep;            // and only on the kept side of each plane
  std::vector<Ellipsoid> within;      // and only inside each of these
  std::vector<Ellipsoid> without;     // and outside each of these

  [[nodiscard]] bool passes(const Vec3& p) const {
    for (const auto& plane : keep)
      if (!plane.keeps(p)) return false;
    for (const auto& e : within)
      if (!e.contains(p)) return false;
    for (const auto& e : without)
      if (e.contains(p)) return false;
    return true;
  }
};

class Grid {
 public:
  Grid(std::int64_t nx, std::int64_t ny, std::int64_t nz, Vec3 step, Vec3 origin);

  [[nodiscard]] std::int64_t nx() const { return nx_; }
  [[nodiscard]] std::int64_t ny() const { return ny_; }
  [[nodiscard]] std::int64_t nz() const { return nz_; }
  [[nodiscard]] const Vec3& step() const { return step_; }
  [[nodiscard]] const Vec3& origin() const { return origin_; }
  // Reference-space z of slice k.
  [[nodiscard]] double z_of(std::int64_t k) const { return origin_[2] + static_cast<double>(k) * step_[2]; }
  [[nodiscard]] const std::vector<std::uint8_t>& labels() const { return label_; }
  [[nodiscard]] const std::vector<std::uint8_t>& tissues() const { return tissue_; }
  [[nodiscard]] std::vector<std::uint8_t> take_labels() { return std::move(label_); }

  void paint(const Ellipsoid& e, const Brush& brush);
  void paint_capsule(const Vec3& p0, const Vec3& p1, double r0, double r1, const Brush& brush);
  void paint(const Tube& tube, const Brush& brush, double inset = 0);
  void paint(const Box& box, const Brush& brush);
  void paint(const Profile& profile, const Brush& brush);

 private:
  // Index range [first, last] of voxel centres within [lo, hi] along `axis`; first > last if none.
  [[nodiscard]] std::array<std::int64_t, 2> range(int axis, double lo, double hi) const;
  // Whether the brush may paint voxel idx given what it holds now, and painting it.
  [[nodiscard]] bool admits(std::size_t idx, const Brush& brush) const {
    return (brush.tissues & (1u << tissue_[idx])) != 0 &&
           (brush.only_label == kAnyLabel || label_[idx] == brush.only_label);
  }
  void set(std::size_t idx, const Brush& brush) {
    if (brush.label != kKeep) label_[idx] = static_cast<std::uint8_t>(brush.label);
    if (brush.tissue != kKeep) tissue_[idx] = static_cast<std::uint8_t>(brush.tissue);
  }
  template <typename Inside>
  void paint_bounded(const Vec3& lo, const Vec3& hi, const Brush& brush, Inside&& inside);

  std::int64_t nx_, ny_, nz_;
  Vec3 step_, origin_;
  std::vector<std::uint8_t> label_;
  std::vector<std::uint8_t> tissue_;
};

}  // namespace voxir::synth
