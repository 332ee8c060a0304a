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
      {"Flat", "Flat"},
      {"HNSW32", "HNSW32,efc200,ef64"},
      {"HNSW16,ef100", "HNSW16,efc200,ef100"},
      {"HNSW48,efc400,ef128", "HNSW48,efc400,ef128"},
      {"IVF256,PQ16", "IVF256,PQ16,nprobe16,refine50"},
      {"IVF1024,PQ48,nprobe8,refine1", "IVF1024,PQ48,nprobe8,refine1"},
      {" IVF64 , PQ8 , refine4", "IVF64,PQ8,nprobe16,refine4"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    const IndexSpec spec = IndexSpec::parse(c.input);
    EXPECT_EQ(spec.str(), c.canonical);
    EXPECT_EQ(IndexSpec::parse(spec.str()), spec);
  }
  EXPECT_EQ(IndexSpec::parse("HNSW24").hnsw_m, 24);
  EXPECT_EQ(IndexSpec::parse("IVF100,PQ4,nprobe7").nprobe, 7);
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
  EXPECT_THROW(IndexSpec::parse("IVF16,PQ4,nprobe32").validate(64), Error);
  EXPECT_THROW(IndexSpec::parse("Flat").validate(0), Error);
}

}  // namespace
}  // namespace voxir
