// NumPy .npy reader. The header is a Python dict literal; rather than a general Python parser,
// this reads exactly what numpy.lib.format writes ({'descr': ..., 'fortran_order': ...,
// 'shape': (...), }) and refuses anything else, so a fuzzer or a hostile file meets a small,
// linear grammar and bounds checked before any allocation.
#include "voxir/npy.h"
#include "util/file.h"
#include "voxir/error.h"

#include <fmt/ranges.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

namespace voxir {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the .npy reader copies little-endian data as is");

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr std::size_t kMaxDims = 32;  // NumPy's own limit is 64; no voxir array has more than 2
constexpr std::string_view kAccepted = "'<f4', '<f2', '<i4' or '<i8'";

std::size_t item_size(NpyType t) {
  switch (t) {
    case NpyType::kFloat16:
      return 2;
    case NpyType::kFloat32:
    case NpyType::kInt32:
      return 4;
    case NpyType::kInt64:
      return 8;
  }
  return 0;
}

// Cursor over the header text; every failure names the file and the header.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string_view name) : text_(text), name_(name) {}

  [[noreturn]] void bad(std::string_view what) const {
    fail(ErrorKind::kInvalidInput,
         "{}: malformed .npy header at offset {}: {} (expected a dict like {{'descr': '<f4', "
         "'fortran_order': False, 'shape': (3, 4), }})",
         name_, pos_, what);
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\t' || text_[pos_] == '\r'))
      ++pos_;
  }
  bool at_end() {
    skip_space();
    return pos_ == text_.size();
  }
  char peek() {
    skip_space();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  bool accept(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  void expect(char c) {
    if (!accept(c)) bad(fmt::format("expected '{}'", c));
  }
  std::string string_literal() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') bad("expected a quoted string");
    const std::size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) bad("unterminated string");
    std::string out(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] :
         {std::pair{std::string_view("True"), true}, std::pair{std::string_view("False"), false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    bad("expected True or False");
  }
  std::int64_t integer() {
    skip_space();
    const std::size_t start = pos_;
    std::uint64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const auto digit = static_cast<std::uint64_t>(text_[pos_] - '0');
      if (value > (std::uint64_t{std::numeric_limits<std::int64_t>::max()} - digit) / 10)
        bad("dimension too large");
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) bad("expected a non-negative integer dimension");
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 long
    return static_cast<std::int64_t>(value);
  }
  // A tuple of dimensions: (), (3,), (3, 4) or (3, 4,).
  std::vector<std::int64_t> shape() {
    expect('(');
    std::vector<std::int64_t> dims;
    while (!accept(')')) {
      if (dims.size() == kMaxDims) bad(fmt::format("more than {} dimensions", kMaxDims));
      dims.push_back(integer());
      if (!accept(',')) {
        expect(')');
        if (dims.size() == 1) bad("a one-element tuple needs a trailing comma, as (3,)");
        break;
      }
    }
    return dims;
  }
  std::string_view rest() const { return text_.substr(pos_); }

 private:
  std::string_view text_;
  std::string_view name_;
  std::size_t pos_ = 0;
};

struct Header {
  NpyType dtype = NpyType::kFloat32;
  std::vector<std::int64_t> shape;
};

NpyType parse_descr(const std::string& descr, std::string_view name) {
  if (descr == "<f4") return NpyType::kFloat32;
  if (descr == "<f2") return NpyType::kFloat16;
  if (descr == "<i4") return NpyType::kInt32;
  if (descr == "<i8") return NpyType::kInt64;
  if (descr.size() == 3 && descr[0] == '>' &&
      (descr == ">f4" || descr == ">f2" || descr == ">i4" || descr == ">i8")) {
    fail(ErrorKind::kUnsupported,
         "{}: dtype '{}' is big-endian (expected little-endian {}; in NumPy: "
         "a.astype(a.dtype.newbyteorder('<')))",
         name, descr, kAccepted);
  }
  if (descr.find('O') != std::string::npos) {
    fail(ErrorKind::kUnsupported,
         "{}: dtype '{}' is an object array (pickled Python objects; expected a numeric array "
         "of dtype {})",
         name, descr, kAccepted);
  }
  fail(ErrorKind::kUnsupported, "{}: dtype '{}' (expected {})", name, descr, kAccepted);
}

Header parse_header(std::string_view text, std::string_view name) {
  HeaderParser p(text, name);
  std::optional<NpyType> dtype;
  std::optional<bool> fortran;
  std::optional<std::vector<std::int64_t>> shape;
  p.expect('{');
  while (!p.accept('}')) {
    const std::string key = p.string_literal();
    p.expect(':');
    if (key == "descr") {
      if (p.peek() == '[') {
        fail(ErrorKind::kUnsupported,
             "{}: structured dtype (a list of fields; expected a plain array of dtype {})", name,
             kAccepted);
      }
      if (dtype) p.bad("key 'descr' twice");
      dtype = parse_descr(p.string_literal(), name);
    } else if (key == "fortran_order") {
      if (fortran) p.bad("key 'fortran_order' twice");
      fortran = p.boolean();
    } else if (key == "shape") {
      if (shape) p.bad("key 'shape' twice");
      shape = p.shape();
    } else {
      p.bad(fmt::format("unknown key '{}' (expected descr, fortran_order, shape)", key));
    }
    if (!p.accept(',')) {
      p.expect('}');
      break;
    }
  }
  if (!p.at_end()) p.bad("text after the closing brace");
  if (!dtype || !fortran || !shape) {
    p.bad(fmt::format("missing key{}{}{}", dtype ? "" : " 'descr'",
                      fortran ? "" : " 'fortran_order'", shape ? "" : " 'shape'"));
  }
  if (*fortran) {
    fail(ErrorKind::kUnsupported,
         "{}: array is in Fortran (column-major) order (expected C order; in NumPy: "
         "np.save(path, np.ascontiguousarray(a)))",
         name);
  }
  return {*dtype, std::move(*shape)};
}

std::uint32_t read_le(const std::uint8_t* p, int bytes) {
  std::uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (std::uint32_t{h} & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  const std::uint32_t bits = exponent == 0x1f ? sign | 0x7f800000u | (mantissa << 13)  // inf, NaN
                                              : sign | ((exponent + 112) << 23) | (mantissa << 13);
  return std::bit_cast<float>(bits);
}

}  // namespace

std::string_view to_string(NpyType type) {
  switch (type) {
    case NpyType::kFloat32:
      return "<f4";
    case NpyType::kFloat16:
      return "<f2";
    case NpyType::kInt32:
      return "<i4";
    case NpyType::kInt64:
      return "<i8";
  }
  return "?";
}

std::int64_t NpyArray::size() const {
  std::int64_t n = 1;
  for (const auto d : shape) n *= d;
  return n;
}

NpyArray parse_npy(std::span<const std::uint8_t> bytes, std::string_view name) {
  if (bytes.size() < kMagic.size() + 2 ||
      std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    const bool zip = bytes.size() >= 2 && bytes[0] == 'P' && bytes[1] == 'K';
    fail(ErrorKind::kInvalidInput, "{}: not a .npy file ({}; expected the magic \\x93NUMPY{})",
         name, bytes.size() < kMagic.size() ? fmt::format("{} bytes", bytes.size()) : "other start",
         zip ? "; this looks like a .npz archive: save each array with np.save" : "");
  }
  const int major = bytes[6];
  const int minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0) {
    fail(ErrorKind::kUnsupported, "{}: .npy format version {}.{} (expected 1.0, 2.0 or 3.0)", name,
         major, minor);
  }
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  const std::size_t prefix = kMagic.size() + 2 + length_bytes;
  if (bytes.size() < prefix) {
    fail(ErrorKind::kInvalidInput, "{}: truncated: {} bytes, the version {}.0 preamble takes {}",
         name, bytes.size(), major, prefix);
  }
  const std::size_t header_length =
      read_le(bytes.data() + kMagic.size() + 2, static_cast<int>(length_bytes));
  if (header_length > bytes.size() - prefix) {
    fail(ErrorKind::kInvalidInput,
         "{}: truncated: the header claims {} bytes, only {} follow the preamble", name,
         header_length, bytes.size() - prefix);
  }
  // Versions 1 and 2 are latin-1, 3 is UTF-8; the accepted grammar is ASCII either way.
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + prefix), header_length);
  Header header = parse_header(text, name);

  const std::size_t item = item_size(header.dtype);
  const std::size_t available = bytes.size() - prefix - header_length;
  std::uint64_t count = 1;
  for (const auto d : header.shape) {
    if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(d), &count) ||
        count > available / item) {
      // Also reached by absurd shapes: their product overflows or exceeds the file.
      fail(ErrorKind::kInvalidInput,
           "{}: truncated or wrong header: shape ({}) of {} needs more than the {} data bytes the "
           "file holds",
           name, fmt::join(header.shape, ", "), to_string(header.dtype), available);
    }
  }
  if (count * item != available) {
    fail(ErrorKind::kInvalidInput,
         "{}: the header promises shape ({}) of {}, {} data bytes, but the file holds {} data "
         "bytes",
         name, fmt::join(header.shape, ", "), to_string(header.dtype), count * item, available);
  }

  NpyArray out;
  out.shape = std::move(header.shape);
  out.dtype = header.dtype;
  const std::uint8_t* data = bytes.data() + prefix + header_length;
  const auto n = static_cast<std::size_t>(count);
  if (n == 0) return out;  // a shape with a zero: no data (and no buffer to copy into)
  switch (out.dtype) {
    case NpyType::kFloat32:
      out.floats.resize(n);
      std::memcpy(out.floats.data(), data, n * 4);
      break;
    case NpyType::kFloat16:
      out.floats.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        out.floats[i] = half_to_float(static_cast<std::uint16_t>(read_le(data + 2 * i, 2)));
      }
      break;
    case NpyType::kInt32:
      out.ints.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        std::int32_t v;
        std::memcpy(&v, data + 4 * i, 4);
        out.ints[i] = v;
      }
      break;
    case NpyType::kInt64:
      out.ints.resize(n);
      std::memcpy(out.ints.data(), data, n * 8);
      break;
  }
  return out;
}

NpyArray read_npy(const std::filesystem::path& path) {
  const auto bytes = read_file(path);
  return parse_npy(bytes, path.string());
}

}  // namespace voxir
