// PNG through libpng's simplified API (png_image), which handles errors without setjmp.
#include "search/png.h"

#include "util/file.h"
#include "voxir/error.h"

#include <png.h>

#include <cstring>

namespace voxir {

std::vector<std::uint8_t> encode_png(const RgbImage& image) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = PNG_FORMAT_RGB;
  // First call: the size only; libpng's bound is exact for the second.
  png_alloc_size_t size = 0;
  if (png_image_write_to_memory(&png, nullptr, &size, 0, image.rgb.data(), 0, nullptr) == 0) {
    fail(ErrorKind::kInternal, "cannot encode a {}x{} PNG: {}", image.width, image.height,
         png.message);
  }
  std::vector<std::uint8_t> out(size);
  if (png_image_write_to_memory(&png, out.data(), &size, 0, image.rgb.data(), 0, nullptr) == 0) {
    fail(ErrorKind::kInternal, "cannot encode a {}x{} PNG: {}", image.width, image.height,
         png.message);
  }
  out.resize(size);
  return out;
}

RgbImage decode_png(std::span<const std::uint8_t> bytes, std::string_view what) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()) == 0) {
    fail(ErrorKind::kInvalidInput, "{}: not a PNG libpng can read: {}", what, png.message);
  }
  if ((png.format & PNG_FORMAT_FLAG_COLORMAP) != 0 || (png.format & PNG_FORMAT_FLAG_COLOR) == 0) {
    png_image_free(&png);
    fail(ErrorKind::kInvalidInput, "{}: expected an RGB PNG", what);
  }
  png.format = PNG_FORMAT_RGB;
  RgbImage out;
  out.width = static_cast<int>(png.width);
  out.height = static_cast<int>(png.height);
  out.rgb.resize(PNG_IMAGE_SIZE(png));
  if (png_image_finish_read(&png, nullptr, out.rgb.data(), 0, nullptr) == 0) {
    fail(ErrorKind::kInvalidInput, "{}: cannot decode the PNG: {}", what, png.message);
  }
  return out;
}

RgbImage read_png(const std::filesystem::path& path) {
  return decode_png(read_file(path), path.string());
}

}  // namespace voxir
