// The .npy reader: every accepted dtype and version, and a must-fail list of broken files.
#include "voxir/npy.h"
#include "testutil/npy_files.h"
#include "testutil/temp_dir.h"
#include "voxir/error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace voxir {
namespace {

using testing::RawNpy;

NpyArray parse(const RawNpy& raw) {
  const auto bytes = testing::npy_bytes(raw);
  return parse_npy(bytes, "test.npy");
}

template <typename T>
std::vector<std::uint8_t> bytes_of(const std::vector<T>& values) {
  std::vector<std::uint8_t> out(values.size() * sizeof(T));
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

TEST(Npy, ReadsFloat32InCOrderInEveryVersion) {
  const std::vector<float> values = {1, 2, 3, 4, 5, -6.5f};
  for (const int version : {1, 2, 3}) {
    RawNpy raw = testing::npy_f32(values, {2, 3});
    raw.version = version;
    const NpyArray a = parse(raw);
    EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3})) << "version " << version;
    EXPECT_EQ(a.dtype, NpyType::kFloat32);
    EXPECT_EQ(a.floats, values) << "version " << version;
    EXPECT_TRUE(a.ints.empty());
    EXPECT_EQ(a.size(), 6);
  }
}

TEST(Npy, WidensFloat16IncludingSubnormalsAndInfinity) {
  // 1, -2, largest finite, smallest subnormal (2^-24), +inf, -0, 0.333 (rounded to half)
  const std::vector<std::uint16_t> halves = {0x3c00, 0xc000, 0x7bff, 0x0001,
                                             0x7c00, 0x8000, 0x3555};
  const NpyArray a = parse({.descr = "<f2", .shape = {7}, .data = bytes_of(halves)});
  ASSERT_EQ(a.floats.size(), 7u);
  EXPECT_EQ(a.dtype, NpyType::kFloat16);
  EXPECT_EQ(a.floats[0], 1.0f);
  EXPECT_EQ(a.floats[1], -2.0f);
  EXPECT_EQ(a.floats[2], 65504.0f);
  EXPECT_EQ(a.floats[3], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(a.floats[4]) && a.floats[4] > 0);
  EXPECT_TRUE(a.floats[5] == 0.0f && std::signbit(a.floats[5]));
  EXPECT_NEAR(a.floats[6], 1.0 / 3.0, 1e-3);
  const std::vector<std::uint16_t> nan = {0x7e00};
  EXPECT_TRUE(std::isnan(parse({.descr = "<f2", .shape = {1}, .data = bytes_of(nan)}).floats[0]));
}

TEST(Npy, WidensIntegers) {
  const std::vector<std::int32_t> i32 = {-3, 0, std::numeric_limits<std::int32_t>::max()};
  const NpyArray a = parse(testing::npy_i32(i32));
  EXPECT_EQ(a.dtype, NpyType::kInt32);
  EXPECT_EQ(a.ints, (std::vector<std::int64_t>{-3, 0, std::numeric_limits<std::int32_t>::max()}));
  const std::vector<std::int64_t> i64 = {std::int64_t{1} << 40, -1};
  const NpyArray b = parse(testing::npy_i64(i64));
  EXPECT_EQ(b.dtype, NpyType::kInt64);
  EXPECT_EQ(b.ints, i64);
  EXPECT_TRUE(b.floats.empty());
}

TEST(Npy, AcceptsTheHeaderSpellingsNumpyWrites) {
  const std::vector<float> one = {7};
  const struct {
    const char* header;
    std::vector<std::int64_t> shape;
  } cases[] = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", {1}},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)}", {1, 1}},
      {"{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1, 1, 1,)}", {1, 1, 1}},
      {"{'shape': (), 'fortran_order': False, 'descr': '<f4'}", {}},  // a scalar, keys reordered
      {"{'descr':'<f4','fortran_order':False,'shape':(1L,)}", {1}},   // Python 2
  };
  for (const auto& c : cases) {
    const NpyArray a = parse({.data = bytes_of(one), .header = c.header});
    EXPECT_EQ(a.shape, c.shape) << c.header;
    EXPECT_EQ(a.floats, one) << c.header;
  }
  const NpyArray empty = parse({.descr = "<f4", .shape = {0, 4}});
  EXPECT_EQ(empty.size(), 0);
}

TEST(Npy, ReadsAFileAndNamesAMissingOne) {
  testing::TempDir tmp;
  const std::vector<float> values = {1, 2};
  testing::write_npy(tmp / "a.npy", testing::npy_f32(values, {1, 2}));
  EXPECT_EQ(read_npy(tmp / "a.npy").floats, values);
  try {
    (void)read_npy(tmp / "missing.npy");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("missing.npy"), std::string::npos) << e.what();
  }
}

std::vector<std::uint8_t> with_tail(RawNpy raw, std::size_t keep_bytes) {
  auto bytes = testing::npy_bytes(raw);
  bytes.resize(keep_bytes);
  return bytes;
}

TEST(Npy, MustFailWithKindAndMessage) {
  const std::vector<float> six(6, 1.0f);
  const auto f32 = [&](std::string header) {
    return testing::npy_bytes({.data = bytes_of(six), .header = std::move(header)});
  };
  const auto good = testing::npy_f32(six, {2, 3});
  auto npz = testing::npy_bytes(good);
  npz[0] = 'P';
  npz[1] = 'K';
  auto version4 = testing::npy_bytes(good);
  version4[6] = 4;
  auto huge_header = testing::npy_bytes({.descr = "<f4", .shape = {2, 3}, .version = 2});
  huge_header[8] = 0xff;
  huge_header[9] = 0xff;
  huge_header[10] = 0xff;
  huge_header[11] = 0x7f;
  RawNpy short_data = good;
  short_data.data.resize(20);
  RawNpy long_data = good;
  long_data.data.resize(28);

  const struct {
    const char* what;
    std::vector<std::uint8_t> bytes;
    ErrorKind kind;
    const char* says;
  } cases[] = {
      {"empty file", {}, ErrorKind::kInvalidInput, "not a .npy file"},
      {"other magic",
       {'h', 'e', 'l', 'l', 'o', '!', '!', '!', '!', '!'},
       ErrorKind::kInvalidInput,
       "\\x93NUMPY"},
      {"npz archive", npz, ErrorKind::kInvalidInput, ".npz"},
      {"version 4", version4, ErrorKind::kUnsupported, "version 4.0"},
      {"cut in the preamble", with_tail(good, 9), ErrorKind::kInvalidInput, "preamble"},
      {"header longer than the file", huge_header, ErrorKind::kInvalidInput, "header claims"},
      {"cut in the header", with_tail(good, 40), ErrorKind::kInvalidInput, "header claims"},
      {"Fortran order", f32("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }"),
       ErrorKind::kUnsupported, "Fortran"},
      {"big-endian", f32("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }"),
       ErrorKind::kUnsupported, "big-endian"},
      {"float64", f32("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"),
       ErrorKind::kUnsupported, "'<f8'"},
      {"uint8", f32("{'descr': '|u1', 'fortran_order': False, 'shape': (24,), }"),
       ErrorKind::kUnsupported, "expected '<f4', '<f2', '<i4' or '<i8'"},
      {"object array", f32("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }"),
       ErrorKind::kUnsupported, "object"},
      {"structured dtype",
       f32("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }"),
       ErrorKind::kUnsupported, "structured"},
      {"truncated data", testing::npy_bytes(short_data), ErrorKind::kInvalidInput,
       "needs more than the 20 data bytes"},
      {"data beyond the shape", testing::npy_bytes(long_data), ErrorKind::kInvalidInput,
       "holds 28 data bytes"},
      {"shape product overflows",
       f32("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"),
       ErrorKind::kInvalidInput, "needs more than the 24 data bytes"},
      {"shape exceeds the file",
       f32("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000000,), }"),
       ErrorKind::kInvalidInput, "needs more than"},
      {"dimension beyond int64",
       f32("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }"),
       ErrorKind::kInvalidInput, "too large"},
      {"negative dimension", f32("{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }"),
       ErrorKind::kInvalidInput, "non-negative"},
      {"33 dimensions",
       f32("{'descr': '<f4', 'fortran_order': False, 'shape': "
           "(1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,6), }"),
       ErrorKind::kInvalidInput, "more than 32 dimensions"},
      {"missing shape", f32("{'descr': '<f4', 'fortran_order': False, }"), ErrorKind::kInvalidInput,
       "missing key 'shape'"},
      {"unknown key", f32("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}"),
       ErrorKind::kInvalidInput, "unknown key 'x'"},
      {"one-tuple without comma", f32("{'descr': '<f4', 'fortran_order': False, 'shape': (6)}"),
       ErrorKind::kInvalidInput, "trailing comma"},
      {"text after the dict", f32("{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} junk"),
       ErrorKind::kInvalidInput, "after the closing brace"},
      {"not a dict", f32("descr=<f4"), ErrorKind::kInvalidInput, "expected '{'"},
      {"unterminated string", f32("{'descr"), ErrorKind::kInvalidInput, "unterminated"},
      {"fortran_order not a bool", f32("{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}"),
       ErrorKind::kInvalidInput, "True or False"},
  };
  for (const auto& c : cases) {
    try {
      (void)parse_npy(c.bytes, "bad.npy");
      ADD_FAILURE() << c.what << ": parsed";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_EQ(e.kind(), c.kind) << c.what << ": " << message;
      EXPECT_EQ(message.rfind("bad.npy: ", 0), 0u) << c.what << ": " << message;
      EXPECT_NE(message.find(c.says), std::string::npos) << c.what << ": " << message;
    }
  }
}

}  // namespace
}  // namespace voxir
