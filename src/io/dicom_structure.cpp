#include "io/dicom_structure.h"

#include "voxir/error.h"

#include <array>
#include <string_view>

namespace voxir::io {
namespace {

constexpr std::uint32_t kUndefinedLength = 0xffffffffu;
constexpr std::uint16_t kItemGroup = 0xfffe;
constexpr std::uint16_t kItem = 0xe000;
constexpr std::uint16_t kItemDelimiter = 0xe00d;
constexpr std::uint16_t kSequenceDelimiter = 0xe0dd;
constexpr int kMaxDepth = 32;  // nested sequences deeper than this are not a real CT header

// VRs whose explicit encoding has 2 reserved bytes and a 32-bit length (PS3.5 7.1.2).
constexpr std::array<std::string_view, 13> kLongVrs{"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                                    "SV", "UC", "UN", "UR", "UT", "UV"};
constexpr std::array<std::string_view, 34> kAllVrs{
    "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT",
    "OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ", "SS", "ST",
    "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"};

bool in(std::string_view vr, auto const& list) {
  for (auto v : list)
    if (v == vr) return true;
  return false;
}

struct Tag {
  std::uint16_t group = 0;
  std::uint16_t element = 0;
};

class Walker {
 public:
  Walker(std::span<const std::uint8_t> bytes, const std::filesystem::path& path)
      : b_(bytes), path_(path) {}

  void set_encoding(bool explicit_vr, bool big_endian) {
    explicit_ = explicit_vr;
    big_ = big_endian;
  }

  // Reads the File Meta Information (always explicit VR little endian) from offset 132; returns
  // the offset of the data set and the transfer syntax.
  std::size_t meta(std::string* transfer_syntax) {
    std::size_t pos = 132;
    bool first = true;
    while (pos + 4 <= b_.size() && u16(pos) == 0x0002) {
      const Tag tag{u16(pos), u16(pos + 2)};
      need(pos, 8, "a File Meta Information element");
      const std::string_view vr(reinterpret_cast<const char*>(b_.data() + pos + 4), 2);
      if (!in(vr, kAllVrs))
        bad(pos, "File Meta Information element ({:04x},{:04x}) has no valid VR", tag.group,
            tag.element);
      std::uint64_t len = 0;
      std::size_t value = 0;
      if (in(vr, kLongVrs)) {
        need(pos, 12, "a File Meta Information element");
        len = u32(pos + 8);
        value = pos + 12;
      } else {
        len = u16(pos + 6);
        value = pos + 8;
      }
      if (vr == "SQ" || len == kUndefinedLength)
        bad(pos, "File Meta Information holds a sequence or an undefined length");
      need(value, len, "the value of a File Meta Information element");
      if (tag.element == 0x0010) {
        std::string_view ts(reinterpret_cast<const char*>(b_.data() + value),
                            static_cast<std::size_t>(len));
        while (!ts.empty() && (ts.back() == '\0' || ts.back() == ' ')) ts.remove_suffix(1);
        *transfer_syntax = std::string(ts);
      }
      first = false;
      pos = value + static_cast<std::size_t>(len);
    }
    if (first) bad(132, "no File Meta Information after the DICM magic");
    if (transfer_syntax->empty())
      bad(132, "File Meta Information has no Transfer Syntax UID (0002,0010)");
    return pos;
  }

  // Walks elements from `pos` to `end`; at depth > 0 inside an undefined-length item, stops after
  // the item delimiter and returns the offset following it.
  std::size_t elements(std::size_t pos, std::size_t end, int depth, bool until_item_end,
                       DicomStructure* out) {
    if (depth > kMaxDepth) bad(pos, "sequences nested deeper than {}", kMaxDepth);
    while (pos < end) {
      need(pos, 8, "an element header");
      if (pos + 8 > end) bad(pos, "an element header crosses the end of its item");
      const Tag tag{u16(pos), u16(pos + 2)};
      if (tag.group == kItemGroup) {
        if (tag.element == kItemDelimiter && until_item_end) return pos + 8;
        // A stray empty delimiter is framing noise that GDCM tolerates; anything else is not.
        if ((tag.element == kItemDelimiter || tag.element == kSequenceDelimiter) &&
            u32(pos + 4) == 0) {
          pos += 8;
          continue;
        }
        bad(pos, "unexpected ({:04x},{:04x}) among elements", tag.group, tag.element);
      }
      std::size_t value = 0;
      std::uint32_t len = 0;
      bool sequence = false;
      bool implicit_inside = !explicit_;
      const std::string_view vr(reinterpret_cast<const char*>(b_.data() + pos + 4), 2);
      if (explicit_ && in(vr, kAllVrs)) {
        if (in(vr, kLongVrs)) {
          need(pos, 12, "an element header");
          len = u32(pos + 8);
          value = pos + 12;
        } else {
          len = u16(pos + 6);
          value = pos + 8;
        }
        sequence = vr == "SQ";
        if (vr == "UN" && len == kUndefinedLength) {
          sequence = true;  // PS3.5 6.2.2: UN of undefined length is an implicit-VR sequence
          implicit_inside = true;
        }
      } else {
        // Implicit VR. In an explicit-VR data set an element without a valid VR, standard or
        // private, sends GDCM to its fallback parsers (implicit, then 16-bit lengths), which read
        // lengths other than the ones checked here: they asserted (fuzz finding 7) or allocated
        // 770 MB for a 1 KB file (finding 10, docs/fuzzing.md). Such a file is refused.
        if (explicit_) {
          bad(pos, "element ({:04x},{:04x}) has no valid VR in an explicit-VR data set", tag.group,
              tag.element);
        }
        len = u32(pos + 4);
        value = pos + 8;
        sequence = len == kUndefinedLength;
      }
      const bool pixel_data = depth == 0 && tag.group == 0x7fe0 && tag.element == 0x0010;
      if (pixel_data) out->has_pixel_data = true;
      if (len == kUndefinedLength) {
        if (pixel_data) {
          out->encapsulated = true;
          pos = fragments(value, end);
        } else if (sequence) {
          const bool saved = explicit_;
          explicit_ = !implicit_inside;
          pos = items(value, end, kUndefinedLength, depth + 1, out);
          explicit_ = saved;
        } else {
          bad(pos, "element ({:04x},{:04x}) has an undefined length but is not a sequence",
              tag.group, tag.element);
        }
        continue;
      }
      if (value + len > end) {
        bad(pos, "element ({:04x},{:04x}) declares {} bytes but only {} remain (truncated file?)",
            tag.group, tag.element, len, end > value ? end - value : 0);
      }
      if (pixel_data) out->native_pixel_bytes = len;
      if (sequence && len > 0) {
        const bool saved = explicit_;
        explicit_ = !implicit_inside;
        items(value, value + len, len, depth + 1, out);
        explicit_ = saved;
      }
      pos = value + len;
    }
    if (until_item_end) bad(pos, "an item is not closed by its delimiter (truncated file?)");
    return pos;
  }

 private:
  // Items of a sequence starting at `pos`; `length` is the sequence's defined length, or
  // undefined (then it ends at the sequence delimiter). Returns the offset after the sequence.
  std::size_t items(std::size_t pos, std::size_t end, std::uint32_t length, int depth,
                    DicomStructure* out) {
    const std::size_t stop = length == kUndefinedLength ? end : pos + length;
    while (pos < stop || length == kUndefinedLength) {
      need(pos, 8, "a sequence item");
      const Tag tag{u16(pos), u16(pos + 2)};
      const std::uint32_t len = u32(pos + 4);
      if (tag.group == kItemGroup && tag.element == kSequenceDelimiter) {
        if (length != kUndefinedLength)
          bad(pos, "a sequence delimiter inside a sequence of defined length");
        return pos + 8;
      }
      if (tag.group != kItemGroup || tag.element != kItem) {
        bad(pos, "expected a sequence item, found ({:04x},{:04x})", tag.group, tag.element);
      }
      if (len == kUndefinedLength) {
        pos = elements(pos + 8, stop, depth, /*until_item_end=*/true, out);
      } else {
        if (pos + 8 + len > stop)
          bad(pos,
              "a sequence item declares {} bytes past the end of its sequence (truncated file?)",
              len);
        elements(pos + 8, pos + 8 + len, depth, false, out);
        pos += 8 + len;
      }
    }
    return pos;
  }

  // Encapsulated pixel data: an offset table item, fragment items, then the sequence delimiter.
  std::size_t fragments(std::size_t pos, std::size_t end) {
    for (;;) {
      need(pos, 8, "a pixel data fragment (truncated file?)");
      const Tag tag{u16(pos), u16(pos + 2)};
      const std::uint32_t len = u32(pos + 4);
      if (tag.group == kItemGroup && tag.element == kSequenceDelimiter) return pos + 8;
      if (tag.group != kItemGroup || tag.element != kItem || len == kUndefinedLength) {
        bad(pos, "expected a pixel data fragment, found ({:04x},{:04x})", tag.group, tag.element);
      }
      if (pos + 8 + len > end) {
        bad(pos, "a pixel data fragment declares {} bytes but only {} remain (truncated file?)",
            len, end - pos - 8);
      }
      pos += 8 + len;
    }
  }

  void need(std::size_t pos, std::uint64_t n, const char* what) const {
    if (pos > b_.size() || n > b_.size() - pos) {
      bad(pos, "the file ends inside {} (truncated file?)", what);
    }
  }

  template <typename... Args>
  [[noreturn]] void bad(std::size_t pos, fmt::format_string<Args...> format, Args&&... args) const {
    fail(ErrorKind::kInvalidInput, "{}: corrupt DICOM file at byte {}: {}", path_.string(), pos,
         fmt::format(format, std::forward<Args>(args)...));
  }

  std::uint16_t u16(std::size_t p) const {
    need(p, 2, "a value");
    return big_ ? static_cast<std::uint16_t>(b_[p] << 8 | b_[p + 1])
                : static_cast<std::uint16_t>(b_[p + 1] << 8 | b_[p]);
  }
  std::uint32_t u32(std::size_t p) const {
    need(p, 4, "a value");
    const std::uint32_t a = u16(p);
    const std::uint32_t c = u16(p + 2);
    return big_ ? (a << 16 | c) : (c << 16 | a);
  }

  std::span<const std::uint8_t> b_;
  const std::filesystem::path& path_;
  bool explicit_ = true;
  bool big_ = false;
};

}  // namespace

DicomStructure check_dicom_structure(std::span<const std::uint8_t> bytes,
                                     const std::filesystem::path& path) {
  DicomStructure out;
  Walker walker(bytes, path);
  if (bytes.size() < 132) {
    fail(ErrorKind::kInvalidInput, "{}: too short for a DICOM file ({} bytes)", path.string(),
         bytes.size());
  }
  const std::size_t start = walker.meta(&out.transfer_syntax);
  if (start >= bytes.size()) {
    // GDCM reads a tag after the File Meta Information and asserts (aborts) when there is none.
    fail(ErrorKind::kInvalidInput, "{}: corrupt DICOM file at byte {}: no data set after the File "
         "Meta Information (truncated file?)", path.string(), start);
  }
  const std::string& ts = out.transfer_syntax;
  if (ts ==
      "1.2.840.10008.1.2.1.99") {  // deflated: the data set is a zlib stream; GDCM inflates it
    out.dataset_checked = false;
    return out;
  }
  walker.set_encoding(/*explicit_vr=*/ts != "1.2.840.10008.1.2",
                      /*big_endian=*/ts == "1.2.840.10008.1.2.2");
  walker.elements(start, bytes.size(), 0, false, &out);
  return out;
}

}  // namespace voxir::io
