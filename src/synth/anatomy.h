// The phantom's anatomy: a reference body in reference space (see raster.h), drawn per subject,
// and painted onto a grid with every TotalSegmentator v1 class.
#pragma once

#include "synth/raster.h"
#include "synth/rng.h"

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace voxir::synth {

// Maps v1 class names to the label values painted (their v1 ids). Built from the class catalogue;
// the anatomy names classes, it never numbers them.
class ClassIds {
 public:
  // `names[i]` is the class with v1 id i + 1.
  explicit ClassIds(const std::vector<std::string>& names);
  // Throws Error(kInternal) for a name the catalogue lacks (a typo in the anatomy).
  [[nodiscard]] int operator()(std::string_view name) const;
  [[nodiscard]] std::size_t size() const { return ids_.size(); }

 private:
  std::unordered_map<std::string, int> ids_;
};

// Reference-space z levels (mm below the vertex are negative).
inline constexpr double kVertexZ = 0;

// A subject's body, drawn before anything is painted.
struct Body {
  bool female = false;
  int age = 50;
  Vec3 scale{1, 1, 1};    // world mm per reference mm along x, y, z
  double fat = 20;        // subcutaneous fat thickness, reference mm
  bool arms_up = false;
  double dome_z = -505;   // top of the diaphragm
  std::uint64_t organ_seed = 0;  // organ size and position jitter
};

[[nodiscard]] Body draw_body(Rng& rng);

// Half-width of the body with arms at reference height z (reference mm; 0 where there is none)
// and its anterior and posterior limits {y_min, y_max}.
[[nodiscard]] double body_half_width(const Body& body, double z);
[[nodiscard]] std::array<double, 2> body_depth(const Body& body, double z);

// Paints the whole body onto `grid` (labels and tissues). Deterministic in body.organ_seed.
void paint_anatomy(Grid& grid, const Body& body, const ClassIds& ids);

}  // namespace voxir::synth
