// Golden tests of the voxir binary: exit codes, JSON shape and facts on the real samples.
#include "testutil/shared_data.h"
#include "testutil/temp_dir.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace {

struct CliRun {
  int code = -1;
  std::string out;
};

CliRun run_voxir(const std::string& args) {
  const std::string cmd = std::string(VOXIR_CLI) + " " + args + " 2>&1";
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(Cli, HelpAndUsageErrors) {
  EXPECT_EQ(run_voxir("--help").code, 0);
  EXPECT_EQ(run_voxir("").code, 2);
  EXPECT_EQ(run_voxir("info").code, 2);
  EXPECT_EQ(run_voxir("frobnicate").code, 2);
}

TEST(Cli, InfoOnMissingFileFailsWithNotFound) {
  const CliRun r = run_voxir("info /nonexistent/ct.nii.gz");
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.out.find("/nonexistent/ct.nii.gz"), std::string::npos) << r.out;
}

TEST(Cli, InfoJsonOnRealSample) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const CliRun r = run_voxir("info --json " + (data / "ct/ts-mini/s0001/ct.nii.gz").string());
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["dims"], nlohmann::json::array({122, 101, 112}));
  EXPECT_EQ(j["orientation"], "RAS");
  EXPECT_NEAR(j["spacing"][2].get<double>(), 3.0, 1e-3);
  EXPECT_LE(j["hu_range"][0].get<double>(), -1000);
}

}  // namespace
