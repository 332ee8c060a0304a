#include "testutil/shared_data.h"
#include "testutil/temp_dir.h"
#include "util/file.h"
#include "voxir/dataset.h"
#include "voxir/error.h"

#include <gtest/gtest.h>

namespace voxir {
namespace {

void write_text(const std::filesystem::path& p, const std::string& s) {
  std::filesystem::create_directories(p.parent_path());
  write_file_atomic(p, std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()), false);
}

void touch_ct(const testing::TempDir& d, const char* id) { write_text(d / id / "ct.nii.gz", "x"); }

TEST(Dataset, ReadsSemicolonAndCommaMetaWithExtraColumns) {
  for (const char* meta : {"image_id;age;gender;institute;study_type;split;extra\ns1;50;f;A;ct;train;x\n"
                           "s2;;;;;test;\r\ns3;1;m;B;ct;val;\"q;uoted\"\n",
                           "\xEF\xBB\xBFsplit,image_id\ntrain,s1\n\ntest,s2\nval,s3\n"}) {
    testing::TempDir d;
    for (const char* id : {"s1", "s2", "s3"}) touch_ct(d, id);
    write_text(d / "meta.csv", meta);
    const Dataset ds = Dataset::open(d.path());
    ASSERT_EQ(ds.subjects().size(), 3U) << meta;
    EXPECT_EQ(ds.split("train").size(), 1U);
    EXPECT_EQ(ds.split("test")[0]->id, "s2");
    EXPECT_EQ(ds.find("s3")->split, "val");
    EXPECT_EQ(ds.find("s1")->ct, d / "s1" / "ct.nii.gz");
    EXPECT_EQ(ds.find("nope"), nullptr);
  }
  testing::TempDir d;
  for (const char* id : {"s1", "s2", "s3"}) touch_ct(d, id);
  write_text(d / "meta.csv", "image_id;split;extra\ns1;train;a\ns2;test;\"q;uoted\"\ns3;val;\n");
  const Dataset ds = Dataset::open(d.path());
  EXPECT_EQ(ds.find("s2")->meta.at("extra"), "q;uoted");
}

TEST(Dataset, BadLayoutsAreNamed) {
  struct Case {
    const char* name;
    const char* meta;  // nullptr: no meta.csv
    ErrorKind kind;
    const char* phrase;
  };
  const Case cases[] = {
      {"no meta.csv", nullptr, ErrorKind::kNotFound, "missing meta.csv"},
      {"no split column", "image_id;age\ns1;3\n", ErrorKind::kInvalidInput, "lacks 'split'"},
      {"duplicate id", "image_id;split\ns1;train\ns1;test\n", ErrorKind::kInvalidInput, "meta.csv:3: duplicate"},
      {"missing ct", "image_id;split\ns1;train\ns9;test\n", ErrorKind::kNotFound, "s9"},
      {"ragged row", "image_id;split\ns1;train;x\n", ErrorKind::kInvalidInput, "meta.csv:2: 3 fields"},
      {"path in id", "image_id;split\n../s1;train\n", ErrorKind::kInvalidInput, "not a valid folder name"},
  };
  for (const auto& c : cases) {
    testing::TempDir d;
    touch_ct(d, "s1");
    if (c.meta != nullptr) write_text(d / "meta.csv", c.meta);
    try {
      (void)Dataset::open(d.path());
      ADD_FAILURE() << c.name << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), c.kind) << c.name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(c.phrase), std::string::npos) << c.name << ": " << e.what();
    }
  }
}

TEST(Dataset, RealTsMini) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const Dataset ds = Dataset::open(data / "ct/ts-mini");
  ASSERT_EQ(ds.subjects().size(), 1U);
  EXPECT_EQ(ds.subjects()[0].id, "s0001");
  EXPECT_EQ(ds.subjects()[0].split, "train");
  EXPECT_TRUE(std::filesystem::is_directory(ds.subjects()[0].segmentations));
  EXPECT_EQ(ds.subjects()[0].meta.count("institute"), 1U);
}

}  // namespace
}  // namespace voxir
