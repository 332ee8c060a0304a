// voxir/npy.h: NumPy .npy arrays, the format in which vectors made outside voxir come in
// (voxir index import, search --query-vectors; docs/import.md).
//
// Read: format versions 1.0, 2.0 and 3.0; little-endian dtypes '<f4', '<f2' (widened to float),
// '<i4' and '<i8' (widened to int64); C order. Everything else (Fortran order, big-endian, other
// dtypes, object or structured arrays, a data size that differs from the shape) is refused with
// an Error naming the file, what is wrong and what was expected. Sizes are checked against the
// bytes present before anything is allocated, so a lying header cannot make voxir allocate more
// than the file holds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace voxir {

enum class NpyType { kFloat32, kFloat16, kInt32, kInt64 };
// The dtype as NumPy spells it: "<f4", "<f2", "<i4", "<i8".
[[nodiscard]] std::string_view to_string(NpyType type);

struct NpyArray {
  std::vector<std::int64_t> shape;    // () for a scalar
  NpyType dtype = NpyType::kFloat32;  // as stored in the file
  // The values in C order: float dtypes in `floats`, integer dtypes in `ints`; the other is empty.
  std::vector<float> floats;
  std::vector<std::int64_t> ints;

  [[nodiscard]] bool is_float() const {
    return dtype == NpyType::kFloat32 || dtype == NpyType::kFloat16;
  }
  // Product of the shape (1 for a scalar).
  [[nodiscard]] std::int64_t size() const;
};

// Parses the bytes of a .npy file; `name` (usually the path) starts every error message. Pure:
// reads nothing else. Throws Error(kInvalidInput) for a malformed or truncated file,
// kUnsupported for a valid one voxir does not read (dtype, byte order, Fortran order).
[[nodiscard]] NpyArray parse_npy(std::span<const std::uint8_t> bytes, std::string_view name);

// Reads and parses a .npy file. Also throws Error(kNotFound) or kIo naming the file.
[[nodiscard]] NpyArray read_npy(const std::filesystem::path& path);

}  // namespace voxir
