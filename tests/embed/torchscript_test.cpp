// The TorchScript path: a tiny random-weight model exported by tools/export_models.py with
// Debian's python3-torch; C++ embeddings must equal Python's on the same preprocessed input.
#include "embed/torchscript_embedder.h"
#include "slicing/preprocess.h"
#include "testutil/temp_dir.h"
#include "util/file.h"
#include "voxir/embed.h"
#include "voxir/error.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

namespace voxir {
namespace {

const char* kPython = "/usr/bin/python3";

class TorchScript : public ::testing::Test {
 protected:
  // The tiny model is exported once per build folder (python3 + torch take seconds to start) and
  // reused by later test processes; files are renamed into place, the sidecar last.
  static void SetUpTestSuite() {
    if (!embed::have_torchscript()) return;
    dir_ = new testing::TempDir();
    models_ = std::filesystem::path(VOXIR_TEST_MODELS_DIR);
    if (std::filesystem::exists(models_ / "tiny.pt.json")) {
      exported_ = true;
      return;
    }
    // Staged beside the final folder, so the renames stay on one file system.
    const auto staging =
        std::filesystem::path(models_.string() + fmt::format(".tmp-{}", ::getpid()));
    const std::string cmd = fmt::format(
        "{} -c 'import torch, torchvision' >/dev/null 2>&1 && {} {}/tools/export_models.py "
        "--out {} --random-weights --threads 2 tiny >/dev/null 2>&1",
        kPython, kPython, VOXIR_SOURCE_DIR, staging.string());
    if (std::system(cmd.c_str()) != 0) return;
    std::filesystem::create_directories(models_);
    std::filesystem::rename(staging / "tiny.pt", models_ / "tiny.pt");
    std::filesystem::rename(staging / "tiny.pt.json", models_ / "tiny.pt.json");
    std::filesystem::remove_all(staging);
    exported_ = true;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!embed::have_torchscript()) GTEST_SKIP() << "voxir built without libtorch";
    // scripts/setup installs python3-torch with libtorch: a build with libtorch and no exported
    // model is a broken setup, not a reason to skip.
    if (!exported_)
      FAIL() << kPython
             << " could not export the tiny model (needs python3-torch and python3-torchvision: "
                "scripts/setup installs them)";
  }
  static std::filesystem::path model() { return models_ / "tiny.pt"; }
  static std::filesystem::path copy_model(const std::string& name) {
    const auto to = dir_->path() / name;
    std::filesystem::copy_file(model(), to, std::filesystem::copy_options::overwrite_existing);
    return to;
  }
  static void write_sidecar(const std::filesystem::path& model_path, const std::string& json) {
    std::ofstream(model_path.string() + ".json") << json;
  }
  static std::string sidecar_text() { return read_text_file(model().string() + ".json"); }

  static testing::TempDir* dir_;
  static std::filesystem::path models_;
  static bool exported_;
};

testing::TempDir* TorchScript::dir_ = nullptr;
std::filesystem::path TorchScript::models_;
bool TorchScript::exported_ = false;

Volume small_ct() {
  const std::int64_t nx = 40, ny = 30, nz = 3;
  std::vector<float> hu(static_cast<std::size_t>(nx * ny * nz));
  for (std::size_t i = 0; i < hu.size(); ++i)
    hu[i] = static_cast<float>(static_cast<int>(i * 37 % 2400) - 1200);
  const Affine a{{{1.5, 0, 0, 0}, {0, 1.5, 0, 0}, {0, 0, 2, 0}, {0, 0, 0, 1}}};
  return Volume({nx, ny, nz}, {1.5, 1.5, 2}, a, std::move(hu), "RAS");
}

TEST_F(TorchScript, EmbeddingsEqualPython) {
  const auto e = make_embedder("torchscript:" + model().string(), {.threads = 2, .batch = 2});
  EXPECT_EQ(e->dim(), 24);
  EXPECT_EQ(make_embedder(e->spec())->spec(), e->spec());
  EXPECT_NE(e->fingerprint().find("in=32x32x3"), std::string::npos) << e->fingerprint();
  const Volume v = small_ct();
  const auto got = e->embed_all(v);

  // The same preprocessed input through Python.
  Preprocessing p;
  p.input_width = p.input_height = 32;
  std::vector<float> input(3 * p.tensor_size());
  slicing::Scratch s;
  for (std::size_t k = 0; k < 3; ++k) {
    slicing::preprocess_slice(v, static_cast<std::int64_t>(k), p,
                              {input.data() + k * p.tensor_size(), p.tensor_size()}, s);
  }
  const auto in_path = dir_->path() / "in.f32", out_path = dir_->path() / "out.f32";
  write_file_atomic(in_path,
                    {reinterpret_cast<const std::uint8_t*>(input.data()), input.size() * 4}, false);
  const std::string cmd =
      fmt::format("{} {}/tools/export_models.py forward {} {} 3,3,32,32 {}", kPython,
                  VOXIR_SOURCE_DIR, model().string(), in_path.string(), out_path.string());
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const auto raw = read_file(out_path);
  ASSERT_EQ(raw.size(), 3u * 24 * 4);
  std::vector<float> py(3 * 24);
  std::memcpy(py.data(), raw.data(), raw.size());
  double max_diff = 0;
  for (std::size_t k = 0; k < 3; ++k) {
    double norm = 0;
    for (std::size_t j = 0; j < 24; ++j) norm += py[k * 24 + j] * py[k * 24 + j];
    for (std::size_t j = 0; j < 24; ++j) {
      max_diff = std::max(max_diff, std::abs(py[k * 24 + j] / std::sqrt(norm) - got[k * 24 + j]));
    }
  }
  EXPECT_LT(max_diff, 1e-4);
}

TEST_F(TorchScript, SidecarMismatchesAreClearErrors) {
  struct Case {
    const char* what;
    std::string from, to;
    ErrorKind kind;
    const char* says;
  };
  const Case cases[] = {
      {"wrong output dim", "\"dim\": 24", "\"dim\": 25", ErrorKind::kInvalidInput, "output.dim 25"},
      {"wrong input size", "\"width\": 32", "\"width\": 48", ErrorKind::kInvalidInput,
       "rejects the sidecar's input"},
      {"bad pooling", "\"pooling\": \"none\"", "\"pooling\": \"cls\"", ErrorKind::kInvalidInput,
       "pooling cls"},
  };
  const std::string text = sidecar_text();
  for (const auto& c : cases) {
    const auto path = copy_model(fmt::format("m{}.pt", &c - cases));
    const auto at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.what << " in " << text;
    std::string changed = text;
    changed.replace(at, c.from.size(), c.to);
    write_sidecar(path, changed);
    try {
      (void)make_embedder("torchscript:" + path.string());
      ADD_FAILURE() << c.what << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), c.kind) << c.what << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos)
          << c.what << ": " << e.what();
    }
  }
  const auto lonely = dir_->path() / "lonely.pt";
  std::filesystem::copy_file(model(), lonely, std::filesystem::copy_options::overwrite_existing);
  try {
    (void)make_embedder("torchscript:" + lonely.string());
    ADD_FAILURE() << "no sidecar: no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
    EXPECT_NE(std::string(e.what()).find("no sidecar"), std::string::npos) << e.what();
  }
  const auto junk = dir_->path() / "junk.pt";
  write_file_atomic(junk, std::vector<std::uint8_t>{'n', 'o', 'p', 'e'}, false);
  write_sidecar(junk, text);
  try {
    (void)make_embedder("torchscript:" + junk.string());
    ADD_FAILURE() << "junk model: no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
  }
}

TEST(TorchScriptMissing, SaysUnsupportedWithoutLibtorch) {
  if (embed::have_torchscript()) GTEST_SKIP() << "built with libtorch";
  try {
    (void)make_embedder("torchscript:/tmp/x.pt");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  }
}

}  // namespace
}  // namespace voxir
