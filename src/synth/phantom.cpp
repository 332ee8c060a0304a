// One subject: draw the body and the acquisition, paint the anatomy, turn tissues into HU.
#include "synth/anatomy.h"
#include "synth/phantom.h"
#include "synth/raster.h"
#include "synth/rng.h"
#include "voxir/error.h"
#include "voxir/labels.h"
#include "voxir/synth.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace voxir::synth {
namespace {

struct RegionInfo {
  Region region;
  std::string_view name;
  double weight;               // how often it is drawn
  std::array<double, 2> top;     // reference z range of the first slice (superior end)
  std::array<double, 2> bottom;  // and of the last (inferior end)
};

// Ranges chosen so that each region cuts organs at its edges in some subjects and not in others.
constexpr std::array<RegionInfo, 8> kRegions{{
    {Region::kWholeBody, "whole-body", 0.12, {5, 25}, {-1120, -1060}},
    {Region::kHeadNeck, "head-neck", 0.10, {5, 25}, {-360, -290}},
    {Region::kThorax, "thorax", 0.18, {-290, -240}, {-620, -560}},
    {Region::kAbdomen, "abdomen", 0.12, {-530, -470}, {-800, -740}},
    {Region::kPelvis, "pelvis", 0.10, {-740, -690}, {-1010, -960}},
    {Region::kThoraxAbdomen, "thorax-abdomen", 0.10, {-290, -240}, {-800, -740}},
    {Region::kThoraxAbdomenPelvis, "thorax-abdomen-pelvis", 0.14, {-290, -240}, {-1000, -930}},
    {Region::kAbdomenPelvis, "abdomen-pelvis", 0.14, {-530, -470}, {-1000, -930}},
}};

const RegionInfo& region_info(Region region) {
  for (const auto& r : kRegions)
    if (r.region == region) return r;
  fail(ErrorKind::kInternal, "synth: unknown region {}", static_cast<int>(region));
}

Region draw_region(Rng& rng) {
  double u = rng.uniform();
  for (const auto& r : kRegions) {
    if (u < r.weight) return r.region;
    u -= r.weight;
  }
  return kRegions.back().region;
}

enum class Contrast { kNone, kArterial, kPortalVenous };

// HU of each tissue for one subject: base values from the CT literature, contrast enhancement
// scaled per subject, a little jitter so no two subjects share exact values.
std::array<float, kTissueCount> tissue_hu(Contrast contrast, Rng& rng) {
  std::array<double, kTissueCount> hu{};
  hu[kAir] = -1000;
  hu[kGas] = -990;
  hu[kLung] = rng.uniform(-880, -820);
  hu[kFat] = rng.uniform(-110, -85);
  hu[kCavityFat] = hu[kFat] + 10;
  hu[kMuscle] = rng.uniform(40, 60);
  hu[kSoft] = 40;
  hu[kGrey] = 38;
  hu[kWhite] = 28;
  hu[kCsf] = 8;
  hu[kCortical] = rng.uniform(900, 1400);
  hu[kCancellous] = rng.uniform(150, 300);
  hu[kCartilage] = rng.uniform(80, 200);
  hu[kBowelContent] = rng.uniform(5, 30);
  hu[kFluid] = rng.uniform(0, 15);
  hu[kTable] = rng.uniform(-200, 100);
  // Unenhanced value and enhancement (arterial, portal-venous) of perfused tissues.
  struct Enh {
    Tissue t;
    double base, arterial, portal;
  };
  constexpr std::array<Enh, 10> kEnh{{{kLiver, 58, 15, 55},
                                      {kSpleen, 48, 70, 70},
                                      {kKidneyCortex, 35, 165, 130},
                                      {kKidneyMedulla, 33, 45, 115},
                                      {kPancreas, 42, 70, 50},
                                      {kAdrenal, 35, 30, 40},
                                      {kBowelWall, 40, 40, 30},
                                      {kArterial, 42, 280, 130},
                                      {kVenous, 42, 60, 120},
                                      {kPortal, 42, 90, 140}}};
  const double gain = rng.uniform(0.8, 1.2);
  for (const auto& e : kEnh) {
    const double add = contrast == Contrast::kArterial ? e.arterial : contrast == Contrast::kPortalVenous ? e.portal : 0;
    hu[e.t] = e.base + gain * add + rng.uniform(-4, 4);
  }
  hu[kMyocardium] = hu[kMuscle] + 0.6 * (hu[kArterial] - 42);
  std::array<float, kTissueCount> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(hu[i]);
  return out;
}

// 1-2-1 smoothing along one axis (partial-volume effect of the scanner's point spread).
void blur_axis(std::vector<float>& v, std::int64_t nx, std::int64_t ny, std::int64_t nz, int axis,
               float centre_weight) {
  const std::int64_t n = axis == 0 ? nx : axis == 1 ? ny : nz;
  if (n < 3) return;
  const std::int64_t stride = axis == 0 ? 1 : axis == 1 ? nx : nx * ny;
  const float side = (1.0f - centre_weight) * 0.5f;
  const std::int64_t lines = nx * ny * nz / n;
  std::vector<float> line(static_cast<std::size_t>(n));
  for (std::int64_t l = 0; l < lines; ++l) {
    // Start of line l: decompose l over the two other axes.
    std::int64_t start = 0;
    if (axis == 0) start = l * nx;
    if (axis == 1) start = (l / nx) * nx * ny + (l % nx);
    if (axis == 2) start = l;
    for (std::int64_t t = 0; t < n; ++t) line[static_cast<std::size_t>(t)] = v[static_cast<std::size_t>(start + t * stride)];
    for (std::int64_t t = 0; t < n; ++t) {
      const float a = line[static_cast<std::size_t>(std::max<std::int64_t>(t - 1, 0))];
      const float b = line[static_cast<std::size_t>(std::min<std::int64_t>(t + 1, n - 1))];
      v[static_cast<std::size_t>(start + t * stride)] = centre_weight * line[static_cast<std::size_t>(t)] + side * (a + b);
    }
  }
}

// Approximately normal noise from a counter-based hash: the same value for a voxel whatever order
// voxels are visited in, and much cheaper than Box-Muller.
inline float hashed_normal(std::uint64_t seed, std::uint64_t index) {
  const std::uint64_t h = mix_seed(seed, index);
  const double sum = static_cast<double>(h & 0xFFFF) + static_cast<double>((h >> 16) & 0xFFFF) +
                     static_cast<double>((h >> 32) & 0xFFFF) + static_cast<double>(h >> 48);
  return static_cast<float>((sum - 131070.0) / 37837.2);  // mean 4*65535/2, sd sqrt(4*65536^2/12)
}

}  // namespace

std::string_view to_string(Region region) { return region_info(region).name; }

std::optional<Region> parse_region(std::string_view name) {
  for (const auto& r : kRegions)
    if (r.name == name) return r.region;
  return std::nullopt;
}

std::string region_names() {
  std::vector<std::string_view> names;
  for (const auto& r : kRegions) names.push_back(r.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

void SubjectOptions::validate() const {
  if (slice_spacing_mm != 0 && !(slice_spacing_mm >= 0.5 && slice_spacing_mm <= 10)) {
    fail(ErrorKind::kUsage, "slice spacing {} mm is out of range (expected 0.5..10 mm, or 0 to draw it per subject)",
         slice_spacing_mm);
  }
  if (matrix != 0 && (matrix < 32 || matrix > 1024)) {
    fail(ErrorKind::kUsage, "matrix {} is out of range (expected 32..1024, or 0 to draw it per subject)", matrix);
  }
}

const ClassIds& v1_class_ids() {
  static const ClassIds ids(v1_class_names());
  return ids;
}

std::vector<std::string> v1_class_names() {
  std::vector<std::string> names;
  for (const ClassInfo* c : ClassCatalog::builtin().version_classes(LabelVersion::kV1)) names.push_back(c->name);
  return names;
}

Phantom generate_subject(std::uint64_t seed, const SubjectOptions& options) {
  return generate_subject(seed, options, v1_class_ids());
}

SliceLabels slice_labels(const Phantom& phantom) {
  const ClassCatalog& catalog = ClassCatalog::builtin();
  const std::int64_t nz = phantom.ct.nz();
  const auto slice = static_cast<std::size_t>(phantom.ct.slice_size());
  SliceLabels out(catalog, nz);
  std::array<std::uint32_t, 256> counts{};
  for (std::int64_t k = 0; k < nz; ++k) {
    counts.fill(0);
    const std::uint8_t* row = phantom.labels.data() + static_cast<std::size_t>(k) * slice;
    for (std::size_t i = 0; i < slice; ++i) ++counts[row[i]];
    for (std::size_t id = 1; id < counts.size(); ++id) {
      if (counts[id] == 0) continue;
      const ClassInfo* c = catalog.by_id(LabelVersion::kV1, static_cast<int>(id));
      if (c == nullptr) fail(ErrorKind::kInternal, "synth: label {} is not a v1 id", id);
      out.add(c->index, k, counts[id]);
    }
  }
  return out;
}

Phantom generate_subject(std::uint64_t seed, const SubjectOptions& options, const ClassIds& ids) {
  options.validate();
  Rng rng(mix_seed(seed, 0));
  const Body body = draw_body(rng);
  // Every draw happens whether or not an option overrides it, so that fixing the region or the
  // spacing leaves the rest of the subject as it was.
  const Region drawn_region = draw_region(rng);
  const Region region = options.region.value_or(drawn_region);
  const RegionInfo& info = region_info(region);
  const double top = rng.uniform(info.top[0], info.top[1]);
  const double bottom = rng.uniform(info.bottom[0], info.bottom[1]);
  const double drawn_dz = std::round(rng.uniform(1.5, 5.0) * 4) / 4;
  const double dz = options.slice_spacing_mm > 0 ? options.slice_spacing_mm : drawn_dz;
  const double fov_factor = rng.uniform(0.85, 1.15);
  // Modest matrices keep a 300-subject dataset to minutes (writing 104 masks dominates the time).
  static constexpr std::array<int, 3> kMatrix{128, 144, 160};
  const int drawn_n = kMatrix[static_cast<std::size_t>(rng.uniform_int(0, 2))];
  const int n = options.matrix > 0 ? options.matrix : drawn_n;
  const double contrast_u = rng.uniform();
  const Contrast contrast = contrast_u < 0.3 ? Contrast::kNone : contrast_u < 0.5 ? Contrast::kArterial : Contrast::kPortalVenous;
  const double noise = rng.uniform(5, 25);
  const bool table = rng.chance(0.75);
  const Vec3 offset{rng.uniform(-15, 15), rng.uniform(-15, 15), rng.uniform(-40, 40)};
  const std::array<float, kTissueCount> hu_of = tissue_hu(contrast, rng);
  const std::uint64_t noise_seed = mix_seed(seed, 1);

  // In-plane field of view from the body's extent over the scanned range.
  double half_width = 0;
  double y_lo = 1e9;
  double y_hi = -1e9;
  for (double z = top; z >= bottom; z -= 5) {
    half_width = std::max(half_width, body_half_width(body, z));
    const auto d = body_depth(body, z);
    y_lo = std::min(y_lo, d[0]);
    y_hi = std::max(y_hi, d[1]);
  }
  const Vec3& s = body.scale;
  const double width_mm = 2 * half_width * s[0];
  const double depth_mm = (y_hi - y_lo) * s[1];
  double fov = region == Region::kWholeBody ? std::max(width_mm, depth_mm) + 20
                                            : std::clamp(std::max(width_mm, depth_mm) * fov_factor + 10, 250.0, 650.0);
  fov = std::round(fov);
  const double dxy = fov / n;
  const double y_centre = 0.5 * (y_lo + y_hi) * s[1] + offset[1];
  const Vec3 world_origin{offset[0] - fov / 2 + dxy / 2, y_centre - fov / 2 + dxy / 2, bottom * s[2] + offset[2]};
  const auto nz = static_cast<std::int64_t>(std::floor((top - bottom) * s[2] / dz)) + 1;

  Grid grid(n, n, nz, {dxy / s[0], dxy / s[1], dz / s[2]},
            {(world_origin[0] - offset[0]) / s[0], (world_origin[1] - offset[1]) / s[1],
             (world_origin[2] - offset[2]) / s[2]});
  paint_anatomy(grid, body, ids);
  if (table) {
    Brush b;
    b.tissue = kTable;
    b.tissues = tissue_bit(kAir);
    const double y_top = y_lo - 3;
    grid.paint(Box{{-240, y_top - 14, -2000}, {240, y_top, 500}}, b);
    grid.paint(Box{{-200, y_top - 30, -2000}, {200, y_top - 24, 500}}, b);
  }

  // Tissues to HU, partial-volume blur (in-plane and along z), noise, integer HU.
  const std::vector<std::uint8_t>& tissues = grid.tissues();
  std::vector<float> hu(tissues.size());
  for (std::size_t i = 0; i < hu.size(); ++i) hu[i] = hu_of[tissues[i]];
  blur_axis(hu, n, n, nz, 0, 0.5f);
  blur_axis(hu, n, n, nz, 1, 0.5f);
  blur_axis(hu, n, n, nz, 2, 0.75f);
  const auto sigma = static_cast<float>(noise);
  for (std::size_t i = 0; i < hu.size(); ++i) {
    const float v = hu[i] + sigma * hashed_normal(noise_seed, i);
    // Round half away from zero by truncation: inline, unlike nearbyint without SSE4.1.
    const auto rounded = static_cast<float>(static_cast<int>(v + (v >= 0 ? 0.5f : -0.5f)));
    hu[i] = std::clamp(rounded, -1024.0f, 3071.0f);
  }

  const Affine affine{{{dxy, 0, 0, world_origin[0]}, {0, dxy, 0, world_origin[1]}, {0, 0, dz, world_origin[2]}, {0, 0, 0, 1}}};
  Phantom out;
  out.ct = Volume({n, n, nz}, {dxy, dxy, dz}, affine, std::move(hu), "RAS");
  out.labels = grid.take_labels();
  out.info.seed = seed;
  out.info.region = region;
  out.info.sex = std::string(1, body.female ? 'f' : 'm');
  out.info.age = body.age;
  const std::string_view contrast_name = contrast == Contrast::kNone       ? "none"
                                         : contrast == Contrast::kArterial ? "arterial"
                                                                           : "portal-venous";
  out.info.contrast = std::string(contrast_name);
  out.info.noise_hu = noise;
  out.info.fov_mm = fov;
  out.info.arms_up = body.arms_up;
  return out;
}

}  // namespace voxir::synth
