// Golden tests of the voxir binary: exit codes, JSON shape and facts on the real samples.
#include "testutil/phantoms.h"
#include "testutil/shared_data.h"
#include "testutil/temp_dir.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <array>
#include <filesystem>
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

// Index and search through the binary, on phantoms, with the default (built-in) embedder.
TEST(Cli, IndexBuildInfoSearchAddRemove) {
  voxir::testing::TempDir tmp;
  std::string inputs;
  std::vector<voxir::testing::Phantom> phantoms;
  for (int s = 0; s < 6; ++s) {
    std::filesystem::create_directories(tmp / fmt::format("p{}", s));
    phantoms.push_back(voxir::testing::write_phantom(tmp / fmt::format("p{}", s) / "ct.nii.gz", s));
    if (s < 5) inputs += fmt::format(" {}", phantoms.back().path.string());
  }
  const std::string index = (tmp / "index").string();
  CliRun r = run_voxir("index build " + index + inputs + " --index HNSW16");
  if (r.code == 5 && r.out.find("no embedder is merged") != std::string::npos) {
    GTEST_SKIP() << "the built-in embedder is not merged yet: " << r.out;
  }
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("embedded 5/5 volumes"), std::string::npos) << r.out;  // plain progress lines: no tty

  r = run_voxir("index info --json " + index);
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["volumes"], 5);
  EXPECT_EQ(j["index"], "HNSW16,efc200,ef64");
  EXPECT_EQ(j["volume_list"][2]["id"], "p2");

  const auto& q = phantoms[2];
  const std::string slices = fmt::format(" --slices {}:{}", q.organ0, q.organ1);
  r = run_voxir("search --json " + index + " " + q.path.string() + slices);
  ASSERT_EQ(r.code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  ASSERT_FALSE(j["results"].empty());
  EXPECT_EQ(j["results"][0]["volume"], "p2");
  EXPECT_EQ(j["results"][0]["path"], q.path.string());
  // Each query slice aligns to itself; the central 80% of them span the organ minus its ends.
  const auto drop = (q.organ1 - q.organ0 + 1) / 10;
  EXPECT_EQ(j["results"][0]["location"], nlohmann::json::array({q.organ0 + drop, q.organ1 - drop}));
  EXPECT_EQ(j["results"][0]["alignment"].size(), static_cast<std::size_t>(q.organ1 - q.organ0 + 1));
  for (const char* stage : {"embed", "candidates", "aggregate", "rerank", "localize", "total"}) {
    EXPECT_TRUE(j["timings_ms"].contains(stage)) << stage;
  }

  r = run_voxir("search --json --exclude-self --no-rerank --mode sum " + index + " " + q.path.string() + slices);
  ASSERT_EQ(r.code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  for (const auto& res : j["results"]) EXPECT_NE(res["volume"], "p2");

  r = run_voxir("search " + index + " " + q.path.string() + " --top 3");  // text table
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("rank"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("p2"), std::string::npos) << r.out;

  r = run_voxir("index add " + index + " " + phantoms[5].path.string() + " " + phantoms[0].path.string());
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_voxir("index remove " + index + " p1");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_voxir("index info --json --verify " + index);
  ASSERT_EQ(r.code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["volumes"], 6);  // 5 + p5 + p0 again (as p0-2) - p1
  EXPECT_EQ(j["generation"], 3);
  EXPECT_EQ(run_voxir("index remove " + index + " p1").code, 4);
  EXPECT_EQ(run_voxir("search " + index + " " + q.path.string() + " --slices 9:x").code, 2);
  EXPECT_EQ(run_voxir("search " + index + " " + q.path.string() + " --slices 30:500").code, 2);
}

TEST(Cli, IndexErrors) {
  voxir::testing::TempDir tmp;
  EXPECT_EQ(run_voxir("index info /nonexistent/index").code, 4);
  EXPECT_EQ(run_voxir("index").code, 2);
  const CliRun r = run_voxir("index build " + (tmp / "i").string() + " x.nii.gz --index HNSW");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("index spec"), std::string::npos) << r.out;
  EXPECT_EQ(run_voxir("search /nonexistent/index q.nii.gz --mode freq").code, 2);
}

}  // namespace
