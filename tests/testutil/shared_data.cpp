#include "testutil/shared_data.h"

#include <cstdlib>

namespace voxir::testing {

std::optional<std::filesystem::path> shared_data_dir() {
  if (const char* env = std::getenv("VOXIR_SHARED_DATA"); env != nullptr && *env != '\0') {
    if (std::filesystem::is_directory(env)) return std::filesystem::path(env);
    return std::nullopt;
  }
  const auto dir = std::filesystem::path(VOXIR_SOURCE_DIR).parent_path() / "shared" / "data";
  if (std::filesystem::is_directory(dir / "ct")) return dir;
  return std::nullopt;
}

}  // namespace voxir::testing
