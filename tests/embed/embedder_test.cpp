#include "embed/model_sidecar.h"
#include "embed/tissue_embedder.h"
#include "testutil/temp_dir.h"
#include "voxir/embed.h"
#include "voxir/error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace voxir {
namespace {

// A trunk-like phantom: an ellipse of soft tissue with a fat rim and a bone disc, lungs on the
// upper slices, a table under it; 2 mm pixels.
Volume phantom(std::int64_t nz) {
  const std::int64_t n = 128;
  std::vector<float> hu(static_cast<std::size_t>(n * n * nz), -1000.0f);
  for (std::int64_t k = 0; k < nz; ++k) {
    for (std::int64_t j = 0; j < n; ++j) {
      for (std::int64_t i = 0; i < n; ++i) {
        const double x = (static_cast<double>(i) - 64) / 70, y = (static_cast<double>(j) - 64) / 50;
        float v = -1000;
        const double r = x * x + y * y;
        if (r < 1) {
          v = r > 0.8 ? -100.0f : 40.0f;
          if (std::hypot(x, y + 0.6) < 0.15) v = 700;
          if (k >= nz / 2 && std::abs(std::abs(x) - 0.45) < 0.25 && std::abs(y) < 0.5) v = -850;
        }
        if (j < 6) v = 100;  // table, below the body with an air gap
        hu[static_cast<std::size_t>(i + n * (j + n * k))] = v;
      }
    }
  }
  const Affine a{{{2, 0, 0, 0}, {0, 2, 0, 0}, {0, 0, 3, 0}, {0, 0, 0, 1}}};
  return Volume({n, n, nz}, {2, 2, 3}, a, std::move(hu), "RAS");
}

ErrorKind kind_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no error";
  return ErrorKind::kInternal;
}

TEST(EmbedderSpec, RoundTrips) {
  struct Case {
    const char* in;
    const char* canonical;
  };
  const Case cases[] = {
      {"builtin", "builtin:tissue"},
      {"builtin:tissue", "builtin:tissue"},
      {"builtin:tissue,cell=20", "builtin:tissue,cell=20"},
      {"builtin:tissue,box=20,cell=20", "builtin:tissue,cell=20,box=20"},
      {"builtin:tissue,center=0,grid=3,open=1", "builtin:tissue,grid=3,open=1,center=0"},
      {"builtin:tissue,cell=15", "builtin:tissue"},
  };
  for (const auto& c : cases) {
    const auto e = make_embedder(c.in);
    EXPECT_EQ(e->spec(), c.canonical) << c.in;
    const auto again = make_embedder(e->spec());
    EXPECT_EQ(again->spec(), e->spec()) << c.in;
    EXPECT_EQ(again->fingerprint(), e->fingerprint()) << c.in;
    EXPECT_EQ(again->dim(), e->dim()) << c.in;
  }
  EXPECT_NE(make_embedder("builtin")->fingerprint(),
            make_embedder("builtin:tissue,cell=20")->fingerprint());
  EXPECT_EQ(make_embedder("builtin")->dim(), 4 * 24 * 24);
  EXPECT_EQ(make_embedder("builtin:tissue,cell=20")->dim(), 4 * 18 * 18);
}

TEST(EmbedderSpec, BadSpecsGiveClearErrors) {
  struct Case {
    const char* spec;
    ErrorKind kind;
    const char* says;
  };
  const Case cases[] = {
      {"", ErrorKind::kUsage, "unknown kind"},
      {"resnet", ErrorKind::kUsage, "unknown kind 'resnet'"},
      {"builtin:nope", ErrorKind::kUsage, "unknown built-in embedder 'nope'"},
      {"builtin:tissue,", ErrorKind::kUsage, "empty parameter list"},
      {"builtin:tissue,cell=abc", ErrorKind::kUsage, "cell=abc is not a number"},
      {"builtin:tissue,zoom=2", ErrorKind::kUsage, "unknown parameter 'zoom'"},
      {"builtin:tissue,cell", ErrorKind::kUsage, "not key=value"},
      {"builtin:tissue,cell=1", ErrorKind::kUsage, "cell=1"},
      {"builtin:tissue,center=2", ErrorKind::kUsage, "expected 0 or 1"},
      {"torchscript:", ErrorKind::kUsage, "expected torchscript:<model file>"},
  };
  for (const auto& c : cases) {
    try {
      (void)make_embedder(c.spec);
      ADD_FAILURE() << c.spec << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), c.kind) << c.spec << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos)
          << c.spec << ": " << e.what();
    }
  }
}

TEST(EmbedderSpec, MissingModelFileIsNotFoundOrUnsupported) {
  try {
    (void)make_embedder("torchscript:/nonexistent/model.pt");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(e.kind() == ErrorKind::kNotFound || e.kind() == ErrorKind::kUnsupported)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.pt"), std::string::npos) << e.what();
  }
}

TEST(Sidecar, ParsesAndRejectsWithTheFieldNamed) {
  const char* good =
      R"({"format": "voxir-model/1", "name": "m", "input": {"width": 32, "height": 32, "channels": 3},
    "windows": [[-1000, 1000]], "mean": [0.5], "std": [0.25], "output": {"dim": 24, "pooling": "mean"}})";
  const auto s = embed::parse_sidecar(good, "m.json");
  EXPECT_EQ(s.output_dim, 24);
  EXPECT_EQ(s.pooling, embed::Pooling::kMean);
  EXPECT_EQ(s.preprocessing.input_width, 32);
  struct Case {
    const char* json;
    const char* says;
  };
  const Case bad[] = {
      {"{", "not valid JSON"},
      {R"({"format": "other"})", "\"format\""},
      {R"({"format": "voxir-model/1", "output": {"dim": 3}})", "\"input\""},
      {R"({"format": "voxir-model/1", "input": {"width": 32, "height": 32, "channels": 3}, "mean": [0], "std": [1], "output": {"dim": 0}})",
       "output.dim"},
      {R"({"format": "voxir-model/1", "input": {"width": 32, "height": 32, "channels": 3}, "mean": [0], "std": [1], "output": {"dim": 4, "pooling": "max"}})",
       "pooling"},
      {R"({"format": "voxir-model/1", "input": {"width": 32, "height": 32, "channels": 3}, "mean": [0, 1], "std": [1], "output": {"dim": 4}})",
       "mean"},
      {R"({"format": "voxir-model/1", "input": {"width": "x", "height": 32, "channels": 3}, "mean": [0], "std": [1], "output": {"dim": 4}})",
       "input.width"},
  };
  for (const auto& c : bad) {
    try {
      (void)embed::parse_sidecar(c.json, "m.json");
      ADD_FAILURE() << c.json << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << c.json;
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("m.json"), std::string::npos) << e.what();
    }
  }
}

TEST(TissueEmbedder, UnitVectorsThreadCountIndependent) {
  const Volume v = phantom(8);
  const auto one = make_embedder("builtin", {.threads = 1});
  const auto two = make_embedder("builtin", {.threads = 2});
  const auto a = one->embed_all(v);
  const auto b = two->embed_all(v);
  ASSERT_EQ(a.size(), static_cast<std::size_t>(8 * one->dim()));
  EXPECT_EQ(a, b);
  const auto d = static_cast<std::size_t>(one->dim());
  for (std::size_t k = 0; k < 8; ++k) {
    double norm = 0;
    for (std::size_t j = 0; j < d; ++j) norm += a[k * d + j] * a[k * d + j];
    EXPECT_NEAR(norm, 1.0, 1e-4) << "slice " << k;
  }
  // Lower slices (no lungs) are alike, and unlike the upper ones.
  const auto dot = [&](std::size_t p, std::size_t q) {
    double s = 0;
    for (std::size_t j = 0; j < d; ++j) s += a[p * d + j] * a[q * d + j];
    return s;
  };
  EXPECT_GT(dot(0, 1), 0.99);
  EXPECT_LT(dot(0, 7), dot(0, 1) - 0.1);
  // A sub-range equals the same rows of the whole.
  std::vector<float> part(static_cast<std::size_t>(3) * d);
  one->embed(v, 4, 7, part);
  EXPECT_TRUE(std::equal(part.begin(), part.end(), a.begin() + static_cast<std::ptrdiff_t>(4 * d)));
  EXPECT_EQ(kind_of([&] { one->embed(v, 5, 9, part); }), ErrorKind::kUsage);
  EXPECT_EQ(kind_of([&] { one->embed(v, 0, 2, part); }), ErrorKind::kUsage);
}

TEST(TissueEmbedder, AirOnlySliceGivesAFixedUnitVector) {
  std::vector<float> hu(static_cast<std::size_t>(32 * 32 * 2), -1000.0f);
  const Affine a{{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}};
  const Volume v({32, 32, 2}, {1, 1, 1}, a, std::move(hu), "RAS");
  const auto e = make_embedder("builtin");
  const auto out = e->embed_all(v);
  double norm = 0;
  for (std::size_t j = 0; j < static_cast<std::size_t>(e->dim()); ++j) norm += out[j] * out[j];
  EXPECT_NEAR(norm, 1.0, 1e-4);
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + e->dim(), out.begin() + e->dim()));
}

}  // namespace
}  // namespace voxir
