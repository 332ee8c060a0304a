#include "testutil/temp_dir.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace voxir::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "voxir-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace voxir::testing
