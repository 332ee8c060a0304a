#include "testutil/npy_files.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace voxir::testing {
namespace {

template <typename T>
std::vector<std::uint8_t> raw_bytes(std::span<const T> values) {
  std::vector<std::uint8_t> out(values.size_bytes());
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

}  // namespace

std::vector<std::uint8_t> npy_bytes(const RawNpy& raw) {
  std::string header = raw.header;
  if (header.empty()) {
    const std::string shape = raw.shape.size() == 1
                                  ? fmt::format("({},)", raw.shape[0])
                                  : fmt::format("({})", fmt::join(raw.shape, ", "));
    header = fmt::format("{{'descr': '{}', 'fortran_order': {}, 'shape': {}, }}", raw.descr,
                         raw.fortran_order ? "True" : "False", shape);
  }
  const std::size_t preamble = raw.version == 1 ? 10 : 12;
  while ((preamble + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::vector<std::uint8_t> out = {
      0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(raw.version), 0};
  const std::size_t length_bytes = raw.version == 1 ? 2 : 4;
  for (std::size_t i = 0; i < length_bytes; ++i)
    out.push_back(static_cast<std::uint8_t>(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), raw.data.begin(), raw.data.end());
  return out;
}

void write_npy(const std::filesystem::path& path, const RawNpy& raw) {
  const auto bytes = npy_bytes(raw);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

RawNpy npy_f32(std::span<const float> values, std::vector<std::int64_t> shape) {
  return {.descr = "<f4", .shape = std::move(shape), .data = raw_bytes(values)};
}

RawNpy npy_i32(std::span<const std::int32_t> values) {
  return {.descr = "<i4",
          .shape = {static_cast<std::int64_t>(values.size())},
          .data = raw_bytes(values)};
}

RawNpy npy_i64(std::span<const std::int64_t> values) {
  return {.descr = "<i8",
          .shape = {static_cast<std::int64_t>(values.size())},
          .data = raw_bytes(values)};
}

}  // namespace voxir::testing
