// 8-bit RGB PNG images (libpng) for explanations (voxir/explain.h), made and read in memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

namespace voxir {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;  // row-major, 3 bytes per pixel

  void set(int x, int y, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    auto* p = rgb.data() + (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) +
                            static_cast<std::size_t>(x)) *
                               3;
    p[0] = r;
    p[1] = g;
    p[2] = b;
  }
};

// The PNG file's bytes. Throws Error(kInternal) when libpng refuses the image (an empty one).
[[nodiscard]] std::vector<std::uint8_t> encode_png(const RgbImage& image);
// Decodes an 8-bit RGB or RGBA PNG (alpha dropped). Throws Error(kInvalidInput) for bytes that
// are not such a PNG, naming `what` (a file name, "the heatmap").
[[nodiscard]] RgbImage decode_png(std::span<const std::uint8_t> bytes, std::string_view what);
// decode_png of a file's bytes; Error(kNotFound or kIo) when it cannot be read.
[[nodiscard]] RgbImage read_png(const std::filesystem::path& path);

}  // namespace voxir
