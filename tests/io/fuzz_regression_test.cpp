// Issue 13, item 2: every input that crashed a fuzz target (tests/fuzz_regressions/<target>/,
// docs/fuzzing.md) is read or refused with a voxir::Error by the same reader call the fuzz target
// makes. Before its fix each aborted the process (GDCM's assertion) or, under --sanitize, stopped
// at a sanitizer report.
#include "inputs.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <vector>

namespace voxir {
namespace {

namespace fs = std::filesystem;

std::vector<std::uint8_t> read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(FuzzRegression, EveryCrashInputIsReadOrRefused) {
  const fs::path root = fs::path(VOXIR_SOURCE_DIR) / "tests" / "fuzz_regressions";
  int inputs = 0;
  for (const auto& target : fuzz::targets()) {
    if (!fs::is_directory(root / target.name)) continue;
    for (const auto& entry : fs::directory_iterator(root / target.name)) {
      SCOPED_TRACE(entry.path().string());
      const auto bytes = read_bytes(entry.path());
      ASSERT_FALSE(bytes.empty());
      // Only a voxir::Error may end the read: read() rethrows anything else.
      bool refused = false;
      EXPECT_NO_THROW(refused = target.read(bytes));
      std::cout << target.name << "/" << entry.path().filename().string() << ": "
                << (refused ? "refused" : "read") << "\n";
      ++inputs;
    }
  }
  // The folder holds at least the five crashes fuzzing found (README.md there).
  EXPECT_GE(inputs, 5) << "no regression inputs under " << root;
}

}  // namespace
}  // namespace voxir
