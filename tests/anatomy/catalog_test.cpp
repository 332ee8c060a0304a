#include "voxir/error.h"
#include "voxir/labels.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace voxir {
namespace {

TEST(Catalog, BuiltinHasBothVersionsAnd29CoarseRegions) {
  const auto& cat = ClassCatalog::builtin();
  EXPECT_EQ(cat.version_classes(LabelVersion::kV1).size(), 104U);
  EXPECT_EQ(cat.version_classes(LabelVersion::kV2).size(), 117U);
  EXPECT_EQ(cat.coarse_regions().size(), 29U);
  // Union of names: 104 v1 + the v2-only ones.
  std::set<std::string> names;
  for (const auto& c : cat.classes()) names.insert(c.name);
  EXPECT_EQ(names.size(), cat.classes().size());
  EXPECT_EQ(cat.classes().size(), 124U);
  std::map<std::string, int> per_category;
  for (const auto* c : cat.version_classes(LabelVersion::kV1)) ++per_category[c->category];
  EXPECT_EQ(per_category["organ"], 27);
  EXPECT_EQ(per_category["bone"], 59);
  EXPECT_EQ(per_category["muscle"], 10);
  EXPECT_EQ(per_category["vessel"], 8);
}

TEST(Catalog, IdsMapAcrossVersionsByName) {
  const auto& cat = ClassCatalog::builtin();
  struct Case {
    const char* name;
    int v1;
    int v2;
    const char* coarse;
  };
  const Case cases[] = {
      {"spleen", 1, 1, "spleen"},
      {"liver", 5, 5, "liver"},
      {"vertebrae_C1", 41, 50, "vertebrae"},
      {"heart_myocardium", 44, 0, "heart"},
      {"face", 93, 0, "face"},
      {"brain", 50, 90, "brain"},
      {"iliac_artery_left", 51, 65, "vessels"},
      {"thyroid_gland", 0, 17, ""},
  };
  for (const auto& c : cases) {
    const ClassInfo& info = cat.at(c.name);
    EXPECT_EQ(info.v1_id, c.v1) << c.name;
    EXPECT_EQ(info.v2_id, c.v2) << c.name;
    EXPECT_EQ(info.coarse, c.coarse) << c.name;
    if (c.v1 != 0) {
      EXPECT_EQ(cat.by_id(LabelVersion::kV1, c.v1), &info) << c.name;
    }
    if (c.v2 != 0) {
      EXPECT_EQ(cat.by_id(LabelVersion::kV2, c.v2), &info) << c.name;
    }
  }
  EXPECT_EQ(cat.by_id(LabelVersion::kV1, 105), nullptr);
  EXPECT_EQ(cat.by_id(LabelVersion::kV2, 0), nullptr);
}

TEST(Catalog, UnknownNameSuggestsCloseOnes) {
  try {
    (void)ClassCatalog::builtin().at("livr");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("liver"), std::string::npos) << e.what();
  }
}

TEST(Catalog, BadTablesAreRejectedWithTheLine) {
  const std::string v2 = "v2_id,name,in_v1\n1,a,yes\n";
  struct Case {
    const char* name;
    std::string v1;
    const char* phrase;
  };
  const Case cases[] = {
      {"missing column", "v1_id,v2_id,name,category\n1,1,a,organ\n", "missing column 'coarse_region'"},
      {"bad id", "v1_id,v2_id,name,category,coarse_region\nx,1,a,organ,a\n", ":2:"},
      {"gap in ids", "v1_id,v2_id,name,category,coarse_region\n2,1,a,organ,a\n", "without gaps"},
      {"duplicate name", "v1_id,v2_id,name,category,coarse_region\n1,1,a,organ,a\n2,,a,organ,a\n", "duplicate"},
      {"short row", "v1_id,v2_id,name,category,coarse_region\n1,1,a,organ\n", "4 fields, expected 5"},
      {"v2 id disagrees", "v1_id,v2_id,name,category,coarse_region\n1,2,a,organ,a\n", "v2 id 1"},
  };
  for (const auto& c : cases) {
    try {
      (void)ClassCatalog::from_csv(c.v1, v2);
      ADD_FAILURE() << c.name << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << c.name;
      EXPECT_NE(std::string(e.what()).find(c.phrase), std::string::npos) << c.name << ": " << e.what();
    }
  }
}

}  // namespace
}  // namespace voxir
