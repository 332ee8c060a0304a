// 8-bit RGB PNG files (libpng) for explanations (voxir/explain.h).
#pragma once

#include <cstdint>
#include <filesystem>
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

// Throws Error(kIo) naming the file when it cannot be written.
void write_png(const std::filesystem::path& path, const RgbImage& image);
// Reads an 8-bit RGB or RGBA PNG (alpha dropped). Throws Error(kIo) for an unreadable file,
// kInvalidInput for another bit depth or colour type.
[[nodiscard]] RgbImage read_png(const std::filesystem::path& path);

}  // namespace voxir
