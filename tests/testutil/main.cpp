// The test binaries' main: every run gets an embedding cache of its own (XDG_CACHE_HOME, also
// inherited by the voxir processes the CLI tests start), so no test reads or fills the user's
// ~/.cache and no test sees another run's entries.
#include "testutil/temp_dir.h"

#include <gtest/gtest.h>

#include <cstdlib>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const voxir::testing::TempDir cache;
  ::setenv("XDG_CACHE_HOME", cache.path().c_str(), 1);
  return RUN_ALL_TESTS();
}
