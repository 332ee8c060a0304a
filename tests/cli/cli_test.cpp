// Golden tests of the voxir binary: exit codes, JSON shape and facts on the real samples.
#include "testutil/cli_run.h"
#include "testutil/dicom_files.h"
#include "testutil/nifti_files.h"
#include "testutil/shared_data.h"
#include "testutil/temp_dir.h"
#include "voxir/volume.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fmt/format.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <cstdio>
#include <limits>
#include <string>

namespace {

using voxir::testing::CliRun;

CliRun run_voxir(const std::string& args) {
  return voxir::testing::run_shell(std::string(VOXIR_CLI) + " " + args + " 2>&1");
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

TEST(Cli, SynthWritesADatasetAndRejectsBadOptions) {
  voxir::testing::TempDir d;
  const std::string out = (d / "ds").string();
  const CliRun r = run_voxir("synth " + out + " --subjects 1 --spacing 5 --region pelvis --seed 4 --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("1 subjects"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(d / "ds" / "meta.csv"));
  EXPECT_TRUE(std::filesystem::exists(d / "ds" / "s0001" / "segmentations" / "femur_left.nii.gz"));
  EXPECT_EQ(run_voxir("synth " + out + " --subjects 1 --region torso").code, 2);
  EXPECT_EQ(run_voxir("synth " + out + " --subjects 0").code, 2);
  EXPECT_EQ(run_voxir("synth " + out + " --subjects 2 --test-fraction 2").code, 2);
  EXPECT_EQ(run_voxir("synth " + out).code, 2);
}

}  // namespace

namespace {

TEST(Cli, InfoWithLabelsGivesExtentsInCanonicalOrder) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const std::string ct = (data / "ct/ts-mini/s0001/ct.nii.gz").string();
  const CliRun folder = run_voxir("info --json " + ct + " --labels " + (data / "ct/ts-mini/s0001/segmentations").string());
  ASSERT_EQ(folder.code, 0) << folder.out;
  const auto j = nlohmann::json::parse(folder.out);
  EXPECT_EQ(j["labels"]["liver"], nlohmann::json::array({70, 111}));
  EXPECT_EQ(j["labels"]["urinary_bladder"], nlohmann::json::array({4, 32}));
  EXPECT_EQ(j["labels"].size(), 59U);
  EXPECT_FALSE(j["labels"].contains("brain"));
  // Coarse: left and right kidneys merge into "kidney".
  const auto kl = j["labels"]["kidney_left"];
  const auto kr = j["labels"]["kidney_right"];
  EXPECT_EQ(j["coarse"]["kidney"][0], std::min(kl[0].get<int>(), kr[0].get<int>()));
  EXPECT_EQ(j["coarse"]["kidney"][1], std::max(kl[1].get<int>(), kr[1].get<int>()));

  const CliRun v1 = run_voxir("info --json " + ct + " --label-ids v1 --labels " +
                              (data / "ct/ts-example-multilabel/example_seg_v1.nii.gz").string());
  ASSERT_EQ(v1.code, 0) << v1.out;
  EXPECT_EQ(nlohmann::json::parse(v1.out)["labels"], j["labels"]);

  // Without --label-ids a table-less multilabel file is refused rather than guessed at.
  const CliRun unsure = run_voxir("info " + ct + " --labels " +
                                  (data / "ct/ts-example-multilabel/example_seg_v1.nii.gz").string());
  EXPECT_EQ(unsure.code, 2) << unsure.out;
  EXPECT_NE(unsure.out.find("without a label table"), std::string::npos) << unsure.out;
  // The v2 file carries a label table: no --label-ids needed.
  const CliRun v2 = run_voxir("info --json " + ct + " --labels " +
                              (data / "ct/ts-example-multilabel/example_seg_v2.nii.gz").string());
  ASSERT_EQ(v2.code, 0) << v2.out;
  EXPECT_TRUE(nlohmann::json::parse(v2.out)["labels"].contains("liver"));
  EXPECT_EQ(run_voxir("info " + ct + " --label-ids v3 --labels x").code, 2);
}

TEST(Cli, InfoWithMismatchedLabelsFails) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const CliRun r = run_voxir("info " + (data / "ct/ts-mini/s0001/ct.nii.gz").string() + " --labels " +
                             (data / "ct/ts-thorax-cta/aorta/aorta.nii.gz").string());
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("aorta.nii.gz"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("does not match the CT grid"), std::string::npos) << r.out;
}

}  // namespace

namespace {

TEST(Cli, InfoOnDicomSeriesWithItsV2Labels) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const CliRun r = run_voxir("info --json " + (data / "ct/ts-dicom-abdomen/dicom").string() + " --labels " +
                             (data / "ct/ts-dicom-abdomen/example_seg_dicom_v2.nii.gz").string());
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["dims"], nlohmann::json::array({512, 512, 20}));
  // The 20 slices lie in the upper abdomen: the liver is on them, the brain and femurs are not.
  ASSERT_TRUE(j["labels"].contains("liver")) << r.out;
  EXPECT_GE(j["labels"]["liver"][0].get<int>(), 0);
  EXPECT_LE(j["labels"]["liver"][1].get<int>(), 19);
  EXPECT_FALSE(j["labels"].contains("brain"));
  EXPECT_FALSE(j["labels"].contains("femur_left"));
  EXPECT_TRUE(j["coarse"].contains("vertebrae"));
  // Canonical order puts the inferior vertebra first: T12 starts below T11.
  EXPECT_LT(j["labels"]["vertebrae_T12"][0].get<int>(), j["labels"]["vertebrae_T11"][0].get<int>());
  EXPECT_LT(j["labels"]["vertebrae_T12"][1].get<int>(), j["labels"]["vertebrae_T11"][1].get<int>());
}

// Index and search through the binary, on synthetic phantoms (voxir synth), with the default
// (built-in) embedder.
// File names are bytes: one that is not UTF-8 (Latin-1 "café") is still named in every JSON
// output, with the bad byte replaced by U+FFFD, instead of an internal error (exit 70).
TEST(Cli, JsonOutputsNameFilesWhoseNamesAreNotUtf8) {
  voxir::testing::TempDir tmp;
  const auto ds = tmp / "ds";
  CliRun r = run_voxir("synth " + ds.string() + " --subjects 2 --seed 3 --spacing 6 --region abdomen --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto latin1 = tmp / "caf\xe9.nii.gz";
  std::filesystem::copy_file(ds / "s0001" / "ct.nii.gz", latin1);
  const std::string quoted = "'" + latin1.string() + "'";
  const std::string replaced = "caf\xef\xbf\xbd.nii.gz";  // U+FFFD in UTF-8

  r = run_voxir("info --json " + quoted);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(nlohmann::json::parse(r.out)["path"].get<std::string>().find(replaced), std::string::npos);

  const std::string index = (tmp / "index").string();
  r = run_voxir(fmt::format("index build {} {} {}", index, quoted, (ds / "s0002" / "ct.nii.gz").string()));
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_voxir("index info --json --volumes " + index);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(replaced), std::string::npos) << r.out;

  const auto explained = tmp / "explain";
  r = run_voxir(fmt::format("search --json {} {} --slices 2:4 --explain {}", index, quoted, explained.string()));
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NE(j["query"]["path"].get<std::string>().find(replaced), std::string::npos);
  ASSERT_FALSE(j["results"].empty());
  // The explanation of the volume with that name gives its path the same way.
  bool named = false;
  for (const auto& e : j["explain"]) {
    std::ifstream in(e["alignment"].get<std::string>());
    const auto alignment = nlohmann::json::parse(in);
    named = named || alignment["path"].get<std::string>().find(replaced) != std::string::npos;
  }
  EXPECT_TRUE(named) << r.out;
}

TEST(Cli, IndexBuildInfoSearchAddRemove) {
  voxir::testing::TempDir tmp;
  const auto ds = tmp / "ds";
  CliRun r = run_voxir("synth " + ds.string() + " --subjects 6 --seed 3 --spacing 5 --region abdomen --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  auto ct = [&](int s) { return (ds / fmt::format("s{:04d}", s) / "ct.nii.gz").string(); };
  const std::string index = (tmp / "index").string();
  r = run_voxir(fmt::format("index build {} {} {} {} {} {} --index HNSW16", index, ct(1), ct(2), ct(3), ct(4), ct(5)));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("embedded 5/5 volumes"), std::string::npos) << r.out;  // plain progress lines: no tty

  r = run_voxir("index info --json " + index);
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["volumes"], 5);
  EXPECT_EQ(j["index"], "hnswlib:M16,efc200");
  EXPECT_EQ(j["volume_list"][2]["id"], "s0003");

  // The query's liver extent, from its labels.
  const std::string labels = (ds / "s0003" / "segmentations").string();
  r = run_voxir("info --json " + ct(3) + " --labels " + labels);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto liver = nlohmann::json::parse(r.out)["labels"]["liver"];
  ASSERT_TRUE(liver.is_array()) << r.out;
  const int first = liver[0].get<int>();
  const int last = liver[1].get<int>();

  const std::string region = " --labels " + labels + " --region liver";
  r = run_voxir("search --json " + index + " " + ct(3) + region);
  ASSERT_EQ(r.code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  ASSERT_FALSE(j["results"].empty());
  EXPECT_EQ(j["query"]["slices"], nlohmann::json::array({first, last}));
  EXPECT_EQ(j["results"][0]["volume"], "s0003");
  EXPECT_EQ(j["results"][0]["path"], std::filesystem::absolute(ct(3)).string());
  // Its own region: located inside the liver's extent, one aligned slice per query slice.
  EXPECT_GE(j["results"][0]["location"][0].get<int>(), first);
  EXPECT_LE(j["results"][0]["location"][1].get<int>(), last);
  EXPECT_EQ(j["results"][0]["alignment"].size(), static_cast<std::size_t>(last - first + 1));
  for (const char* stage : {"embed", "candidates", "aggregate", "rerank", "localize", "total"}) {
    EXPECT_TRUE(j["timings_ms"].contains(stage)) << stage;
  }

  r = run_voxir("search --json --exclude-self --no-rerank --mode sum " + index + " " + ct(3) + region);
  ASSERT_EQ(r.code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["results"].empty());
  for (const auto& res : j["results"]) EXPECT_NE(res["volume"], "s0003");

  r = run_voxir("search " + index + " " + ct(3) + " --top 3");  // text table
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("rank"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("s0003"), std::string::npos) << r.out;

  r = run_voxir("index add " + index + " " + ct(6) + " " + ct(1));
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_voxir("index remove " + index + " s0002");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_voxir("index info --json --verify " + index);
  ASSERT_EQ(r.code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["volumes"], 6);  // 5 + s0006 + s0001 again (as s0001-2) - s0002
  EXPECT_EQ(j["generation"], 3);
  EXPECT_EQ(run_voxir("index remove " + index + " s0002").code, 4);
  EXPECT_EQ(run_voxir("search " + index + " " + ct(3) + " --slices 9:x").code, 2);
  EXPECT_EQ(run_voxir("search " + index + " " + ct(3) + " --slices 30:5000").code, 2);
}

// Region queries without labels (predicted anatomy), --require and --explain through the binary.
TEST(Cli, PredictedRegionsRequireAndExplain) {
  voxir::testing::TempDir tmp;
  const auto ds = tmp / "ds";
  CliRun r = run_voxir("synth " + ds.string() + " --subjects 6 --seed 3 --spacing 5 --region abdomen --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string ct3 = (ds / "s0003" / "ct.nii.gz").string();
  const std::string index = (tmp / "index").string();
  r = run_voxir(fmt::format("index build {} {} --index faiss:Flat", index, ds.string()));  // labelled
  ASSERT_EQ(r.code, 0) << r.out;

  r = run_voxir("info --json " + ct3 + " --labels " + (ds / "s0003" / "segmentations").string() +
                " --predict-regions " + index);
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j["predicted"]["coarse"].contains("liver")) << r.out;
  const auto& predicted = j["predicted"]["coarse"]["liver"];
  EXPECT_GE(predicted["confidence"].get<double>(), 0.5);
  // s0003 is in the index and votes for itself here: its own labels come back exactly.
  EXPECT_EQ(predicted["first"], j["coarse"]["liver"][0]);
  EXPECT_EQ(predicted["last"], j["coarse"]["liver"][1]);

  const std::string explain = (tmp / "explain").string();
  r = run_voxir("search --json --exclude-self --top 2 --require liver " + index + " " + ct3 +
                " --region liver --explain " + explain);
  ASSERT_EQ(r.code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["query_region"]["name"], "liver");
  EXPECT_EQ(j["query_region"]["predicted"], true);
  EXPECT_EQ(j["query"]["slices"][0], j["query_region"]["first"]);
  ASSERT_EQ(j["results"].size(), 2u);
  ASSERT_EQ(j["explain"].size(), 2u);
  for (const auto& res : j["results"]) {
    EXPECT_NE(res["volume"], "s0003");
    EXPECT_EQ(res["region"]["predicted"], false);  // stored labels
  }
  for (const auto& f : j["explain"]) {
    for (const char* key : {"heatmap", "strip", "alignment"})
      EXPECT_TRUE(std::filesystem::exists(f[key].get<std::string>())) << key;
  }
  r = run_voxir("search " + index + " " + ct3 + " --region livr");
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("did you mean"), std::string::npos) << r.out;
  EXPECT_EQ(run_voxir("search " + index + " " + ct3 + " --region brain").code, 4);  // not in the query
  EXPECT_EQ(run_voxir("search " + index + " " + ct3 + " --explain x --no-rerank").code, 2);

  // --time-limit: 1 ns has passed before the search first checks it (exit 7, naming the limit);
  // a generous one changes nothing; a negative one is a usage error.
  r = run_voxir("search " + index + " " + ct3 + " --time-limit 1e-9");
  EXPECT_EQ(r.code, 7) << r.out;
  EXPECT_NE(r.out.find("--time-limit 1e-09 s: the search passed its time limit"), std::string::npos) << r.out;
  EXPECT_EQ(run_voxir("search " + index + " " + ct3 + " --time-limit 600").code, 0);
  EXPECT_EQ(run_voxir("search " + index + " " + ct3 + " --time-limit -1").code, 2);

  // An index of plain files (no segmentations/ beside them) has no labels to predict from.
  const std::string plain = (tmp / "plain").string();
  std::filesystem::copy_file(ct3, tmp / "loose.nii.gz");
  ASSERT_EQ(run_voxir(fmt::format("index build {} {} --index faiss:Flat", plain,
                                  (tmp / "loose.nii.gz").string())).code, 0);
  r = run_voxir("search " + plain + " " + ct3 + " --region liver");
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("has labels"), std::string::npos) << r.out;
  r = run_voxir("index predict " + plain);
  EXPECT_EQ(r.code, 4) << r.out;
  EXPECT_NE(r.out.find("has labels"), std::string::npos) << r.out;

  // Plain files added to the labelled index get their anatomy stored (unless --no-predict);
  // `index predict` stores it for all of them.
  const auto predicted_volumes = [&] {
    const CliRun info = run_voxir("index info --json " + index);
    return nlohmann::json::parse(info.out)["predicted_volumes"].get<int>();
  };
  std::filesystem::copy_file(ct3, tmp / "loose2.nii.gz");
  ASSERT_EQ(run_voxir(fmt::format("index add {} {}", index, (tmp / "loose.nii.gz").string())).code, 0);
  EXPECT_EQ(predicted_volumes(), 1);
  ASSERT_EQ(run_voxir(fmt::format("index add {} {} --no-predict", index,
                                  (tmp / "loose2.nii.gz").string())).code, 0);
  EXPECT_EQ(predicted_volumes(), 1);
  r = run_voxir("index predict " + index);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("predicted the anatomy of 2 volumes"), std::string::npos) << r.out;
  EXPECT_EQ(predicted_volumes(), 2);
  // The twin of s0003 answers a --require query with its stored, predicted liver.
  r = run_voxir("search --json --exclude-self --require liver " + index + " " + ct3);
  ASSERT_EQ(r.code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  bool twin = false;
  for (const auto& res : j["results"]) {
    if (res["volume"] != "loose") continue;
    twin = true;
    EXPECT_EQ(res["region"]["predicted"], true);
    EXPECT_GE(res["region"]["confidence"].get<double>(), 0.5);
  }
  EXPECT_TRUE(twin) << r.out;
}

// XORs `length` bytes of `file` from `offset` with 0xff, so each of them changes.
void damage_file(const std::filesystem::path& file, std::size_t offset, std::size_t length) {
  std::FILE* f = std::fopen(file.c_str(), "r+b");
  ASSERT_NE(f, nullptr) << file;
  std::string bytes(length, '\0');
  ASSERT_EQ(std::fseek(f, static_cast<long>(offset), SEEK_SET), 0);
  ASSERT_EQ(std::fread(bytes.data(), 1, length, f), length) << file;
  for (auto& b : bytes) b = static_cast<char>(b ^ 0xff);
  ASSERT_EQ(std::fseek(f, static_cast<long>(offset), SEEK_SET), 0);
  ASSERT_EQ(std::fwrite(bytes.data(), 1, length, f), length);
  std::fclose(f);
}

// Issue 13: a damaged generation exits 3 naming the file; it used to be SIGSEGV in hnswlib (graph
// header) or a silent wrong answer (graph body, vectors).
TEST(Cli, CorruptIndexFilesExitThreeNamingTheFile) {
  voxir::testing::TempDir tmp;
  const auto ds = tmp / "ds";
  CliRun r = run_voxir("synth " + ds.string() +
                       " --subjects 2 --seed 5 --spacing 5 --region abdomen --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string ct = (ds / "s0001" / "ct.nii.gz").string();
  const std::string pristine = (tmp / "index").string();
  r = run_voxir(fmt::format("index build {} {} --index HNSW16", pristine, ds.string()));
  ASSERT_EQ(r.code, 0) << r.out;
  ASSERT_EQ(run_voxir("search " + pristine + " " + ct).code, 0);
  auto copy = [&](const std::string& name) {
    const auto dir = tmp / name;
    std::filesystem::copy(pristine, dir, std::filesystem::copy_options::recursive);
    return dir;
  };

  const auto graph = copy("graph");  // the measured crash: 100 bytes at offset 50
  damage_file(graph / "gen-000001" / "ann.hnsw", 50, 100);
  r = run_voxir("search " + graph.string() + " " + ct);
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("ann.hnsw"), std::string::npos) << r.out;

  const auto body = copy("body");  // deep in the graph, where only a checksum can tell
  const auto size = std::filesystem::file_size(body / "gen-000001" / "ann.hnsw");
  damage_file(body / "gen-000001" / "ann.hnsw", size / 2, 100);
  r = run_voxir("search " + body.string() + " " + ct);
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("ann.hnsw"), std::string::npos) << r.out;

  const auto catalog = copy("catalog");
  damage_file(catalog / "gen-000001" / "catalog.sqlite", 0, 16);
  r = run_voxir("index info " + catalog.string());
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("catalog.sqlite"), std::string::npos) << r.out;

  // The vectors are mapped, not read, at open: only --verify (or a write) checks them.
  const auto vectors = copy("vectors");
  damage_file(vectors / "gen-000001" / "vectors.f32", 1000, 100);
  EXPECT_EQ(run_voxir("index info " + vectors.string()).code, 0);
  r = run_voxir("index info --verify " + vectors.string());
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("vectors.f32"), std::string::npos) << r.out;
  r = run_voxir("index remove " + vectors.string() + " s0002");
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("vectors.f32"), std::string::npos) << r.out;
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

namespace {

// Index state that a refused write must leave as it was.
std::string index_state(const std::string& index) {
  const CliRun r = run_voxir("index info --json " + index);
  if (r.code != 0) return "unreadable: " + r.out;
  const auto j = nlohmann::json::parse(r.out);
  return fmt::format("generation {} volumes {} vectors {}", j["generation"].dump(),
                     j["volumes"].dump(), j["vectors"].dump());
}

// Writes `volume` with each voxel replaced by value(index, hu) as float32, `frames` times over
// (frame t gets value(index, hu) + 100 t).
template <typename Fn>
std::string write_variant(const std::filesystem::path& path, const voxir::Volume& volume, Fn value,
                          std::int64_t frames = 1) {
  voxir::testing::RawNifti raw;
  raw.dims = volume.dims();
  raw.datatype = 16;  // float32
  raw.affine = volume.affine();
  raw.frames = frames;
  for (std::int64_t t = 0; t < frames; ++t) {
    for (std::size_t i = 0; i < volume.hu().size(); ++i)
      raw.values.push_back(value(i, static_cast<double>(volume.hu()[i])) +
                           100.0 * static_cast<double>(t));
  }
  voxir::testing::write_raw_nifti(path, raw);
  return path.string();
}

bool has(const CliRun& r, const std::string& text) {
  return r.out.find(text) != std::string::npos;
}

// Issue 17: NaN voxels, empty slices and 4-D files, through the binary on files the test writes.
TEST(Cli, DegenerateVolumesGiveClearAnswers) {
  voxir::testing::TempDir tmp;
  const auto ds = tmp / "ds";
  CliRun r = run_voxir("synth " + ds.string() +
                       " --subjects 3 --seed 5 --spacing 5 --region abdomen --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  auto ct = [&](int s) { return (ds / fmt::format("s{:04d}", s) / "ct.nii.gz").string(); };
  const std::string index = (tmp / "index").string();
  r = run_voxir(fmt::format("index build {} {} {} --index Flat --no-cache", index, ct(1), ct(2)));
  ASSERT_EQ(r.code, 0) << r.out;
  const voxir::Volume base = voxir::read_volume(ct(3));
  const auto slice = static_cast<std::size_t>(base.slice_size());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::string before = index_state(index);

  // A slab of NaN (slices 2..4): counted, the range stays finite, the volume is usable.
  const std::string slab = write_variant(
      tmp / "nan_slab.nii.gz", base,
      [&](std::size_t i, double hu) { return i >= 2 * slice && i < 5 * slice ? nan : hu; });
  r = run_voxir("info --json " + slab);
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["nonfinite_voxels"], 3 * slice);
  EXPECT_EQ(j["hu_range"][1].get<double>(), base.hu_range()[1]);
  r = run_voxir("info " + slab);
  EXPECT_TRUE(has(r, fmt::format("non-finite   {} voxels", 3 * slice))) << r.out;
  EXPECT_FALSE(has(r, "nan ..") || has(r, ".. nan")) << r.out;  // the range is not poisoned
  r = run_voxir("search --json " + index + " " + slab);
  ASSERT_EQ(r.code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  EXPECT_LE(j["query"]["slices_used"].get<int>(), base.nz() - 3);  // the slab is air: no body
  EXPECT_GT(j["query"]["slices_used"].get<int>(), 0);

  // All NaN: refused by info, search and add, naming the file and the count; index unchanged.
  const std::string all_nan =
      write_variant(tmp / "all_nan.nii.gz", base, [&](auto...) { return nan; });
  for (const std::string& cmd : {"info " + all_nan, "search " + index + " " + all_nan,
                                 "index add --no-cache " + index + " " + all_nan}) {
    r = run_voxir(cmd);
    EXPECT_EQ(r.code, 3) << cmd << "\n" << r.out;
    EXPECT_TRUE(has(r, "all_nan.nii.gz")) << r.out;
    EXPECT_TRUE(has(r, fmt::format("{} of its {} voxels", base.hu().size(), base.hu().size())))
        << r.out;
  }
  EXPECT_EQ(index_state(index), before);

  // All air: no slice has a body. A search says so instead of matching padding with score 1; an
  // add is refused.
  const std::string air =
      write_variant(tmp / "all_air.nii.gz", base, [](auto...) { return -1024.0; });
  r = run_voxir("search " + index + " " + air + " --slices 3:7");
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_TRUE(has(r, "all_air.nii.gz: slices 3..7 contain no body")) << r.out;
  r = run_voxir("index add --no-cache " + index + " " + air);
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_TRUE(has(r, "no slice shows a body")) << r.out;
  EXPECT_EQ(index_state(index), before);

  // All metal: every slice is "body", but nothing in the index resembles it: no perfect score.
  const std::string metal =
      write_variant(tmp / "all_metal.nii.gz", base, [](auto...) { return 3071.0; });
  r = run_voxir("search --json " + index + " " + metal);
  ASSERT_EQ(r.code, 0) << r.out;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["query"]["slices_used"], base.nz());
  ASSERT_FALSE(j["results"].empty());
  EXPECT_LT(j["results"][0]["score"].get<double>(), 0.9) << r.out;

  // 4-D: two distinct frames (the second 100 HU brighter). Without --frame the error names the
  // option and the frame count; with it each frame reads as its own volume.
  const std::string four = write_variant(
      tmp / "two_frames.nii.gz", base, [](std::size_t, double hu) { return hu; }, 2);
  for (const std::string& cmd : {"info " + four, "search " + index + " " + four,
                                 "index add --no-cache " + index + " " + four}) {
    r = run_voxir(cmd);
    EXPECT_EQ(r.code, 2) << cmd << "\n" << r.out;
    EXPECT_TRUE(has(r, "--frame")) << r.out;
    EXPECT_TRUE(has(r, "2 frames")) << r.out;
  }
  EXPECT_EQ(index_state(index), before);
  std::array<double, 2> low{};
  for (int f = 0; f < 2; ++f) {
    r = run_voxir(fmt::format("info --json --frame {} {}", f, four));
    ASSERT_EQ(r.code, 0) << r.out;
    const double lo = nlohmann::json::parse(r.out)["hu_range"][0].get<double>();
    low[static_cast<std::size_t>(f)] = lo;
  }
  EXPECT_EQ(low[1] - low[0], 100.0);
  EXPECT_EQ(run_voxir("info --frame 2 " + four).code, 2);
  r = run_voxir("search --json --frame 1 " + index + " " + four);
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_voxir("index add --no-cache --frame 1 " + index + " " + four);
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_voxir("index info --json " + index);
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["volumes"], 3);
}

}  // namespace
