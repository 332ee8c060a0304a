// The benchmark's class map and the label-set check, on small maps written by hand.
#include "voxir/error.h"
#include "voxir/eval.h"
#include "voxir/labels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace voxir::eval {
namespace {

std::vector<std::string> v1_names() {
  std::vector<std::string> out;
  for (const ClassInfo* c : ClassCatalog::builtin().version_classes(LabelVersion::kV1))
    out.push_back(c->name);
  return out;
}

TEST(ClassMap, BuiltinIsThe104ClassesAnd29Regions) {
  const ClassMap map = ClassMap::builtin();
  EXPECT_EQ(map.entries().size(), 104U);
  EXPECT_EQ(map.coarse_regions().size(), 29U);
  EXPECT_EQ(map.source(), "builtin");
  for (std::size_t i = 0; i < map.entries().size(); ++i)
    EXPECT_GE(map.coarse_of(i), 0) << map.entries()[i].name;
}

TEST(ClassMap, CustomCsvDefinesBothGranularities) {
  // Extra columns are ignored; an empty region leaves a class in the fine table only; a v2-only
  // class (heart) may be mapped too.
  const ClassMap map = ClassMap::from_csv(
      "name;coarse_region;note\nliver;abdomen;x\nspleen;abdomen;\nkidney_left;kidney;\nkidney_"
      "right;;\nheart;heart;v2\n",
      "map.csv");
  ASSERT_EQ(map.entries().size(), 5U);
  EXPECT_EQ(map.coarse_regions(), (std::vector<std::string>{"abdomen", "kidney", "heart"}));
  EXPECT_EQ(map.coarse_of(1), 0);
  EXPECT_EQ(map.coarse_of(3), -1);
  EXPECT_EQ(map.entries()[4].class_index, ClassCatalog::builtin().at("heart").index);
  EXPECT_EQ(map.source(), "map.csv");
}

TEST(ClassMap, BadMapsNameTheLine) {
  const struct {
    const char* name;
    const char* csv;
    const char* expect;
  } cases[] = {
      {"unknown class", "name,coarse_region\nliver,abdomen\nlivr,abdomen\n", "map.csv:3"},
      {"repeated class", "name,coarse_region\nliver,a\nliver,b\n", "listed twice"},
      {"missing column", "name,region\nliver,a\n", "coarse_region"},
      {"no classes", "name,coarse_region\n", "no class"},
  };
  for (const auto& c : cases) {
    try {
      (void)ClassMap::from_csv(c.csv, "map.csv");
      ADD_FAILURE() << c.name << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << c.name;
      EXPECT_NE(std::string(e.what()).find(c.expect), std::string::npos)
          << c.name << ": " << e.what();
    }
  }
}

TEST(ClassMap, LabelSetOfV1DataIsExact) {
  const LabelSetCheck check = check_label_set(ClassMap::builtin(), v1_names());
  EXPECT_TRUE(check.exact_v1);
  EXPECT_EQ(check.dataset_classes, 104);
  EXPECT_TRUE(check.warnings("builtin").empty());
}

TEST(ClassMap, LabelSetOfV2LikeDataNamesEveryDifference) {
  // v1 minus the heart parts, plus v2's single heart: what a v2 dataset does to the heart.
  std::vector<std::string> names;
  for (const auto& n : v1_names()) {
    if (n.rfind("heart_", 0) != 0) names.push_back(n);
  }
  names.push_back("heart");
  const LabelSetCheck check = check_label_set(ClassMap::builtin(), names);
  EXPECT_FALSE(check.exact_v1);
  EXPECT_EQ(check.not_v1, (std::vector<std::string>{"heart"}));
  EXPECT_EQ(check.added, (std::vector<std::string>{"heart"}));
  EXPECT_EQ(check.dropped.size(),
            5U);  // heart_myocardium, heart_atrium_left/right, heart_ventricle_left/right
  EXPECT_EQ(check.v1_missing, check.dropped);
  EXPECT_TRUE(std::all_of(check.dropped.begin(), check.dropped.end(),
                          [](const std::string& n) { return n.rfind("heart_", 0) == 0; }));
  const auto warnings = check.warnings("builtin");
  ASSERT_EQ(warnings.size(), 3U);
  EXPECT_NE(warnings[0].find("not the 104 TotalSegmentator v1 classes"), std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[1].find("not scored: heart"), std::string::npos) << warnings[1];
  EXPECT_NE(warnings[2].find("heart_myocardium"), std::string::npos) << warnings[2];

  // A map that gives heart a region scores it; a class without a region is named.
  const ClassMap map = ClassMap::from_csv("name,coarse_region\nheart,heart\nliver,\n", "m.csv");
  const LabelSetCheck mapped = check_label_set(map, names);
  EXPECT_EQ(std::count(mapped.added.begin(), mapped.added.end(), "heart"), 0);
  EXPECT_EQ(mapped.without_coarse, (std::vector<std::string>{"liver"}));
  EXPECT_TRUE(mapped.dropped.empty());
}

}  // namespace
}  // namespace voxir::eval
