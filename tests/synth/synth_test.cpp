// Synthetic phantoms: anatomy order, class coverage, field of view, determinism, and that the
// dataset reader reads what the writer writes. Subjects use 5 mm slices to keep the suite fast.
#include "synth/phantom.h"
#include "synth/raster.h"
#include "testutil/temp_dir.h"
#include "util/file.h"
#include "util/hash.h"
#include "voxir/dataset.h"
#include "voxir/error.h"
#include "voxir/labels.h"
#include "voxir/synth.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

namespace voxir::synth {
namespace {

using testing::TempDir;

int v1_id(std::string_view name) { return ClassCatalog::builtin().at(name).v1_id; }

// Voxels per v1 id (index 0 = background).
std::array<std::int64_t, 105> label_counts(const Phantom& p) {
  std::array<std::int64_t, 105> counts{};
  for (std::uint8_t l : p.labels) ++counts[l];
  return counts;
}

// Mean slice index of the voxels of any of `names`; NaN when none.
double centroid_slice(const Phantom& p, std::initializer_list<std::string_view> names) {
  std::array<bool, 105> wanted{};
  for (auto n : names) wanted[static_cast<std::size_t>(v1_id(n))] = true;
  const auto slice = static_cast<std::size_t>(p.ct.slice_size());
  double sum = 0;
  double count = 0;
  for (std::size_t i = 0; i < p.labels.size(); ++i) {
    if (wanted[p.labels[i]]) {
      sum += static_cast<double>(i / slice);
      count += 1;
    }
  }
  return count > 0 ? sum / count : std::nan("");
}

// Small subjects keep the suite fast (also under the sanitizers); `matrix` 0 keeps the drawn one.
SubjectOptions options_for(Region region, double spacing = 5.0, int matrix = 96) {
  SubjectOptions o;
  o.region = region;
  o.slice_spacing_mm = spacing;
  o.matrix = matrix;
  return o;
}

TEST(SynthRaster, PaintsShapesWithPriorityAndFilters) {
  Grid g(40, 40, 40, {1, 1, 1}, {-19.5, -19.5, -19.5});
  Brush body;
  body.label = 0;
  body.tissue = kFat;
  body.tissues = kAnyTissue;
  g.paint(make_ellipsoid({0, 0, 0}, {15, 15, 15}), body);
  Brush a;
  a.label = 7;
  a.tissue = kLiver;
  g.paint(make_ellipsoid({0, 0, 0}, {10, 10, 10}), a);
  const auto count = [&](int label) { return std::count(g.labels().begin(), g.labels().end(), label); };
  // Voxel count of a sphere of radius 10 is close to its volume.
  EXPECT_NEAR(static_cast<double>(count(7)), 4.0 / 3.0 * 3.14159265 * 1000, 60);
  // A later shape overwrites (priority), but only where its filters allow.
  Brush b;
  b.label = 9;
  b.only_label = 7;
  b.keep = {half_space({0, 0, 0}, {1, 0, 0})};
  g.paint(Tube{{{-20, 0, 0}, 3}, {{20, 0, 0}, 3}}, b);
  EXPECT_GT(count(9), 0);
  for (std::int64_t i = 0; i < 20; ++i) EXPECT_NE(g.labels()[static_cast<std::size_t>(i + 40 * (20 + 40 * 20))], 9);
  // Nothing is painted outside the body (tissue air is excluded by default).
  Brush c;
  c.label = 11;
  g.paint(Box{{-30, -30, 16}, {30, 30, 30}}, c);
  EXPECT_EQ(count(11), 0);
}

TEST(SynthRegion, NamesRoundTrip) {
  for (Region r : {Region::kWholeBody, Region::kHeadNeck, Region::kThorax, Region::kAbdomen, Region::kPelvis,
                   Region::kThoraxAbdomen, Region::kThoraxAbdomenPelvis, Region::kAbdomenPelvis}) {
    const auto parsed = parse_region(to_string(r));
    ASSERT_TRUE(parsed.has_value()) << to_string(r);
    EXPECT_EQ(*parsed, r);
  }
  EXPECT_FALSE(parse_region("torso").has_value());
}

TEST(SynthOptionsValidate, RejectsBadValues) {
  struct Case {
    const char* what;
    SynthOptions options;
  };
  std::vector<Case> cases(5);
  cases[0] = {"no subjects", {}};
  cases[0].options.subjects = 0;
  cases[1] = {"fraction above 1", {}};
  cases[1].options.test_fraction = 1.5;
  cases[2] = {"negative spacing", {}};
  cases[2].options.subject.slice_spacing_mm = -1;
  cases[3] = {"negative threads", {}};
  cases[3].options.threads = -1;
  cases[4] = {"NaN fraction", {}};
  cases[4].options.test_fraction = std::nan("");
  cases.push_back({"tiny matrix", {}});
  cases.back().options.subject.matrix = 8;
  for (const auto& c : cases) {
    try {
      c.options.validate();
      ADD_FAILURE() << c.what << ": accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage) << c.what;
    }
  }
  EXPECT_NO_THROW(SynthOptions{}.validate());
}

TEST(SynthPhantom, WholeBodyHoldsEveryClassInAnatomicalOrder) {
  for (std::uint64_t seed : {1ULL, 2ULL}) {
    // Drawn matrix: thin classes (adrenals, C1) need the generator's real pixel sizes.
    const Phantom p = generate_subject(seed, options_for(Region::kWholeBody, 5.0, 0));
    ASSERT_EQ(p.labels.size(), p.ct.hu().size());
    EXPECT_EQ(p.ct.spacing()[2], 5.0);
    const auto counts = label_counts(p);
    const SliceLabels per_slice = slice_labels(p);
    for (const ClassInfo* c : ClassCatalog::builtin().version_classes(LabelVersion::kV1)) {
      EXPECT_GT(counts[static_cast<std::size_t>(c->v1_id)], 0) << "seed " << seed << ": " << c->name << " missing";
      std::int64_t sum = 0;
      for (std::int64_t k = 0; k < p.ct.nz(); ++k) sum += per_slice.count(c->index, k);
      EXPECT_EQ(sum, counts[static_cast<std::size_t>(c->v1_id)]) << c->name;
    }
    // Slice 0 is inferior: a larger centroid index is higher in the body.
    const double brain = centroid_slice(p, {"brain"});
    const double lungs = centroid_slice(p, {"lung_upper_lobe_left", "lung_lower_lobe_left", "lung_upper_lobe_right",
                                            "lung_middle_lobe_right", "lung_lower_lobe_right"});
    const double liver = centroid_slice(p, {"liver"});
    const double bladder = centroid_slice(p, {"urinary_bladder"});
    const double femurs = centroid_slice(p, {"femur_left", "femur_right"});
    EXPECT_GT(brain, lungs) << "seed " << seed;
    EXPECT_GT(lungs, liver) << "seed " << seed;
    EXPECT_GT(liver, bladder) << "seed " << seed;
    EXPECT_GT(bladder, femurs) << "seed " << seed;
    // Vertebrae are stacked C1 on top down to L5, and sides are where RAS+ says (i grows to the
    // patient's right).
    EXPECT_GT(centroid_slice(p, {"vertebrae_C1"}), centroid_slice(p, {"vertebrae_T1"}));
    EXPECT_GT(centroid_slice(p, {"vertebrae_T1"}), centroid_slice(p, {"vertebrae_L5"}));
    EXPECT_GT(centroid_slice(p, {"vertebrae_L5"}), centroid_slice(p, {"sacrum"}));
    std::int64_t liver_x = 0;
    std::int64_t spleen_x = 0;
    const auto nx = static_cast<std::size_t>(p.ct.nx());
    for (std::size_t i = 0; i < p.labels.size(); ++i) {
      if (p.labels[i] == v1_id("liver")) liver_x += static_cast<std::int64_t>(i % nx);
      if (p.labels[i] == v1_id("spleen")) spleen_x += static_cast<std::int64_t>(i % nx);
    }
    EXPECT_GT(static_cast<double>(liver_x) / static_cast<double>(counts[static_cast<std::size_t>(v1_id("liver"))]),
              static_cast<double>(spleen_x) / static_cast<double>(counts[static_cast<std::size_t>(v1_id("spleen"))]));
  }
}

TEST(SynthPhantom, OptionsOverrideWhatIsDrawn) {
  const Phantom p = generate_subject(9, options_for(Region::kPelvis, 2.5, 64));
  EXPECT_EQ(p.ct.nx(), 64);
  EXPECT_EQ(p.ct.ny(), 64);
  EXPECT_DOUBLE_EQ(p.ct.spacing()[2], 2.5);
  EXPECT_EQ(p.info.region, Region::kPelvis);
  // Fixing one option leaves the rest of the subject as drawn (same body, same field of view).
  const Phantom q = generate_subject(9, options_for(Region::kPelvis, 5.0, 64));
  EXPECT_EQ(p.info.fov_mm, q.info.fov_mm);
  EXPECT_EQ(p.info.age, q.info.age);
  EXPECT_EQ(p.ct.affine()[2][3], q.ct.affine()[2][3]);
}

TEST(SynthPhantom, TissueValuesArePlausible) {
  const Phantom p = generate_subject(5, options_for(Region::kThoraxAbdomen));
  // Median HU per class: bones bright, lungs dark, soft organs in between.
  const auto median = [&](std::string_view name) {
    std::vector<float> v;
    const int id = v1_id(name);
    for (std::size_t i = 0; i < p.labels.size(); ++i)
      if (p.labels[i] == id) v.push_back(p.ct.hu()[i]);
    EXPECT_FALSE(v.empty()) << name;
    if (v.empty()) return 0.0f;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  EXPECT_LT(median("lung_lower_lobe_right"), -600);
  EXPECT_GT(median("vertebrae_T8"), 150);
  EXPECT_GT(median("liver"), 20);
  EXPECT_LT(median("liver"), 200);
  const auto range = p.ct.hu_range();
  EXPECT_GE(range[0], -1024);
  EXPECT_LE(range[1], 3071);
}

TEST(SynthPhantom, ThoraxOnlyHasNoFemurAndHeadHasNoLiver) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const Phantom thorax = generate_subject(seed, options_for(Region::kThorax));
    const auto t = label_counts(thorax);
    EXPECT_EQ(t[static_cast<std::size_t>(v1_id("femur_left"))], 0) << seed;
    EXPECT_EQ(t[static_cast<std::size_t>(v1_id("femur_right"))], 0) << seed;
    EXPECT_EQ(t[static_cast<std::size_t>(v1_id("urinary_bladder"))], 0) << seed;
    EXPECT_EQ(t[static_cast<std::size_t>(v1_id("brain"))], 0) << seed;
    EXPECT_GT(t[static_cast<std::size_t>(v1_id("heart_ventricle_left"))], 0) << seed;
    EXPECT_GT(t[static_cast<std::size_t>(v1_id("lung_lower_lobe_left"))], 0) << seed;
    const Phantom head = generate_subject(seed, options_for(Region::kHeadNeck));
    const auto h = label_counts(head);
    EXPECT_GT(h[static_cast<std::size_t>(v1_id("brain"))], 0) << seed;
    EXPECT_EQ(h[static_cast<std::size_t>(v1_id("liver"))], 0) << seed;
  }
}

// The generator draws every random number itself (synth/rng.h: mt19937_64 bits, its own uniform
// and Box-Muller normal), so a seed means the same phantom with any standard library. Pinned
// here: a change of these values changes every published phantom figure, and must be deliberate.
TEST(SynthPhantom, SeedGivesPinnedBytes) {
  const Phantom p = generate_subject(2024, options_for(Region::kAbdomen, 5.0, 64));
  Hasher ct;
  ct.update_pod(p.ct.hu());
  Hasher labels;
  labels.update_pod(std::span<const std::uint8_t>(p.labels));
  EXPECT_EQ(p.ct.dims(), (Dims{64, 64, 53}));
  EXPECT_EQ(fmt::format("{:016x}", ct.digest()), "c17d14ef066df183");
  EXPECT_EQ(fmt::format("{:016x}", labels.digest()), "38016c5852b1df03");
}

TEST(SynthPhantom, SameSeedSameSubjectDifferentSeedDifferent) {
  const SubjectOptions o = options_for(Region::kAbdomen);
  const Phantom a = generate_subject(42, o);
  const Phantom b = generate_subject(42, o);
  const Phantom c = generate_subject(43, o);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_TRUE(std::equal(a.ct.hu().begin(), a.ct.hu().end(), b.ct.hu().begin(), b.ct.hu().end()));
  EXPECT_EQ(a.ct.affine(), b.ct.affine());
  EXPECT_FALSE(a.labels == c.labels && std::equal(a.ct.hu().begin(), a.ct.hu().end(), c.ct.hu().begin(), c.ct.hu().end()));
  // Drawn options vary between subjects.
  std::map<std::string, int> regions;
  std::map<double, int> pixel_sizes;
  for (std::uint64_t seed = 0; seed < 12; ++seed) {
    SubjectOptions drawn;
    drawn.slice_spacing_mm = 10;  // thick slices, small matrix: only the drawing is of interest here
    drawn.matrix = 64;
    const Phantom p = generate_subject(seed, drawn);
    ++regions[std::string(to_string(p.info.region))];
    ++pixel_sizes[p.ct.spacing()[0]];
  }
  EXPECT_GE(regions.size(), 4U);
  EXPECT_GE(pixel_sizes.size(), 4U);
}

// Every file of a folder tree, relative path -> bytes.
std::map<std::string, std::vector<std::uint8_t>> tree(const std::filesystem::path& root) {
  std::map<std::string, std::vector<std::uint8_t>> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out[std::filesystem::relative(e.path(), root).string()] = read_file(e.path());
  }
  return out;
}

SynthOptions small_dataset(std::uint64_t seed, int threads, int subjects = 3) {
  SynthOptions o;
  o.subjects = subjects;
  o.seed = seed;
  o.test_fraction = 1.0 / 3.0;
  o.subject.slice_spacing_mm = 5;
  o.subject.region = Region::kAbdomen;
  o.subject.matrix = 96;
  o.threads = threads;
  return o;
}

TEST(SynthDataset, SameSeedSameBytesWhateverTheThreadCount) {
  TempDir d;
  write_dataset(d / "a", small_dataset(7, 1, 2));
  write_dataset(d / "b", small_dataset(7, 2, 2));
  write_dataset(d / "c", small_dataset(8, 2, 1));
  const auto a = tree(d / "a");
  const auto b = tree(d / "b");
  const auto c = tree(d / "c");
  EXPECT_EQ(a.size(), 1U + 2U * 105U);  // meta.csv + per subject ct and 104 masks
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [path, bytes] : a) {
    ASSERT_TRUE(b.count(path)) << path;
    EXPECT_TRUE(bytes == b.at(path)) << path << " differs between two runs with the same seed";
  }
  EXPECT_FALSE(a.at("s0001/ct.nii.gz") == c.at("s0001/ct.nii.gz"));
  EXPECT_FALSE(a.at("s0001/segmentations/liver.nii.gz") == c.at("s0001/segmentations/liver.nii.gz"));
}

TEST(SynthDataset, DatasetReaderReadsWhatSynthWrites) {
  TempDir d;
  const SynthOptions options = small_dataset(11, 0);
  const DatasetSummary summary = write_dataset(d.path(), options);
  EXPECT_EQ(summary.subjects, 3);
  const Dataset ds = Dataset::open(d.path());
  ASSERT_EQ(ds.subjects().size(), 3U);
  EXPECT_EQ(ds.split("test").size(), 1U);
  EXPECT_EQ(ds.split("train").size(), 2U);
  std::int64_t slices = 0;
  const ClassCatalog& catalog = ClassCatalog::builtin();
  for (const Subject& s : ds.subjects()) {
    SCOPED_TRACE(s.id);
    for (const char* column : {"age", "gender", "institute", "study_type", "seed", "dims"}) {
      EXPECT_TRUE(s.meta.count(column)) << column;
    }
    EXPECT_EQ(s.meta.at("study_type"), "ct abdomen");
    const Volume ct = read_volume(s.ct);
    slices += ct.nz();
    EXPECT_EQ(ct.source_orientation(), "RAS");
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(s.segmentations), std::filesystem::directory_iterator()), 104);
    const SliceLabels labels = read_labels(s.segmentations, ct);
    // Regenerate the subject from its recorded seed: the files must hold exactly the phantom.
    const Phantom p = generate_subject(std::stoull(s.meta.at("seed")), options.subject);
    ASSERT_EQ(ct.dims(), p.ct.dims());
    EXPECT_TRUE(std::equal(ct.hu().begin(), ct.hu().end(), p.ct.hu().begin(), p.ct.hu().end()));
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) EXPECT_NEAR(ct.affine()[r][c], p.ct.affine()[r][c], 1e-3);
    const SliceLabels expected = slice_labels(p);
    int present = 0;
    for (const ClassInfo* c : catalog.version_classes(LabelVersion::kV1)) {
      for (std::int64_t k = 0; k < ct.nz(); ++k) {
        ASSERT_EQ(labels.count(c->index, k), expected.count(c->index, k)) << c->name << " slice " << k;
      }
      present += labels.extent(c->index).has_value() ? 1 : 0;
    }
    EXPECT_GT(present, 30);
    EXPECT_LT(present, 104);  // an abdomen scan holds no brain
  }
  EXPECT_EQ(slices, summary.slices);
}

}  // namespace
}  // namespace voxir::synth
