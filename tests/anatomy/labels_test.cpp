#include "testutil/shared_data.h"
#include "testutil/temp_dir.h"
#include "voxir/error.h"
#include "voxir/labels.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace voxir {
namespace {

using Extent = std::array<std::int64_t, 2>;

// A tiny CT and hand-made masks: presence, extents, min_voxels, coarse merging.
TEST(SliceLabels, PresenceExtentsAndCoarseRegionsFromMasks) {
  testing::TempDir dir;
  const Affine a{{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 2, 0}, {0, 0, 0, 1}}};
  const Volume ct({4, 4, 6}, {1, 1, 2}, a, std::vector<float>(96, 0.0f), "RAS");
  std::filesystem::create_directories(dir / "seg");
  auto mask = [&](const char* name, std::vector<std::array<int, 2>> slice_voxels) {
    std::vector<float> v(96, 0.0f);
    for (const auto& [k, n] : slice_voxels)
      for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(k * 16 + i)] = 1.0f;
    write_nifti(Volume({4, 4, 6}, {1, 1, 2}, a, v, "RAS"), dir / "seg" / (std::string(name) + ".nii.gz"),
                NiftiDatatype::kUint8);
  };
  mask("kidney_left", {{1, 3}, {2, 1}});
  mask("kidney_right", {{3, 2}, {4, 5}});
  mask("liver", {});
  write_nifti(ct, dir / "seg" / "ct.nii.gz");  // not a class: skipped and reported

  std::vector<std::string> skipped;
  const SliceLabels labels = read_labels(dir / "seg", ct, {}, &skipped);
  const auto& cat = labels.catalog();
  const int left = cat.at("kidney_left").index;
  const int right = cat.at("kidney_right").index;
  EXPECT_EQ(skipped, std::vector<std::string>{"ct.nii.gz"});
  EXPECT_EQ(labels.count(left, 1), 3U);
  EXPECT_EQ(labels.extent(left), (Extent{1, 2}));
  EXPECT_EQ(labels.extent(left, 2), (Extent{1, 1}));  // slice 2 has 1 voxel < min 2
  EXPECT_EQ(labels.extent(right), (Extent{3, 4}));
  EXPECT_FALSE(labels.extent(cat.at("liver").index));
  EXPECT_FALSE(labels.extent(cat.at("spleen").index));
  const int kidney = cat.coarse_index("kidney");
  ASSERT_GE(kidney, 0);
  EXPECT_EQ(labels.coarse_extent(kidney), (Extent{1, 4}));
  EXPECT_EQ(labels.coarse_extent(kidney, 3), (Extent{1, 4}));
  EXPECT_EQ(labels.coarse_extent(kidney, 4), (Extent{4, 4}));
  EXPECT_TRUE(labels.coarse_present(kidney, 2));
  EXPECT_FALSE(labels.coarse_present(kidney, 0));
}

TEST(SliceLabels, MismatchedGridNamesTheFile) {
  testing::TempDir dir;
  const Affine a{{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}};
  const Volume ct({4, 4, 6}, {1, 1, 1}, a, std::vector<float>(96, 0.0f), "RAS");
  std::filesystem::create_directories(dir / "seg");
  write_nifti(Volume({4, 4, 5}, {1, 1, 1}, a, std::vector<float>(80, 1.0f), "RAS"), dir / "seg/liver.nii.gz",
              NiftiDatatype::kUint8);
  Affine shifted = a;
  shifted[2][3] = 1.5;
  write_nifti(Volume({4, 4, 6}, {1, 1, 1}, shifted, std::vector<float>(96, 1.0f), "RAS"),
              dir / "shifted.nii.gz", NiftiDatatype::kUint8);
  struct Case {
    std::filesystem::path path;
    const char* phrase;
  };
  for (const Case& c : {Case{dir / "seg", "liver.nii.gz"}, Case{dir / "seg", "dimensions differ"},
                        Case{dir / "shifted.nii.gz", "differ by up to 1.5 mm"}}) {
    try {
      (void)read_labels(c.path, ct);
      ADD_FAILURE() << c.path << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      EXPECT_NE(std::string(e.what()).find(c.phrase), std::string::npos) << e.what();
    }
  }
  // A multilabel value that is no class id of the version.
  write_nifti(Volume({4, 4, 6}, {1, 1, 1}, a, std::vector<float>(96, 200.0f), "RAS"), dir / "ml.nii.gz",
              NiftiDatatype::kUint8);
  try {
    (void)read_labels(dir / "ml.nii.gz", ct);
    ADD_FAILURE() << "no error for a multilabel file without table or version";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("without a label table"), std::string::npos) << e.what();
  }
  LabelReadOptions v2;
  v2.multilabel_version = LabelVersion::kV2;
  try {
    (void)read_labels(dir / "ml.nii.gz", ct, v2);
    ADD_FAILURE() << "no error for id 200";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("value 200"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)read_labels(dir / "absent", ct), Error);
}

// The label map of a mask folder and of a multilabel file: the CT's grid, each voxel the map value
// of its class, the larger value where masks overlap.
TEST(LabelMap, FromMasksAndFromAMultilabelFileOnTheCtGrid) {
  testing::TempDir dir;
  const Affine a{{{1, 0, 0, 3}, {0, 1, 0, -2}, {0, 0, 2, 10}, {0, 0, 0, 1}}};
  const Volume ct({4, 4, 6}, {1, 1, 2}, a, std::vector<float>(96, 0.0f), "RAS");
  std::filesystem::create_directories(dir / "seg");
  const auto voxel = [](int i, int j, int k) { return static_cast<std::size_t>(i + 4 * (j + 4 * k)); };
  const auto mask = [&](const char* name, std::vector<std::size_t> on) {
    std::vector<float> v(96, 0.0f);
    for (const auto i : on) v[i] = 1.0f;
    write_nifti(Volume({4, 4, 6}, {1, 1, 2}, a, v, "RAS"), dir / "seg" / (std::string(name) + ".nii.gz"),
                NiftiDatatype::kUint8);
  };
  mask("liver", {voxel(0, 0, 1), voxel(1, 2, 3), voxel(2, 2, 2)});
  mask("spleen", {voxel(3, 3, 5), voxel(2, 2, 2)});  // overlaps the liver at (2, 2, 2)
  write_nifti(ct, dir / "seg" / "ct.nii.gz");           // not a class: ignored
  const ClassCatalog& cat = ClassCatalog::builtin();
  const auto liver = static_cast<float>(label_map_value(cat.at("liver").index));
  const auto spleen = static_cast<float>(label_map_value(cat.at("spleen").index));
  ASSERT_NE(liver, spleen);

  const Volume map = read_label_map(dir / "seg", ct);
  EXPECT_EQ(map.dims(), ct.dims());
  EXPECT_EQ(map.affine(), ct.affine());
  EXPECT_EQ(map.at(0, 0, 1), liver);
  EXPECT_EQ(map.at(1, 2, 3), liver);
  EXPECT_EQ(map.at(3, 3, 5), spleen);
  EXPECT_EQ(map.at(2, 2, 2), std::max(liver, spleen));
  EXPECT_EQ(map.at(0, 0, 0), 0.0f);
  EXPECT_EQ(std::count(map.hu().begin(), map.hu().end(), 0.0f), 96 - 4);

  // The same classes as one multilabel file with TotalSegmentator v1 ids.
  std::vector<float> ids(96, 0.0f);
  ids[voxel(0, 0, 1)] = static_cast<float>(cat.at("liver").v1_id);
  ids[voxel(3, 3, 5)] = static_cast<float>(cat.at("spleen").v1_id);
  write_nifti(Volume({4, 4, 6}, {1, 1, 2}, a, ids, "RAS"), dir / "ml.nii.gz", NiftiDatatype::kUint8);
  LabelReadOptions v1;
  v1.multilabel_version = LabelVersion::kV1;
  const Volume from_file = read_label_map(dir / "ml.nii.gz", ct, v1);
  EXPECT_EQ(from_file.at(0, 0, 1), liver);
  EXPECT_EQ(from_file.at(3, 3, 5), spleen);
  EXPECT_EQ(std::count(from_file.hu().begin(), from_file.hu().end(), 0.0f), 96 - 2);

  // The errors of read_labels: a grid that differs, a missing path.
  const Volume other({4, 4, 5}, {1, 1, 2}, a, std::vector<float>(80, 0.0f), "RAS");
  try {
    (void)read_label_map(dir / "seg", other);
    ADD_FAILURE() << "no error for a grid that differs";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("dimensions differ"), std::string::npos) << e.what();
  }
  try {
    (void)read_label_map(dir / "absent", ct);
    ADD_FAILURE() << "no error for a missing path";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
}

TEST(SliceLabels, RealTsMiniExtentsMatchTheReadme) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const Volume ct = read_volume(data / "ct/ts-mini/s0001/ct.nii.gz");
  const SliceLabels labels = read_labels(data / "ct/ts-mini/s0001/segmentations", ct);
  const auto& cat = labels.catalog();
  struct Case {
    const char* name;
    Extent extent;
  };
  for (const Case& c : {Case{"liver", {70, 111}}, Case{"urinary_bladder", {4, 32}}, Case{"kidney_right", {66, 101}},
                        Case{"vertebrae_L3", {64, 79}}, Case{"femur_left", {0, 17}}}) {
    EXPECT_EQ(labels.extent(cat.at(c.name).index), c.extent) << c.name;
  }
  int non_empty = 0;
  for (const auto* c : cat.version_classes(LabelVersion::kV1)) non_empty += labels.extent(c->index) ? 1 : 0;
  EXPECT_EQ(non_empty, 59);
  for (const char* empty : {"brain", "face", "heart_atrium_left", "clavicula_left", "humerus_right", "vertebrae_C3"}) {
    EXPECT_FALSE(labels.extent(cat.at(empty).index)) << empty;
  }
}

TEST(SliceLabels, RealMultilabelFilesEqualThePerClassFolder) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const Volume ct = read_volume(data / "ct/ts-mini/s0001/ct.nii.gz");
  const SliceLabels folder = read_labels(data / "ct/ts-mini/s0001/segmentations", ct);
  LabelReadOptions v1;
  v1.multilabel_version = LabelVersion::kV1;
  const SliceLabels ml_v1 = read_labels(data / "ct/ts-example-multilabel/example_seg_v1.nii.gz", ct, v1);
  const auto& cat = folder.catalog();
  int compared = 0;
  for (const auto* c : cat.version_classes(LabelVersion::kV1)) {
    EXPECT_EQ(folder.extent(c->index), ml_v1.extent(c->index)) << c->name;
    for (std::int64_t k = 0; k < ct.nz(); ++k) {
      ASSERT_EQ(folder.count(c->index, k), ml_v1.count(c->index, k)) << c->name << " slice " << k;
    }
    ++compared;
  }
  EXPECT_EQ(compared, 104);
  // The v2 file carries its own label table (read without naming a version) and agrees on the classes the two versions share with the same
  // definition (liver, kidneys, bladder, vertebrae); it is a different model's prediction, so
  // only extents within a few slices are expected.
  const SliceLabels ml_v2 = read_labels(data / "ct/ts-example-multilabel/example_seg_v2.nii.gz", ct);
  for (const char* name : {"liver", "kidney_right", "urinary_bladder", "vertebrae_L3"}) {
    const auto a = folder.extent(cat.at(name).index);
    const auto b = ml_v2.extent(cat.at(name).index);
    ASSERT_TRUE(a && b) << name;
    EXPECT_NEAR(static_cast<double>((*a)[0]), static_cast<double>((*b)[0]), 3) << name;
    EXPECT_NEAR(static_cast<double>((*a)[1]), static_cast<double>((*b)[1]), 3) << name;
  }
}

}  // namespace
}  // namespace voxir
