#include "synth/anatomy.h"

#include "voxir/error.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <string>

// Reference figures are for a body about 1.75 m tall (mm, reference space: x right, y anterior,
// z superior, vertex at z = 0). They come from textbook vertebral levels (carina at T4-T5, renal
// hila at L1-L2, aortic bifurcation at L4, iliac crests at L4, femoral heads below the sacrum),
// not from any particular scan.

namespace voxir::synth {

ClassIds::ClassIds(const std::vector<std::string>& names) {
  for (std::size_t i = 0; i < names.size(); ++i) ids_.emplace(names[i], static_cast<int>(i + 1));
}

int ClassIds::operator()(std::string_view name) const {
  const auto it = ids_.find(std::string(name));
  if (it == ids_.end()) fail(ErrorKind::kInternal, "synth: class '{}' is not in the v1 catalogue", name);
  return it->second;
}

namespace {

constexpr double kPi = std::numbers::pi;

// fmt rather than operator+: g++ 12 at -O3 warns falsely (-Wrestrict) on string concatenation.
std::string cat(std::string_view a, std::string_view b) { return fmt::format("{}{}", a, b); }
std::string cat(std::string_view a, int n) { return fmt::format("{}{}", a, n); }

double lerp(double a, double b, double t) { return a + t * (b - a); }

// Linear interpolation in a table of (z, value) with z decreasing; clamped at both ends.
template <std::size_t N>
double interp_z(const std::array<std::array<double, 2>, N>& table, double z) {
  if (z >= table.front()[0]) return table.front()[1];
  for (std::size_t s = 0; s + 1 < N; ++s) {
    if (z >= table[s + 1][0]) {
      const double t = (table[s][0] - z) / (table[s][0] - table[s + 1][0]);
      return lerp(table[s][1], table[s + 1][1], t);
    }
  }
  return table.back()[1];
}

// Anterior-posterior position of the vertebral bodies' centres: cervical and lumbar lordosis,
// thoracic kyphosis, sacrum curving back.
double spine_y(double z) {
  static constexpr std::array<std::array<double, 2>, 12> kKeys{{{-150, -22},
                                                                {-275, -28},
                                                                {-330, -45},
                                                                {-440, -62},
                                                                {-540, -55},
                                                                {-620, -38},
                                                                {-720, -25},
                                                                {-757, -28},
                                                                {-790, -42},
                                                                {-840, -60},
                                                                {-890, -78},
                                                                {-930, -80}}};
  return interp_z(kKeys, z);
}

struct Vertebra {
  std::string name;  // "C1".."L5"
  double z;          // centre of the body
  double height;     // body height (pitch less the disc)
  double pitch;      // distance to the next vertebra below
  double hw, hd;     // half-width and half-depth of the body
  double y;          // body centre y
};

std::vector<Vertebra> spine_levels() {
  std::vector<Vertebra> out;
  double z = -160;
  for (int i = 0; i < 24; ++i) {
    Vertebra v;
    if (i < 7) {
      v.name = cat("C", i + 1);
      v.pitch = i == 0 ? 18 : 19;
      v.hw = 11 + 0.3 * i;
      v.hd = 8;
    } else if (i < 19) {
      const int t = i - 7;  // 0..11
      v.name = cat("T", t + 1);
      v.pitch = 21 + 0.65 * t;
      v.hw = 13 + 0.55 * t;
      v.hd = 10 + 0.45 * t;
    } else {
      const int l = i - 19;  // 0..4
      v.name = cat("L", l + 1);
      v.pitch = 34 + 0.8 * l;
      v.hw = 21 + 0.8 * l;
      v.hd = 16 + 0.3 * l;
    }
    v.z = z;
    v.height = v.pitch * 0.78;
    v.y = spine_y(z);
    out.push_back(v);
    z -= v.pitch;
  }
  return out;
}

// The trunk's muscular outline (skin = this plus the fat layer).
Profile trunk_profile(const Body& body) {
  const double pelvis = body.female ? 8 : 0;
  const double shoulders = body.female ? -8 : 0;
  Profile p;
  p.keys = {{-245, 0, -12, 62, 52},
            {-285, 0, -15, 150 + shoulders, 88},
            {-330, 0, -15, 158 + shoulders, 100},
            {-420, 0, -12, 152, 106},
            {-520, 0, -8, 148, 108},
            {-600, 0, -5, 143, 106},
            {-690, 0, -5, 146 + pelvis / 2, 102},
            {-760, 0, -8, 158 + pelvis, 100},
            {-850, 0, -12, 168 + pelvis, 108},
            {-920, 0, -15, 165 + pelvis, 105},
            {-950, 0, -15, 150 + pelvis, 90}};
  return p;
}

double trunk_half_width(const Body& body, double z) {
  ProfileKey key;
  return trunk_profile(body).at(z, key) ? key.a : 0.0;
}

// An arm's skeleton-level path: shoulder joint, elbow, wrist, hand centre; radii of soft tissue.
struct Arm {
  Vec3 shoulder, elbow, wrist, hand;
  double r_upper, r_elbow, r_wrist;
};

Arm arm_path(const Body& body, double s) {
  Arm a;
  a.shoulder = {s * 148, -20, -298};
  a.r_upper = 42;
  a.r_elbow = 36;
  a.r_wrist = 26;
  if (body.arms_up) {
    a.elbow = {s * 128, -10, -20};
    a.wrist = {s * 70, +10, +200};
    a.hand = {s * 50, +15, +270};
  } else {
    const double out = body.fat + 4;
    a.elbow = {s * (trunk_half_width(body, -590) + out + a.r_elbow), -25, -590};
    a.wrist = {s * (trunk_half_width(body, -830) + out + a.r_wrist), +5, -830};
    a.hand = {s * (trunk_half_width(body, -830) + out + 18), +15, -900};
  }
  return a;
}

const char* side_name(double s) { return s > 0 ? "right" : "left"; }

class Painter {
 public:
  Painter(Grid& grid, const Body& body, const ClassIds& ids)
      : g_(grid), body_(body), ids_(ids), rng_(body.organ_seed), levels_(spine_levels()) {}

  void run() {
    envelope();
    head();
    neck();
    muscles();
    lungs();
    abdomen();
    heart();
    mediastinum();
    vessels();
    spinal_canal();
    spine();
    ribs_and_sternum();
    shoulders_and_arms();
    pelvis_bones();
    femurs();
  }

 private:
  // --- brushes -------------------------------------------------------------------------------
  int id(const std::string& name) const { return ids_(name); }
  static Brush paint(int label, int tissue, std::uint32_t tissues = kInsideBody) {
    Brush b;
    b.label = label;
    b.tissue = tissue;
    b.tissues = tissues;
    return b;
  }
  static Brush tissue_only(int tissue, std::uint32_t tissues = kInsideBody) {
    return paint(kKeep, tissue, tissues);
  }
  // Fills with `tissue` the voxels of `label` only (contents of an organ, marrow of a bone).
  static Brush inside_label(int label, int tissue) {
    Brush b = tissue_only(tissue);
    b.only_label = label;
    return b;
  }
  static constexpr std::uint32_t viscera() {
    std::uint32_t m = 0;
    for (Tissue t : {kCavityFat, kLiver, kSpleen, kKidneyCortex, kKidneyMedulla, kPancreas, kAdrenal,
                     kBowelWall, kBowelContent, kFluid, kGas, kSoft, kVenous, kArterial, kPortal})
      m |= tissue_bit(t);
    return m;
  }

  Vec3 jitter(double mm) { return {rng_.uniform(-mm, mm), rng_.uniform(-mm, mm), rng_.uniform(-mm, mm)}; }
  double factor(double rel) { return rng_.uniform(1.0 - rel, 1.0 + rel); }

  // A bone: cortical shell of `cortex` mm, cancellous inside.
  void bone(const Ellipsoid& e, int label, double cortex, const Brush& base = {}) {
    Brush b = base;
    b.label = label;
    b.tissue = kCortical;
    b.tissues = kInsideBody;
    g_.paint(e, b);
    Brush in = b;
    in.label = kKeep;
    in.tissue = kCancellous;
    in.only_label = label;
    g_.paint(e.inset(cortex), in);
  }
  void bone(const Tube& t, int label, double cortex, int marrow = kCancellous) {
    g_.paint(t, paint(label, kCortical));
    if (label > 0) {
      g_.paint(t, inside_label(label, marrow), cortex);
    } else {
      g_.paint(t, tissue_only(marrow, tissue_bit(kCortical)), cortex);
    }
  }

  [[nodiscard]] const Vertebra& level(const std::string& name) const {
    for (const auto& v : levels_)
      if (v.name == name) return v;
    fail(ErrorKind::kInternal, "synth: no vertebra {}", name);
  }
  // Interpolated body centre y and half-depth at height z (for vessels along the spine).
  [[nodiscard]] double spine_front(double z) const {
    double hd = levels_.back().hd;
    for (std::size_t i = 0; i + 1 < levels_.size(); ++i) {
      if (z <= levels_[i].z && z >= levels_[i + 1].z) {
        hd = lerp(levels_[i].hd, levels_[i + 1].hd, (levels_[i].z - z) / (levels_[i].z - levels_[i + 1].z));
        break;
      }
    }
    if (z > levels_.front().z) hd = levels_.front().hd;
    return spine_y(z) + hd;
  }

  // --- body -----------------------------------------------------------------------------------
  void envelope() {
    const double fat = body_.fat;
    const Profile trunk = trunk_profile(body_);
    Profile skin = trunk;
    skin.inset = -fat;
    const std::uint32_t air = tissue_bit(kAir);
    const std::uint32_t fat_bit = tissue_bit(kFat);
    const Ellipsoid head = make_ellipsoid({0, -5, -100}, {78, 98, 102});
    const Ellipsoid jaw = make_ellipsoid({0, 30, -178}, {55, 55, 38});
    const Tube neck{{{0, -8, -170}, 52}, {{0, -12, -265}, 58}};
    std::vector<Tube> limbs;
    for (double s : {1.0, -1.0}) {
      limbs.push_back({{{s * 95, -2, -880}, 90}, {{s * 88, 5, -1320}, 68}});  // thigh
      const Arm a = arm_path(body_, s);
      limbs.push_back({{a.shoulder, a.r_upper}, {a.elbow, a.r_elbow}, {a.wrist, a.r_wrist}});
    }
    // Fat layer first (over air only), then muscle inside it, then the body cavities.
    g_.paint(skin, paint(0, kFat, air));
    g_.paint(neck, paint(0, kFat, air), -fat * 0.5);
    for (const Tube& t : limbs) g_.paint(t, paint(0, kFat, air), -fat * 0.6);
    g_.paint(head, paint(0, kSoft, air | fat_bit));
    g_.paint(jaw, paint(0, kSoft, air | fat_bit));
    g_.paint(make_ellipsoid({0, 98, -140}, {11, 14, 22}), paint(0, kSoft, air));  // nose
    g_.paint(trunk, paint(0, kMuscle, fat_bit));
    g_.paint(neck, paint(0, kMuscle, fat_bit));
    for (const Tube& t : limbs) g_.paint(t, paint(0, kMuscle, fat_bit));
    for (double s : {1.0, -1.0}) {
      const Arm a = arm_path(body_, s);
      g_.paint(make_ellipsoid(a.hand, {16, 38, 55}), paint(0, kMuscle, air));
    }
    Profile cavity = trunk;
    for (auto& k : cavity.keys) {
      k.cy += 6;
      k.b -= 6;
    }
    cavity.inset = 12;
    Brush c = paint(0, kCavityFat, tissue_bit(kMuscle));
    c.keep = {half_space({0, 0, -268}, {0, 0, -1}), half_space({0, 0, -935}, {0, 0, 1})};
    g_.paint(cavity, c);
  }

  void head() {
    // Skull base: a plane from the nasion down to the back of the foramen magnum.
    const Vec3 base_dir = normalized({0, -150, -60});
    const Plane base = half_space({0, 80, -110}, {0, -60, 150});
    const Ellipsoid skull = make_ellipsoid({0, -8, -92}, {72, 92, 84});
    Brush b = paint(0, kCortical);
    b.keep = {base};
    g_.paint(skull, b);
    b.tissue = kCsf;
    b.tissues = tissue_bit(kCortical);
    g_.paint(skull.inset(7), b);
    g_.paint(make_ellipsoid({0, -5, -132}, {62, 80, 6}, {1, 0, 0}, base_dir), paint(0, kCortical));

    const int brain = id("brain");
    const double size = factor(0.06);
    Brush br = paint(brain, kGrey);
    br.keep = {base};
    br.within = {skull.inset(8.5)};
    const Ellipsoid cerebrum = make_ellipsoid(Vec3{0, -10, -88} + jitter(2), {65 * size, 84 * size, 66 * size});
    g_.paint(cerebrum, br);
    g_.paint(make_ellipsoid({0, -55, -132}, {48, 30, 22}), br);
    // Brainstem down to the foramen magnum, just above C1 (the cord below is unlabelled).
    g_.paint(Tube{{{0, -25, -115}, 12}, {{0, -30, -150}, 11}}, paint(brain, kGrey));
    g_.paint(cerebrum.inset(11), inside_label(brain, kWhite));
    for (double s : {1.0, -1.0}) {
      g_.paint(make_ellipsoid({s * 9, -5, -80}, {5 + rng_.uniform(0, 3), 24, 11}), inside_label(brain, kCsf));
    }
    // Facial skeleton and cavities (unlabelled tissue), then the face label over what is left.
    for (double s : {1.0, -1.0}) {
      g_.paint(make_ellipsoid({s * 32, 66, -106}, {12, 12, 12}), tissue_only(kFluid));
      g_.paint(make_ellipsoid({s * 28, 55, -140}, {13, 14, 16}), tissue_only(kGas));
    }
    g_.paint(make_ellipsoid({0, 70, -135}, {10, 22, 22}), tissue_only(kGas));
    g_.paint(make_ellipsoid({0, 55, -165}, {35, 30, 9}), tissue_only(kCortical));
    for (double s : {1.0, -1.0}) {
      const Tube mandible = smooth({{{s * 55, -5, -140}, 7}, {{s * 52, 0, -185}, 7},
                                    {{s * 38, 45, -200}, 7}, {{0, 68, -205}, 8}}, 3);
      g_.paint(mandible, tissue_only(kCortical));
    }
    Brush face = paint(id("face"), kKeep);
    face.only_label = 0;
    face.keep = {half_space({0, 15, 0}, {0, 1, 0}), half_space({0, 0, -92}, {0, 0, -1})};  // below the brows
    g_.paint(make_ellipsoid({0, 60, -150}, {72, 48, 70}), face);
  }

  void neck() {
    g_.paint(Tube{{{0, 30, -185}, 14}, {{0, 24, -228}, 13}}, paint(0, kSoft));
    g_.paint(Tube{{{0, 30, -185}, 7}, {{0, 24, -228}, 7}}, tissue_only(kGas));
    for (double s : {1.0, -1.0}) g_.paint(make_ellipsoid({s * 18, 22, -238}, {9, 10, 20}), paint(0, kSoft));
  }

  // --- muscles --------------------------------------------------------------------------------
  void muscles() {
    const Vertebra& l1 = level("L1");
    for (double s : {1.0, -1.0}) {
      const std::string side = side_name(s);
      // Autochthonous back muscles: in the gutter beside the spinous processes, thickest in the
      // lumbar region.
      Tube back;
      for (const auto& v : levels_) {
        if (v.name < "C4" && v.name[0] == 'C') continue;
        const double lumbar = v.name[0] == 'L' ? 1.0 : v.name[0] == 'T' ? std::max(0.0, (v.z + 520) / -60.0) : 0.0;
        const double w = std::clamp(lumbar, 0.0, 1.0);
        const double canal = v.y - v.hd - 7;
        back.push_back({{s * (v.hw * 0.65 + 13 + 10 * w), canal - 15 - 6 * w, v.z}, 10 + 14 * w});
      }
      back.push_back({{s * 30, spine_y(-800) - 40, -800}, 16});
      back.push_back({{s * 22, spine_y(-850) - 30, -850}, 9});
      g_.paint(smooth(back, 2), paint(id(cat("autochthon_", side)), kMuscle));

      // Iliopsoas: psoas from L1 along the lumbar bodies over the pelvic brim to the lesser
      // trochanter, plus the iliacus in the iliac fossa.
      const int ilio = id(cat("iliopsoas_", side));
      const Tube psoas = smooth({{{s * (l1.hw + 6), l1.y - 2, l1.z}, 8},
                                 {{s * 33, level("L3").y + 2, level("L3").z}, 15},
                                 {{s * 46, level("L5").y + 10, level("L5").z}, 20},
                                 {{s * 62, 5, -820}, 22},
                                 {{s * 72, 30, -878}, 18},
                                 {{s * 72, 22, -920}, 15},
                                 {{s * 68, 0, -955}, 10}},
                                3);
      g_.paint(psoas, paint(ilio, kMuscle));
      const Vec3 wing = wing_centre(s);
      const Vec3 n = wing_normal(s);
      g_.paint(make_ellipsoid(wing - 14 * n + Vec3{0, 0, -10}, {11, 30, 42}, n, {0, 0, 1}), paint(ilio, kMuscle));

      // Gluteal muscles; later ones win where they touch.
      const Vec3 big = Vec3{s * 80, -80, -872} + jitter(5);
      g_.paint(make_ellipsoid(big, {85, 55, 34}, normalized({s * 0.35, 0, -1}), {s, 0, 0}),
               paint(id(cat("gluteus_maximus_", side)), kMuscle));
      g_.paint(make_ellipsoid(wing + 26 * n, {55, 46, 28}, normalized({s * 0.25, 0, 1}), {0, 1, 0}),
               paint(id(cat("gluteus_medius_", side)), kMuscle));
      g_.paint(make_ellipsoid(wing + 13 * n + Vec3{0, 6, -28}, {36, 34, 14}, {0, 0, 1}, {0, 1, 0}),
               paint(id(cat("gluteus_minimus_", side)), kMuscle));
    }
  }

  // Iliac wing geometry, shared by the hip bones and the muscles on them.
  static Vec3 wing_centre(double s) { return {s * 95, -22, -760}; }
  static Vec3 wing_dir(double s) { return normalized({s * 0.7, 1, 0}); }
  static Vec3 wing_normal(double s) { return normalized({s, -0.7, 0}); }  // lateral-posterior

  // --- thorax ---------------------------------------------------------------------------------
  // Ribcage outline (half-width, half-depth) for rib n = 1..12 and how far each rib drops from
  // its head to its front end.
  static constexpr std::array<double, 12> kCageA{52, 75, 92, 104, 112, 118, 122, 124, 124, 122, 118, 112};
  static constexpr std::array<double, 12> kCageB{40, 56, 68, 78, 85, 90, 93, 95, 95, 94, 92, 88};
  static constexpr std::array<double, 12> kDrop{25, 40, 55, 65, 75, 80, 85, 85, 80, 70, 40, 25};
  static constexpr double kCageY = -10;

  [[nodiscard]] Ellipsoid dome() const {
    return make_ellipsoid({10, 20, body_.dome_z - 150}, {170, 130, 150});
  }

  void lungs() {
    Profile cage;
    const Vertebra& t1 = level("T1");
    cage.keys.push_back({t1.z + 24, 0, kCageY - 5, 26, 22});
    for (int n = 0; n < 12; ++n) {
      const Vertebra& v = levels_[static_cast<std::size_t>(7 + n)];
      const auto un = static_cast<std::size_t>(n);
      cage.keys.push_back({v.z - kDrop[un] * 0.5, 0, kCageY, kCageA[un] - 9, kCageB[un] - 9});
    }
    cage.keys.push_back({-640, 0, kCageY, kCageA[11] - 12, kCageB[11] - 12});
    const double t4 = level("T4").z;
    for (double s : {1.0, -1.0}) {
      const std::string side = side_name(s);
      const int lower = id(cat("lung_lower_lobe_", side));
      Brush b = paint(lower, kLung);
      b.only_label = 0;
      b.keep = {half_space({s > 0 ? 16.0 : -20.0, 0, 0}, {s, 0, 0})};
      b.without = {dome()};
      g_.paint(cage, b);
      // Oblique fissure: from the back at T4 to the front of the diaphragm.
      const Vec3 back{0, -95, t4 + rng_.uniform(-15, 15)};
      const Vec3 front{0, 75, body_.dome_z - rng_.uniform(10, 30)};
      const Vec3 along = front - back;
      const Vec3 up = normalized({0, -along[2], along[1]});  // perpendicular, pointing up-front
      const Plane oblique = half_space(back, up[2] > 0 ? up : -1.0 * up);
      Brush upper = paint(id(s > 0 ? "lung_middle_lobe_right" : "lung_upper_lobe_left"), kKeep);
      upper.only_label = lower;
      upper.keep = {oblique};
      g_.paint(cage, upper);
      if (s > 0) {
        // Horizontal fissure at the fourth costal cartilage separates upper from middle lobe.
        Brush top = paint(id("lung_upper_lobe_right"), kKeep);
        top.only_label = id("lung_middle_lobe_right");
        top.keep = {half_space({0, 0, -432 + rng_.uniform(-12, 12)}, {0, 0.25, 1})};
        g_.paint(cage, top);
      }
      // Vessels and airways branching from the hilum give the parenchyma texture.
      const Vec3 hilum{s * 42, -12, -412};
      for (int branch = 0; branch < 7; ++branch) {
        const Vec3 target{s * rng_.uniform(45, 110), rng_.uniform(-80, 55), rng_.uniform(-560, -310)};
        const Vec3 mid = 0.5 * (hilum + target) + jitter(10);
        g_.paint(smooth({{hilum, 5}, {mid, 3.5}, {target, 1.5}}, 3), tissue_only(kVenous, tissue_bit(kLung)));
        g_.paint(Tube{{hilum + Vec3{0, 4, 4}, 3.5}, {mid + Vec3{0, 4, 3}, 2.5}}, tissue_only(kGas, tissue_bit(kLung)));
        for (int twig = 0; twig < 2; ++twig) {
          g_.paint(Tube{{mid, 2.5}, {mid + jitter(35), 1.2}}, tissue_only(kVenous, tissue_bit(kLung)));
        }
      }
    }
  }

  void heart() {
    const Vec3 c = Vec3{-22, 30, -470} + jitter(8);
    const Vec3 u = normalized({-0.55, 0.5, -0.65});
    const double f = factor(0.1);
    const Ellipsoid outer = make_ellipsoid(c, {62 * f, 48 * f, 50 * f}, u, {0, 0, 1});
    const int myo = id("heart_myocardium");
    Brush b = paint(myo, kMyocardium);
    b.without = {dome()};
    g_.paint(outer, b);
    auto chamber = [&](const char* name, Vec3 offset, Vec3 semi, bool long_axis, Tissue blood) {
      Brush cb = paint(id(name), blood);
      cb.only_label = myo;
      const Ellipsoid e = long_axis ? make_ellipsoid(c + f * offset, f * semi, u, {0, 0, 1})
                                    : make_ellipsoid(c + f * offset, f * semi);
      g_.paint(e, cb);
    };
    chamber("heart_ventricle_left", {-14, 2, -12}, {28, 21, 24}, true, kArterial);
    chamber("heart_ventricle_right", {8, 24, -8}, {30, 12, 24}, true, kVenous);
    chamber("heart_atrium_left", {-2, -26, 22}, {26, 15, 15}, false, kArterial);
    chamber("heart_atrium_right", {34, -2, 12}, {19, 22, 26}, false, kVenous);
  }

  void mediastinum() {
    Tube eso;
    for (double z = -215; z >= -480; z -= 25) {
      const double x = z > -400 ? lerp(0, -8, (-215 - z) / 185) : lerp(-8, -22, (-400 - z) / 80);
      eso.push_back({{x, spine_front(z) + 10, z}, 8});
    }
    eso.push_back({{-38, 5, body_.dome_z - 22}, 9});
    const int esophagus = id("esophagus");
    g_.paint(smooth(eso, 2), paint(esophagus, kMuscle));
    g_.paint(smooth(eso, 2), inside_label(esophagus, kGas), 6);
    Tube tr;
    for (double z = -222; z >= -392; z -= 34) tr.push_back({{0, spine_front(z) + 28, z}, 9.5});
    const int trachea = id("trachea");
    g_.paint(tr, paint(trachea, kSoft));
    g_.paint(tr, inside_label(trachea, kGas), 2);
    const Vec3 carina = tr.back().p;
    for (double s : {1.0, -1.0}) {
      g_.paint(Tube{{carina, 7}, {{s * 38, carina[1] - 12, carina[2] - 22}, 6}}, paint(0, kSoft));
      g_.paint(Tube{{carina, 5}, {{s * 40, carina[1] - 12, carina[2] - 22}, 4.5}}, tissue_only(kGas));
    }
  }

  // --- abdomen and pelvis viscera ----------------------------------------------------------
  void abdomen() {
    const Ellipsoid d = dome();
    auto organ = [&](const std::string& name, Tissue t, bool below_dome) {
      Brush b = paint(id(name), t, viscera());
      if (below_dome) b.within = {d};
      return b;
    };
    // Liver: right lobe, left lobe reaching across the midline, inferior tip of the right lobe.
    {
      const Vec3 o = jitter(10);
      const double f = factor(0.1);
      const Brush b = organ("liver", kLiver, true);
      g_.paint(make_ellipsoid(Vec3{58, 5, -590} + o, {92 * f, 88 * f, 88 * f}), b);
      g_.paint(make_ellipsoid(Vec3{-15, 42, -560} + o, {60 * f, 38 * f, 35 * f}, normalized({1, 0, 0.2})), b);
      g_.paint(make_ellipsoid(Vec3{80, -10, -650} + o, {42 * f, 55 * f, 48 * f}), b);
      const int liver = id("liver");
      const Vec3 hilum = Vec3{42, 12, -585} + o;
      Brush pv = paint(id("portal_vein_and_splenic_vein"), kPortal);
      pv.only_label = liver;
      for (int k = 0; k < 3; ++k) {
        const Vec3 t = Vec3{rng_.uniform(30, 110), rng_.uniform(-40, 45), rng_.uniform(-620, -540)} + o;
        g_.paint(Tube{{hilum, 5}, {t, 2.5}}, pv);
      }
      g_.paint(make_ellipsoid(Vec3{52, 52, -640} + o + jitter(5),
                              {34 * factor(0.2), 14 * factor(0.2), 14 * factor(0.2)}, normalized({0, 0.5, -1})),
               organ("gallbladder", kFluid, false));
    }
    g_.paint(make_ellipsoid(Vec3{-92, -38, -585} + jitter(8), Vec3{26, 50, 55}, normalized({1, 0.6, 0})),
             organ("spleen", kSpleen, true));
    for (double s : {1.0, -1.0}) {
      const std::string side = side_name(s);
      const int kidney = id(cat("kidney_", side));
      const Vec3 c = Vec3{s * 68, -42, s > 0 ? -640.0 : -625.0} + jitter(8);
      const double f = factor(0.1);
      const Ellipsoid k = make_ellipsoid(c, {52 * f, 27 * f, 24 * f}, normalized({-s * 0.25, -0.2, 1}), {s, 0, 0});
      g_.paint(k, organ(cat("kidney_", side), kKidneyCortex, false));
      g_.paint(k.inset(7), inside_label(kidney, kKidneyMedulla));
      g_.paint(make_ellipsoid(c + Vec3{-s * 12, 2, 0}, {10, 8, 15}), inside_label(kidney, kFluid));
      const Vec3 adrenal = Vec3{s * (s > 0 ? 38.0 : 40.0), s > 0 ? -28.0 : -22.0, c[2] + 55} + jitter(4);
      g_.paint(make_ellipsoid(adrenal, {18, 12, 4}, {0, 1, 0.2}, {0, 0, 1}), organ(cat("adrenal_gland_", side), kAdrenal, false));
    }
    {
      const Vec3 o = jitter(6);
      g_.paint(smooth({{Vec3{32, 15, -655} + o, 16}, {Vec3{5, 20, -638} + o, 11}, {Vec3{-35, 5, -625} + o, 11},
                       {Vec3{-75, -20, -608} + o, 9}},
                      3),
               organ("pancreas", kPancreas, false));
    }
    {
      const double fill = rng_.uniform(0.75, 1.15);
      const Tube stomach = smooth({{{-62, -10, -540}, 34 * fill},
                                   {{-70, 20, -580}, 36 * fill},
                                   {{-55, 48, -630}, 30 * fill},
                                   {{-15, 58, -652}, 22 * fill},
                                   {{18, 48, -640}, 12}},
                                  3);
      const int st = id("stomach");
      g_.paint(stomach, organ("stomach", kBowelWall, true));
      g_.paint(stomach, inside_label(st, kBowelContent), 4);
      Brush gas = inside_label(st, kGas);
      gas.keep = {half_space({0, rng_.uniform(10, 60), 0}, {0, 1, 0})};
      g_.paint(stomach, gas, 4);
    }
    {
      const Tube duo = smooth({{{18, 48, -640}, 11},
                               {{48, 35, -645}, 12},
                               {{58, 12, -668}, 12},
                               {{55, 8, -700}, 12},
                               {{20, 15, -712}, 12},
                               {{-15, 18, -705}, 11},
                               {{-32, 22, -680}, 11},
                               {{-35, 28, -655}, 10}},
                              3);
      const int duodenum = id("duodenum");
      g_.paint(duo, organ("duodenum", kBowelWall, false));
      g_.paint(duo, inside_label(duodenum, kBowelContent), 3.5);
    }
    {
      const double fill = rng_.uniform(0.6, 1.25);
      const Vec3 c = Vec3{0, 15, -895 + (fill - 1) * 30} + jitter(5);
      g_.paint(make_ellipsoid(c, {44 * fill, 30 * fill, 33 * fill}), organ("urinary_bladder", kFluid, false));
    }
    colon();
    small_bowel();
  }

  void colon() {
    const double sag = rng_.uniform(0, 60);
    const Tube path = smooth({{{78, 30, -800}, 26},
                              {{90, 10, -740}, 24},
                              {{92, 0, -680}, 22},
                              {{82, 20, -650}, 22},
                              {{40, 70, -665}, 20},
                              {{0, 80, -690 - sag}, 20},
                              {{-50, 60, -660}, 20},
                              {{-88, 5, -610}, 20},
                              {{-98, -5, -660}, 19},
                              {{-100, -5, -740}, 18},
                              {{-85, 10, -800}, 18},
                              {{-50, 45, -835}, 17},
                              {{-10, 30, -855}, 17},
                              {{0, -48, -880}, 18},
                              {{0, -52, -940}, 15}},
                             3);
    const int colon = id("colon");
    Brush b = paint(colon, kBowelWall, viscera());
    b.only_label = 0;
    g_.paint(path, b);
    g_.paint(path, inside_label(colon, kBowelContent), 4);
    Brush gas = inside_label(colon, kGas);
    gas.keep = {half_space({0, rng_.uniform(0, 50), 0}, {0, 1, 0})};
    g_.paint(path, gas, 4);
  }

  // Small bowel: a random walk of loops confined to the lower abdomen.
  void small_bowel() {
    const Ellipsoid region = make_ellipsoid({-5, 35, -765}, {100, 52, 72});
    const int label = id("small_bowel");
    Tube walk;
    Vec3 p = region.centre + Vec3{-40, 0, 40};
    Vec3 dir = normalized(Vec3{1, 0, 0} + jitter(0.5));
    const double r = rng_.uniform(9, 13);
    for (int step = 0; step < 90; ++step) {
      walk.push_back({p, r});
      dir = normalized(dir + 0.9 * normalized(jitter(1)));
      Vec3 next = p + 22 * dir;
      if (!region.contains(next)) {
        dir = normalized(region.centre - p + jitter(30));
        next = p + 22 * dir;
      }
      p = next;
    }
    Brush b = paint(label, kBowelWall, tissue_bit(kCavityFat));
    b.only_label = 0;
    g_.paint(walk, b);
    g_.paint(walk, inside_label(label, kBowelContent), 3.5);
  }

  // --- vessels --------------------------------------------------------------------------------
  void vessels() {
    // Unlabelled vessels first (arch branches, neck veins, SVC, renal veins, SMV).
    for (double s : {1.0, -1.0}) {
      const Vec3 root = s > 0 ? Vec3{8, 15, -352} : Vec3{-12, 0, -352};
      g_.paint(smooth({{root, 6}, {{s * 24, 5, -240}, 4.5}, {{s * 28, 10, -170}, 4}}, 2), paint(0, kArterial));
      g_.paint(smooth({{root, 5}, {{s * 60, -5, -292}, 5}, {{s * 135, -15, -300}, 4}}, 2), paint(0, kArterial));
      g_.paint(smooth({{{s * 35, 5, -170}, 6}, {{s * 32, 8, -280}, 7}, {{8, 20, -345}, 9}}, 2), paint(0, kVenous));
    }
    g_.paint(Tube{{{18, 20, -340}, 10}, {{25, 22, -450}, 11}}, paint(0, kVenous));
    const double front_renal = spine_front(-630);
    Brush renal = paint(0, kVenous);
    renal.only_label = 0;
    g_.paint(smooth({{{-55, -30, -625}, 5}, {{-20, front_renal + 28, -628}, 5}, {{20, front_renal + 12, -632}, 5}}, 2), renal);
    g_.paint(Tube{{{55, -32, -640}, 5}, {{22, front_renal + 10, -635}, 5}}, renal);
    g_.paint(Tube{{{2, 12, -632}, 6}, {{5, 28, -700}, 5}}, renal);

    g_.paint(smooth({{{2, 50, -440}, 13}, {{-10, 35, -410}, 13}, {{-6, 10, -398}, 12}}, 2),
             paint(id("pulmonary_artery"), kVenous));
    g_.paint(smooth({{{-6, 10, -398}, 10}, {{-35, -5, -394}, 10}, {{-55, -15, -402}, 8}}, 2),
             paint(id("pulmonary_artery"), kVenous));
    g_.paint(smooth({{{-6, 10, -398}, 10}, {{20, 5, -404}, 10}, {{45, -2, -410}, 8}}, 2),
             paint(id("pulmonary_artery"), kVenous));

    const double bif = level("L4").z;
    Tube aorta{{{-5, 25, -450}, 15}, {{8, 32, -415}, 15}, {{8, 25, -370}, 14}, {{0, 8, -345}, 13},
               {{-16, -15, -352}, 12}, {{-24, -38, -375}, 12}};
    for (double z = -420; z > bif + 20; z -= 50) {
      const double t = (-420 - z) / (-420 - bif);
      aorta.push_back({{lerp(-24, -12, t), spine_front(z) + 12, z}, lerp(11, 9, t)});
    }
    const Vec3 bifurcation{-4, spine_front(bif) + 14, bif};
    aorta.push_back({bifurcation, 8});
    g_.paint(smooth(aorta, 3), paint(id("aorta"), kArterial));

    const double conf_z = level("L5").z + 5;
    const Vec3 confluence{10, spine_front(conf_z) + 8, conf_z};
    Tube ivc{{{30, 18, -478}, 12}, {{26, -2, -520}, 12}};
    for (double z = -580; z > conf_z + 20; z -= 60) ivc.push_back({{lerp(24, 18, (-580 - z) / 180), spine_front(z) + 10, z}, 11});
    ivc.push_back({confluence, 10});
    g_.paint(smooth(ivc, 2), paint(id("inferior_vena_cava"), kVenous));

    const Vec3 conf_portal{2, 12, -632};
    g_.paint(smooth({{{42, 12, -585}, 8}, {{22, 15, -610}, 8}, {conf_portal, 7}}, 2),
             paint(id("portal_vein_and_splenic_vein"), kPortal));
    g_.paint(smooth({{conf_portal, 6}, {{-30, -2, -628}, 5.5}, {{-60, -15, -615}, 5}, {{-80, -28, -600}, 4.5}}, 2),
             paint(id("portal_vein_and_splenic_vein"), kPortal));

    for (double s : {1.0, -1.0}) {
      const std::string side = side_name(s);
      const double l5 = level("L5").z;
      g_.paint(smooth({{bifurcation, 7}, {{s * 28, spine_front(l5) + 14, l5}, 7}, {{s * 55, 5, -820}, 6.5},
                       {{s * 72, 25, -870}, 6}, {{s * 78, 32, -910}, 6}},
                      3),
               paint(id(cat("iliac_artery_", side)), kArterial));
      g_.paint(smooth({{{s * 78, 32, -910}, 6}, {{s * 82, 30, -1000}, 5.5}, {{s * 88, 15, -1250}, 5}}, 2),
               paint(0, kArterial));
      g_.paint(smooth({{confluence, 9}, {{s * 35, spine_front(-790) + 2, -790}, 8}, {{s * 60, 0, -840}, 7.5},
                       {{s * 70, 18, -880}, 7}, {{s * 74, 25, -910}, 7}},
                      3),
               paint(id(cat("iliac_vena_", side)), kVenous));
      g_.paint(smooth({{{s * 74, 25, -910}, 7}, {{s * 76, 25, -1000}, 6.5}, {{s * 84, 10, -1250}, 6}}, 2),
               paint(0, kVenous));
    }
  }

  // --- skeleton -------------------------------------------------------------------------------
  void spinal_canal() {
    Tube canal;
    Tube cord;
    for (const auto& v : levels_) {
      const Vec3 p{0, v.y - v.hd - 7, v.z};
      canal.push_back({p, v.name[0] == 'L' ? 8.0 : 7.0});
      if (v.name != "L2" && v.name[0] != 'L') cord.push_back({p, 4.5});
    }
    g_.paint(canal, paint(0, kCsf));
    g_.paint(cord, paint(0, kSoft));
    for (std::size_t i = 0; i + 1 < levels_.size(); ++i) {
      const Vertebra& v = levels_[i];
      const Vertebra& w = levels_[i + 1];
      g_.paint(make_ellipsoid({0, 0.5 * (v.y + w.y), v.z - v.pitch * 0.5}, {v.hw, v.hd, v.pitch * 0.2}),
               paint(0, kSoft));
    }
  }

  void spine() {
    for (std::size_t i = 0; i < levels_.size(); ++i) {
      const Vertebra& v = levels_[i];
      const int label = id(cat("vertebrae_", v.name));
      const double canal = v.y - v.hd - 7;
      const char region = v.name[0];
      const double r = region == 'C' ? 3.0 : region == 'T' ? 3.5 : 4.5;
      if (v.name == "C1") {
        for (double s : {1.0, -1.0}) {
          bone(smooth({{{0, v.y + 4, v.z}, 4}, {{s * 12, v.y + 2, v.z}, 4}, {{s * 17, v.y - 5, v.z}, 5},
                       {{s * 14, canal - 5, v.z}, 4}, {{0, canal - 9, v.z}, 4}}, 2),
               label, 1.2);
          bone(make_ellipsoid({s * 17, v.y - 4, v.z}, {7, 9, 7}), label, 1.5);
          bone(Tube{{{s * 17, v.y - 4, v.z}, r}, {{s * 30, v.y - 6, v.z}, r}}, label, 1.0);
        }
        continue;
      }
      // Body: an elliptic cylinder (an ellipsoid cut by the end plates).
      Brush plates;
      plates.keep = {half_space({0, 0, v.z - v.height / 2}, {0, 0, 1}), half_space({0, 0, v.z + v.height / 2}, {0, 0, -1})};
      bone(make_ellipsoid({0, v.y, v.z}, {v.hw, v.hd, v.height * 0.65}), label, 1.5, plates);
      if (v.name == "C2") bone(Tube{{{0, v.y + 1, v.z + v.height / 2}, 5}, {{0, v.y + 1, v.z + v.height / 2 + 14}, 4.5}}, label, 1.0);
      const double spinous = region == 'C' ? (v.name == "C7" || v.name == "C2" ? 25.0 : 15.0) : region == 'T' ? 28.0 : 25.0;
      const double drop = region == 'T' ? 15.0 : region == 'L' ? 10.0 : 5.0;
      const double transverse = region == 'C' ? 10.0 : region == 'T' ? 18.0 : 22.0;
      for (double s : {1.0, -1.0}) {
        const Vec3 pedicle{s * v.hw * 0.65, canal, v.z};
        bone(smooth({{{s * v.hw * 0.55, v.y - v.hd + 2, v.z}, r}, {pedicle, r}, {{s * 5, canal - 8, v.z}, r},
                     {{0, canal - 9, v.z}, r}}, 2),
             label, 1.0);
        bone(Tube{{pedicle, r}, {{s * (v.hw * 0.65 + transverse), canal - (region == 'T' ? 10.0 : 4.0), v.z}, r * 0.8}},
             label, 1.0);
        // Articular processes reach up and down to the neighbours' (facet joints), so a
        // vertebra's extent spans more than its body, as in TotalSegmentator's masks.
        bone(make_ellipsoid(pedicle + Vec3{0, -3, 0}, {5, 5, v.pitch * 0.62}), label, 1.2);
      }
      bone(Tube{{{0, canal - 9, v.z}, r}, {{0, canal - 9 - spinous, v.z - drop}, r * 0.8}}, label, 1.0);
    }
    // Sacrum: five fused segments curving backwards, with the alae.
    const int sacrum = id("sacrum");
    for (int i = 0; i < 5; ++i) {
      const double z = -782 - 22.0 * i;
      bone(make_ellipsoid({0, spine_y(z), z}, {44.0 - 7 * i, 18.0 - 2 * i, 13}, {1, 0, 0}, normalized({0, 1, 0.4})),
           sacrum, 2.0);
    }
    for (double s : {1.0, -1.0}) bone(make_ellipsoid({s * 38, spine_y(-795) - 5, -795}, {24, 16, 20}), sacrum, 2.0);
    bone(Tube{{{0, spine_y(-895), -895}, 6}, {{0, spine_y(-895) + 15, -925}, 4}}, 0, 1.5);
  }

  void ribs_and_sternum() {
    const double cage = factor(0.05);
    const double y_sternum = kCageY + kCageB[5] * cage - 6;
    bone(smooth({{{0, y_sternum - 4, -300}, 13}, {{0, y_sternum, -335}, 11}, {{0, y_sternum + 2, -470}, 9},
                 {{0, y_sternum, -495}, 5}}, 2),
         0, 2.0);
    for (int n = 0; n < 12; ++n) {
      const auto un = static_cast<std::size_t>(n);
      const Vertebra& v = levels_[7 + un];
      const double a = kCageA[un] * cage;
      const double b = kCageB[un] * cage;
      const double theta1 = kPi * std::array<double, 12>{0.85, 0.85, 0.86, 0.86, 0.86, 0.85, 0.85, 0.8, 0.74, 0.66, 0.5, 0.4}[un];
      for (double s : {1.0, -1.0}) {
        const int label = id(fmt::format("rib_{}_{}", side_name(s), n + 1));
        const double theta0 = std::asin(std::min(0.95, (v.hw + 18) / a));
        Tube rib{{{s * (v.hw + 2), v.y - v.hd * 0.3, v.z + 2}, 4.5}};
        constexpr int kSteps = 8;
        for (int k = 0; k <= kSteps; ++k) {
          const double t = static_cast<double>(k) / kSteps;
          const double th = lerp(theta0, theta1, t);
          rib.push_back({{s * a * std::sin(th), kCageY - b * std::cos(th), v.z + 2 - kDrop[un] * std::pow(t, 1.2)},
                         n == 0 ? 5.5 : 4.5});
        }
        const Tube smooth_rib = smooth(rib, 3);
        bone(smooth_rib, label, 1.5);
        if (n < 7) {
          const Vec3 end = rib.back().p;
          Brush cart = paint(0, kCartilage);
          cart.only_label = 0;
          g_.paint(Tube{{end, 4}, {{s * 14, y_sternum, end[2] - 8}, 4}}, cart);
        }
      }
    }
  }

  void shoulders_and_arms() {
    const double y_sternum = kCageY + kCageB[5] - 6;
    for (double s : {1.0, -1.0}) {
      const std::string side = side_name(s);
      const Arm a = arm_path(body_, s);
      bone(smooth({{{s * 14, y_sternum, -292}, 7}, {{s * 55, 72, -286}, 7}, {{s * 105, 40, -284}, 7},
                   {{s * 140, -10, -290}, 6.5}}, 3),
           id(cat("clavicula_", side)), 1.5);
      const int scap = id(cat("scapula_", side));
      const Vec3 normal = normalized({s * 0.45, -1, 0});
      bone(make_ellipsoid(Vec3{s * 92, -88, -375} + jitter(4), {6, 72, 50}, normal, {0, 0, 1}), scap, 1.5);
      bone(smooth({{{s * 50, -98, -330}, 6}, {{s * 110, -80, -310}, 6}, {{s * 140, -40, -293}, 6}}, 2), scap, 1.5);
      bone(Tube{{{s * 110, -70, -330}, 9}, {a.shoulder + Vec3{-s * 24, -2, -2}, 9}}, scap, 1.5);
      bone(make_ellipsoid(a.shoulder + Vec3{-s * 24, -2, -2}, {10, 14, 18}), scap, 1.5);
      bone(Tube{{{s * 118, -35, -305}, 5}, {{s * 120, 10, -300}, 5}}, scap, 1.0);
      // Humerus: head, shaft, condyles; forearm bones are unlabelled.
      const int hum = id(cat("humerus_", side));
      bone(make_ellipsoid(a.shoulder, {22, 22, 22}), hum, 2.0);
      const Vec3 shaft_dir = normalized(a.elbow - a.shoulder);
      bone(Tube{{a.shoulder + 15 * shaft_dir, 12}, {a.elbow - 12 * shaft_dir, 10.5}}, hum, 3.5, kFat);
      bone(make_ellipsoid(a.elbow - 6 * shaft_dir, {28, 13, 13}, {1, 0, 0}, {0, 1, 0}), hum, 2.0);
      for (double o : {-9.0, 9.0}) {
        bone(Tube{{a.elbow + Vec3{o, 0, 0}, 7}, {a.wrist + Vec3{o, 0, 0}, 6.5}}, 0, 2.0, kFat);
      }
    }
  }

  void pelvis_bones() {
    for (double s : {1.0, -1.0}) {
      const int hip = id(std::string("hip_") + side_name(s));
      const Vec3 wc = wing_centre(s);
      const Vec3 head = femoral_head(s);
      bone(make_ellipsoid(wc, {7, 68, 55}, wing_normal(s), wing_dir(s)), hip, 2.0);
      bone(Tube{{{s * 58, -62, -800}, 14}, {{s * 75, -40, -830}, 15}}, hip, 2.0);
      bone(Tube{{{s * 80, -25, -805}, 18}, {{s * 80, -5, -855}, 20}}, hip, 2.5);
      bone(make_ellipsoid(head + Vec3{-s * 8, -3, 6}, {30, 30, 30}), hip, 2.5);
      bone(smooth({{{s * 70, 22, -888}, 9}, {{s * 38, 42, -900}, 9}, {{s * 7, 52, -905}, 9}}, 2), hip, 2.0);
      bone(Tube{{{s * 72, -12, -905}, 14}, {{s * 58, -30, -950}, 14}}, hip, 2.0);
      bone(smooth({{{s * 50, -20, -955}, 8}, {{s * 22, 25, -935}, 8}, {{s * 8, 45, -920}, 8}}, 2), hip, 2.0);
    }
  }

  static Vec3 femoral_head(double s) { return {s * 86, 8, -880}; }

  void femurs() {
    for (double s : {1.0, -1.0}) {
      const int femur = id(std::string("femur_") + side_name(s));
      const Vec3 head = femoral_head(s);
      bone(make_ellipsoid(head, {23, 23, 23}), femur, 2.0);
      bone(Tube{{head, 15}, {{s * 112, -2, -905}, 15}}, femur, 2.5);
      bone(make_ellipsoid({s * 118, -8, -905}, {16, 20, 26}), femur, 2.0);
      bone(make_ellipsoid({s * 100, -8, -945}, {8, 8, 10}), femur, 1.5);
      bone(smooth({{{s * 112, -2, -915}, 14}, {{s * 100, 8, -1100}, 13}, {{s * 90, 12, -1290}, 14}}, 2), femur, 4.5, kFat);
    }
  }

  Grid& g_;
  const Body& body_;
  const ClassIds& ids_;
  Rng rng_;
  std::vector<Vertebra> levels_;
};

}  // namespace

Body draw_body(Rng& rng) {
  Body b;
  b.female = rng.chance(0.5);
  b.age = rng.uniform_int(18, 90);
  const double sex = b.female ? 0.94 : 1.0;
  b.scale = {rng.uniform(0.88, 1.15) * sex, rng.uniform(0.85, 1.25) * sex, rng.uniform(0.9, 1.08) * (b.female ? 0.93 : 1.0)};
  b.fat = rng.uniform(5, 45);
  b.arms_up = rng.chance(0.5);
  b.dome_z = -505 + rng.uniform(-20, 20);
  b.organ_seed = mix_seed(rng.bits(), 7);
  return b;
}

double body_half_width(const Body& body, double z) {
  double w = trunk_half_width(body, z);
  if (w > 0) w += body.fat;
  if (z <= 0 && z >= -205) w = std::max(w, 80.0);                     // head
  if (z <= -860) w = std::max(w, 95 + 90 + body.fat * 0.6);          // thighs
  const Arm a = arm_path(body, 1.0);  // the body is symmetric: the right arm tells
  const double top = std::max({a.shoulder[2], a.elbow[2], a.wrist[2]});
  const double bottom = std::min({a.shoulder[2], a.elbow[2], a.wrist[2]});
  if (z <= top && z >= bottom - 60) {
    const double x = std::max({a.shoulder[0], a.elbow[0], a.wrist[0]});
    w = std::max(w, x + a.r_upper + body.fat * 0.6);
  }
  return w;
}

std::array<double, 2> body_depth(const Body& body, double z) {
  ProfileKey key;
  if (trunk_profile(body).at(z, key)) return {key.cy - key.b - body.fat, key.cy + key.b + body.fat};
  if (z > -205) return {-105, 100};
  return {-100, 100};
}

void paint_anatomy(Grid& grid, const Body& body, const ClassIds& ids) { Painter(grid, body, ids).run(); }

}  // namespace voxir::synth
