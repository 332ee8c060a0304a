// Writes .npy files, well-formed or deliberately broken, so tests can feed the reader files that
// NumPy never produces (lying headers, truncated data) without needing Python.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace voxir::testing {

struct RawNpy {
  std::string descr = "<f4";
  bool fortran_order = false;
  std::vector<std::int64_t> shape = {};
  std::vector<std::uint8_t> data = {};  // bytes after the header, as they are to be written
  int version = 1;                      // 1, 2 or 3: a 2- or 4-byte header length
  std::string header = {};  // non-empty: written instead of the dict made from the above
};

// The file's bytes: magic, version, header length, header padded to 64 bytes with spaces and
// '\n' (as NumPy does), data.
[[nodiscard]] std::vector<std::uint8_t> npy_bytes(const RawNpy& raw);
void write_npy(const std::filesystem::path& path, const RawNpy& raw);

// Well-formed arrays of common dtypes, C order.
[[nodiscard]] RawNpy npy_f32(std::span<const float> values, std::vector<std::int64_t> shape);
[[nodiscard]] RawNpy npy_i32(std::span<const std::int32_t> values);
[[nodiscard]] RawNpy npy_i64(std::span<const std::int64_t> values);

}  // namespace voxir::testing
