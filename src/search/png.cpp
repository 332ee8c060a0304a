// PNG through libpng's simplified API (png_image), which handles errors without setjmp.
#include "search/png.h"

#include "voxir/error.h"

#include <png.h>

#include <cstring>

namespace voxir {

void write_png(const std::filesystem::path& path, const RgbImage& image) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = PNG_FORMAT_RGB;
  if (png_image_write_to_file(&png, path.c_str(), 0, image.rgb.data(), 0, nullptr) == 0) {
    fail(ErrorKind::kIo, "{}: cannot write PNG: {}", path.string(), png.message);
  }
}

RgbImage read_png(const std::filesystem::path& path) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_file(&png, path.c_str()) == 0) {
    fail(ErrorKind::kIo, "{}: cannot read PNG: {}", path.string(), png.message);
  }
  if ((png.format & PNG_FORMAT_FLAG_COLORMAP) != 0 || (png.format & PNG_FORMAT_FLAG_COLOR) == 0) {
    png_image_free(&png);
    fail(ErrorKind::kInvalidInput, "{}: expected an RGB PNG", path.string());
  }
  png.format = PNG_FORMAT_RGB;
  RgbImage out;
  out.width = static_cast<int>(png.width);
  out.height = static_cast<int>(png.height);
  out.rgb.resize(PNG_IMAGE_SIZE(png));
  if (png_image_finish_read(&png, nullptr, out.rgb.data(), 0, nullptr) == 0) {
    fail(ErrorKind::kIo, "{}: cannot read PNG: {}", path.string(), png.message);
  }
  return out;
}

}  // namespace voxir
