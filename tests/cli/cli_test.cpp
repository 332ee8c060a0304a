// Golden tests of the voxir binary: exit codes, JSON shape and facts on the real samples.
#include "testutil/dicom_files.h"
#include "testutil/shared_data.h"
#include "testutil/temp_dir.h"

#include <fmt/format.h>
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

TEST(Cli, InfoJsonOnDicomFolder) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const CliRun r = run_voxir("info --json " + (data / "ct/ts-dicom-abdomen/dicom").string());
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["dims"], nlohmann::json::array({512, 512, 20}));
  EXPECT_EQ(j["orientation"], "LPS");
  EXPECT_EQ(j["hu_range"], nlohmann::json::array({-1024.0, 1839.0}));
  EXPECT_NEAR(j["spacing"][0].get<double>(), 0.9765625, 1e-6);
  EXPECT_NEAR(j["spacing"][2].get<double>(), 2.0, 1e-6);
  EXPECT_NEAR(j["affine"][2][3].get<double>(), -804.5, 1e-6);  // slice 0 is the most inferior
}

TEST(Cli, InfoOnFolderWithSeveralSeriesNeedsSeries) {
  voxir::testing::TempDir dir;
  for (int s = 0; s < 2; ++s) {
    for (int k = 0; k < 3; ++k) {
      voxir::testing::DicomSlice slice;
      slice.series_uid = s == 0 ? "1.2.3.100" : "1.2.3.200";
      slice.position = std::array<double, 3>{0, 0, 2.0 * k};
      voxir::testing::write_dicom_slice(dir / fmt::format("s{}_{}", s, k), slice);
    }
  }
  const CliRun several = run_voxir("info " + dir.path().string());
  EXPECT_EQ(several.code, 2) << several.out;
  EXPECT_NE(several.out.find("1.2.3.100 (CT, 3 files"), std::string::npos) << several.out;
  EXPECT_NE(several.out.find("1.2.3.200 (CT, 3 files"), std::string::npos) << several.out;
  const CliRun picked = run_voxir("info --json --series 1.2.3.200 " + dir.path().string());
  ASSERT_EQ(picked.code, 0) << picked.out;
  EXPECT_EQ(nlohmann::json::parse(picked.out)["dims"], nlohmann::json::array({6, 4, 3}));
  EXPECT_EQ(run_voxir("info --series 9.9 " + dir.path().string()).code, 4);
}

}  // namespace
