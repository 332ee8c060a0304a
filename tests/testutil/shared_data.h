// Access to the real CT samples in ../shared/data beside the checkout. They are absent on a
// user's machine: tests that need them call VOXIR_REQUIRE_SHARED_DATA() and skip with a message.
// The macro also prints "needs ../shared/data", present or not, so that scripts/test can count
// the tests that run without it.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <optional>

namespace voxir::testing {

// $VOXIR_SHARED_DATA if set, else <source>/../shared/data when it exists.
[[nodiscard]] std::optional<std::filesystem::path> shared_data_dir();

}  // namespace voxir::testing

#define VOXIR_REQUIRE_SHARED_DATA(var)                                                       \
  std::printf("voxir test: needs ../shared/data\n");                                         \
  const auto var##_opt = ::voxir::testing::shared_data_dir();                                \
  if (!var##_opt) GTEST_SKIP() << "../shared/data is absent (set VOXIR_SHARED_DATA to run)"; \
  const std::filesystem::path var = *var##_opt
