// Index spec strings: string -> spec -> string, and inputs that must be refused.
#include "voxir/error.h"
#include "voxir/index.h"

#include <gtest/gtest.h>

namespace voxir {
namespace {

struct RoundTrip {
  const char* input;
  const char* canonical;
};

TEST(IndexSpec, ParsesAndRoundTrips) {
  const RoundTrip cases[] = {
      {"faiss:Flat", "faiss:Flat"},
      {"hnswlib:M32", "hnswlib:M32,efc200"},
      {"hnswlib:M48,efc400", "hnswlib:M48,efc400"},
      {"faiss:IVF256,PQ16", "faiss:IVF256,PQ16"},
      {"faiss: IVF64 , PQ8 ", "faiss:IVF64,PQ8"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    std::vector<std::string> notes;
    const IndexSpec spec = IndexSpec::parse(c.input, &notes);
    EXPECT_EQ(spec.str(), c.canonical);
    EXPECT_EQ(IndexSpec::parse(spec.str()), spec);
    EXPECT_TRUE(notes.empty());
  }
  EXPECT_EQ(IndexSpec::parse("hnswlib:M24").hnsw_m, 24);
  EXPECT_EQ(IndexSpec::parse("faiss:IVF100,PQ4").ivf_lists, 100);
}

// Round-1 names still open old indexes and old scripts; their query knobs are dropped, with a note.
TEST(IndexSpec, RoundOneNamesStillParseWithANote) {
  const struct {
    const char* input;
    const char* canonical;
    const char* dropped;  // "" when nothing was dropped
  } cases[] = {
      {"Flat", "faiss:Flat", ""},
      {"HNSW32", "hnswlib:M32,efc200", ""},
      {"HNSW16,ef100", "hnswlib:M16,efc200", "ef100 ignored"},
      {"HNSW48,efc400,ef128", "hnswlib:M48,efc400", "ef128 ignored"},
      {"IVF1024,PQ48,nprobe8,refine1", "faiss:IVF1024,PQ48", "nprobe8, refine1 ignored"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    std::vector<std::string> notes;
    EXPECT_EQ(IndexSpec::parse(c.input, &notes).str(), c.canonical);
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find(c.canonical), std::string::npos) << notes[0];
    EXPECT_EQ(notes[0].find("ignored") != std::string::npos, *c.dropped != '\0') << notes[0];
    if (*c.dropped != '\0') {
      EXPECT_NE(notes[0].find(c.dropped), std::string::npos) << notes[0];
    }
  }
}

TEST(IndexSpec, QueryKnobsAreRefusedInNewSpecsAndCheckedPerQuery) {
  try {
    (void)IndexSpec::parse("hnswlib:M32,ef64");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("query-time knob"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(AnnParams{}.validate());
  EXPECT_THROW((AnnParams{.ef_search = 0}).validate(), Error);
  EXPECT_THROW((AnnParams{.nprobe = -1}).validate(), Error);
  EXPECT_THROW((AnnParams{.refine = 0}).validate(), Error);
}

TEST(IndexSpec, RefusesMalformedStrings) {
  const char* bad[] = {"",
                       "flat",
                       "HNSW",
                       "HNSW0",
                       "HNSWx",
                       "HNSW32,",
                       "HNSW32,foo",
                       "Flat,ef4",
                       "IVF10",
                       "IVF10,PQ",
                       "IVF10,PQ4,nprobe0",
                       "faiss:HNSW32",
                       "hnswlib:Flat",
                       "hnswlib:IVF10,PQ4",
                       "annoy:M16",
                       "faiss:Flat,nprobe4",
                       "IVF10,HNSW4",
                       "IVF-3,PQ4",
                       "LSH",
                       "HNSW32,ef64,efc10,x"};
  for (const char* spec : bad) {
    SCOPED_TRACE(spec);
    try {
      (void)IndexSpec::parse(spec);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage);
      EXPECT_NE(std::string(e.what()).find("index spec"), std::string::npos) << e.what();
    }
  }
}

TEST(IndexSpec, ValidatesAgainstDimension) {
  EXPECT_NO_THROW(IndexSpec::parse("IVF64,PQ48").validate(384));
  EXPECT_THROW(IndexSpec::parse("IVF64,PQ48").validate(100), Error);
  EXPECT_THROW(IndexSpec::parse("faiss:IVF16,PQ5").validate(64), Error);
  EXPECT_THROW(IndexSpec::parse("Flat").validate(0), Error);
}

}  // namespace
}  // namespace voxir
