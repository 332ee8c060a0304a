// The framing check run before GDCM: hand-built byte streams for the encodings the real samples
// do not cover (undefined-length sequences and items, implicit VR, big endian), sound and broken.
#include "io/dicom_structure.h"
#include "voxir/error.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace voxir::io {
namespace {

constexpr std::uint32_t kUndefined = 0xffffffffu;

struct Bytes {
  std::vector<std::uint8_t> b;
  bool big = false;
  void u16(std::uint32_t v) {
    const auto lo = static_cast<std::uint8_t>(v & 0xff);
    const auto hi = static_cast<std::uint8_t>((v >> 8) & 0xff);
    if (big) {
      b.push_back(hi);
      b.push_back(lo);
    } else {
      b.push_back(lo);
      b.push_back(hi);
    }
  }
  void u32(std::uint32_t v) {
    if (big) {
      u16(v >> 16);
      u16(v & 0xffff);
    } else {
      u16(v & 0xffff);
      u16(v >> 16);
    }
  }
  void str(const std::string& s) { b.insert(b.end(), s.begin(), s.end()); }
  void tag(std::uint32_t group, std::uint32_t element) {
    u16(group);
    u16(element);
  }
  // Explicit VR element with a short (16-bit) length.
  void shortel(std::uint32_t g, std::uint32_t e, const char* vr, const std::string& value) {
    tag(g, e);
    str(vr);
    u16(static_cast<std::uint32_t>(value.size()));
    str(value);
  }
  // Explicit VR element header with a long (32-bit) length.
  void longhead(std::uint32_t g, std::uint32_t e, const char* vr, std::uint32_t len) {
    tag(g, e);
    str(vr);
    u16(0);
    u32(len);
  }
  void implicit_head(std::uint32_t g, std::uint32_t e, std::uint32_t len) {
    tag(g, e);
    u32(len);
  }
  void item(std::uint32_t len) { implicit_head(0xfffe, 0xe000, len); }
  void item_end() { implicit_head(0xfffe, 0xe00d, 0); }
  void seq_end() { implicit_head(0xfffe, 0xe0dd, 0); }
};

// A Part-10 file: preamble, DICM, File Meta Information (explicit LE), then `body`.
std::vector<std::uint8_t> part10(const std::string& ts, const std::function<void(Bytes&)>& body,
                                 bool big = false) {
  Bytes meta;
  std::string uid = ts;
  if (uid.size() % 2 != 0) uid.push_back('\0');
  meta.shortel(0x0002, 0x0010, "UI", uid);
  Bytes f;
  f.b.assign(128, 0);
  f.str("DICM");
  f.tag(0x0002, 0x0000);
  f.str("UL");
  f.u16(4);
  f.u32(static_cast<std::uint32_t>(meta.b.size()));
  f.b.insert(f.b.end(), meta.b.begin(), meta.b.end());
  f.big = big;
  body(f);
  return f.b;
}

const std::string kExplicit = "1.2.840.10008.1.2.1";
const std::string kImplicit = "1.2.840.10008.1.2";

void explicit_body_with_nested_sequences(Bytes& f) {
  f.shortel(0x0008, 0x0060, "CS", "CT");
  f.longhead(0x0008, 0x1140, "SQ", kUndefined);  // undefined-length sequence
  f.item(kUndefined);                            // undefined-length item
  f.shortel(0x0008, 0x1150, "UI", "1.2");
  f.item_end();
  f.item(12);  // defined-length item holding one element
  f.shortel(0x0008, 0x1155, "UI", "1.23");
  f.seq_end();
  f.longhead(0x0009, 0x1001, "UN", kUndefined);  // UN of undefined length: implicit VR inside
  f.item(kUndefined);
  f.implicit_head(0x0009, 0x1002, 2);
  f.str("ab");
  f.item_end();
  f.seq_end();
  f.longhead(0x7fe0, 0x0010, "OW", 8);
  f.str("01234567");
}

TEST(DicomStructure, SoundFramingPasses) {
  const auto nested = part10(kExplicit, explicit_body_with_nested_sequences);
  const DicomStructure s = check_dicom_structure(nested, "nested.dcm");
  EXPECT_EQ(s.transfer_syntax, kExplicit);
  EXPECT_TRUE(s.has_pixel_data);
  EXPECT_FALSE(s.encapsulated);
  EXPECT_EQ(s.native_pixel_bytes, 8u);

  const auto implicit = part10(kImplicit, [](Bytes& f) {
    f.implicit_head(0x0008, 0x0060, 2);
    f.str("CT");
    f.implicit_head(0x0008, 0x1140, kUndefined);  // a sequence, told only by its length
    f.item(10);
    f.implicit_head(0x0008, 0x1150, 2);
    f.str("12");
    f.seq_end();
    f.implicit_head(0x7fe0, 0x0010, 4);
    f.str("abcd");
  });
  EXPECT_EQ(check_dicom_structure(implicit, "implicit.dcm").native_pixel_bytes, 4u);

  const auto encapsulated = part10("1.2.840.10008.1.2.4.90", [](Bytes& f) {
    f.shortel(0x0008, 0x0060, "CS", "CT");
    f.longhead(0x7fe0, 0x0010, "OB", kUndefined);
    f.item(0);  // empty basic offset table
    f.item(4);
    f.str("j2k!");
    f.seq_end();
  });
  const DicomStructure e = check_dicom_structure(encapsulated, "j2k.dcm");
  EXPECT_TRUE(e.has_pixel_data);
  EXPECT_TRUE(e.encapsulated);

  const auto big = part10(
      "1.2.840.10008.1.2.2",
      [](Bytes& f) {
        f.shortel(0x0028, 0x0010, "US", std::string("\x02\x00", 2));
        f.longhead(0x7fe0, 0x0010, "OW", 2);
        f.str("xy");
      },
      /*big=*/true);
  EXPECT_EQ(check_dicom_structure(big, "big.dcm").native_pixel_bytes, 2u);

  const auto no_pixels = part10(kExplicit, [](Bytes& f) { f.shortel(0x0008, 0x0060, "CS", "SR"); });
  EXPECT_FALSE(check_dicom_structure(no_pixels, "sr.dcm").has_pixel_data);
}

TEST(DicomStructure, BrokenFramingIsReportedWithTheFileName) {
  struct Case {
    const char* name;
    std::vector<std::uint8_t> bytes;
    const char* phrase;
  };
  auto cut = [](std::vector<std::uint8_t> b, std::size_t drop) {
    b.resize(b.size() - drop);
    return b;
  };
  const auto nested = part10(kExplicit, explicit_body_with_nested_sequences);
  const Case cases[] = {
      {"native pixel data cut", cut(nested, 3), "declares 8 bytes but only 5 remain"},
      {"sequence never closed",
       part10(kExplicit,
              [](Bytes& f) {
                f.longhead(0x0008, 0x1140, "SQ", kUndefined);
                f.item(kUndefined);
                f.shortel(0x0008, 0x1150, "UI", "1.2");
              }),
       "truncated"},
      {"fragments never closed",
       part10("1.2.840.10008.1.2.4.90",
              [](Bytes& f) {
                f.longhead(0x7fe0, 0x0010, "OB", kUndefined);
                f.item(0);
                f.item(4);
                f.str("j2k!");
              }),
       "pixel data fragment"},
      {"fragment past the end",
       part10("1.2.840.10008.1.2.4.90",
              [](Bytes& f) {
                f.longhead(0x7fe0, 0x0010, "OB", kUndefined);
                f.item(400);
                f.str("j2k!");
              }),
       "declares 400 bytes"},
      {"item past its sequence",
       part10(kExplicit,
              [](Bytes& f) {
                f.longhead(0x0008, 0x1140, "SQ", 8);
                f.item(100);
              }),
       "past the end of its sequence"},
      {"undefined length on a plain element",
       part10(kExplicit, [](Bytes& f) { f.longhead(0x0010, 0x4000, "UT", kUndefined); }),
       "not a sequence"},
      {"meta element past the end", cut(part10(kExplicit, [](Bytes&) {}), 4),
       "File Meta Information"},
      {"no meta after DICM",
       [] {
         std::vector<std::uint8_t> b(128, 0);
         for (char c : std::string("DICM")) b.push_back(static_cast<std::uint8_t>(c));
         for (int i = 0; i < 16; ++i) b.push_back(0x08);
         return b;
       }(),
       "no File Meta Information"},
  };
  for (const auto& c : cases) {
    try {
      (void)check_dicom_structure(c.bytes, "broken.dcm");
      ADD_FAILURE() << c.name << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << c.name;
      EXPECT_NE(std::string(e.what()).find("broken.dcm"), std::string::npos)
          << c.name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(c.phrase), std::string::npos)
          << c.name << ": " << e.what();
    }
  }
}

}  // namespace
}  // namespace voxir::io
