// voxir index import and search --query-vectors through the binary: exit codes and messages.
#include "testutil/cli_run.h"
#include "testutil/npy_files.h"
#include "testutil/temp_dir.h"
#include "testutil/vectors.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>

namespace voxir {
namespace {

using testing::CliRun;

// Exit code and stdout, with stderr too unless `with_stderr` is false.
CliRun run_voxir(const std::string& args, bool with_stderr = true) {
  return testing::run_shell(std::string(VOXIR_CLI) + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null"));
}

constexpr int kDim = 16;

// Four volumes of 6 slices, rows in volume order; names a..d; returns the CLI arguments.
std::string write_set(const testing::TempDir& tmp, std::vector<float>& rows) {
  const auto set = testing::clustered_set({.volumes = 4, .slices = 6, .dim = kDim});
  rows = testing::all_rows(set);
  std::vector<std::int32_t> ids, slices;
  for (int v = 0; v < 4; ++v) {
    for (int s = 0; s < 6; ++s) {
      ids.push_back(v);
      slices.push_back(s);
    }
  }
  testing::write_npy(tmp / "v.npy", testing::npy_f32(rows, {24, kDim}));
  testing::write_npy(tmp / "ids.npy", testing::npy_i32(ids));
  testing::write_npy(tmp / "slices.npy", testing::npy_i32(slices));
  std::ofstream(tmp / "names.txt") << "a\nb\nc\nd\n";
  return fmt::format("{} --volume-ids {} --slice-ids {} --names {}", (tmp / "v.npy").string(),
                     (tmp / "ids.npy").string(), (tmp / "slices.npy").string(),
                     (tmp / "names.txt").string());
}

TEST(CliImport, ImportsAndSearchesWithQueryVectors) {
  testing::TempDir tmp;
  std::vector<float> rows;
  const std::string files = write_set(tmp, rows);
  const std::string index = (tmp / "index").string();
  const CliRun imported = run_voxir("index import " + index + " " + files + " --index faiss:Flat");
  ASSERT_EQ(imported.code, 0) << imported.out;
  EXPECT_NE(imported.out.find("imported 4 volumes (24 slices)"), std::string::npos) << imported.out;
  EXPECT_NE(run_voxir("index info " + index).out.find("external:16"), std::string::npos);

  // Slices 1..4 of volume c.
  std::vector<float> q(rows.begin() + (2 * 6 + 1) * kDim, rows.begin() + (2 * 6 + 5) * kDim);
  testing::perturb(q, kDim, 0.2, 3);
  testing::write_npy(tmp / "q.npy", testing::npy_f32(q, {4, kDim}));
  const CliRun found = run_voxir(
      "search " + index + " --query-vectors " + (tmp / "q.npy").string() + " --json --top 2",
      false);
  ASSERT_EQ(found.code, 0) << found.out;
  const auto j = nlohmann::json::parse(found.out);
  EXPECT_EQ(j["results"][0]["volume"], "c");
  EXPECT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["query"]["slices"], nlohmann::json::array({0, 3}));

  // Other options still apply, e.g. a slice range of the query vectors.
  const CliRun part = run_voxir("search " + index + " --query-vectors " + (tmp / "q.npy").string() +
                                " --slices 1:2 --no-rerank");
  EXPECT_EQ(part.code, 0) << part.out;
  EXPECT_NE(part.out.find("slices 1..2"), std::string::npos) << part.out;
}

TEST(CliImport, BadFilesAndQueriesExitWithTheirKind) {
  testing::TempDir tmp;
  std::vector<float> rows;
  const std::string files = write_set(tmp, rows);
  const std::string index = (tmp / "index").string();

  auto fortran = testing::npy_f32(rows, {24, kDim});
  fortran.fortran_order = true;
  testing::write_npy(tmp / "fortran.npy", fortran);
  auto nan_rows = rows;
  nan_rows[7] = std::numeric_limits<float>::quiet_NaN();
  testing::write_npy(tmp / "nan.npy", testing::npy_f32(nan_rows, {24, kDim}));
  const std::string rest = files.substr(files.find(" --volume-ids"));
  const struct {
    std::string args;
    int code;
    std::string names;
  } cases[] = {
      {"index import " + index + " " + (tmp / "fortran.npy").string() + rest, 5,
       (tmp / "fortran.npy").string()},
      {"index import " + index + " " + (tmp / "nan.npy").string() + rest, 3,
       (tmp / "nan.npy").string()},
      {"index import " + index + " " + (tmp / "v.npy").string() + " --volume-ids " +
           (tmp / "missing.npy").string() + " --slice-ids " + (tmp / "slices.npy").string(),
       4, (tmp / "missing.npy").string()},
      {"index import " + index + " " + (tmp / "v.npy").string(), 2, "--volume-ids"},
  };
  for (const auto& c : cases) {
    const CliRun r = run_voxir(c.args);
    EXPECT_EQ(r.code, c.code) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.names), std::string::npos) << c.args << "\n" << r.out;
    EXPECT_FALSE(std::filesystem::exists(tmp / "index")) << c.args;
  }

  ASSERT_EQ(run_voxir("index import " + index + " " + files).code, 0);
  testing::write_npy(tmp / "q8.npy", testing::npy_f32(std::vector<float>(16, 1.0f), {2, 8}));
  const struct {
    std::string args;
    int code;
    std::string says;
  } searches[] = {
      {"search " + index + " --query-vectors " + (tmp / "q8.npy").string(), 3,
       "8-d query vectors, but the index holds 16-d"},
      {"search " + index + " " + (tmp / "ct.nii.gz").string(), 5, "--query-vectors"},
      {"search " + index, 2, "exactly one"},
      {"search " + index + " ct.nii.gz --query-vectors " + (tmp / "q8.npy").string(), 2,
       "exactly one"},
  };
  for (const auto& c : searches) {
    const CliRun r = run_voxir(c.args);
    EXPECT_EQ(r.code, c.code) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.args << "\n" << r.out;
  }
}

}  // namespace
}  // namespace voxir
