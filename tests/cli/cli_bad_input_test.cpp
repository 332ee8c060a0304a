// Must-fail inputs at the CLI: `voxir info` on hostile files exits with the code of the error kind
// (invalid input 3, not found 4, unsupported 5) and says on stderr which file is wrong. The
// reader-level table with every bound is tests/io/bad_input_test.cpp.
#include "testutil/cli_run.h"
#include "testutil/dicom_files.h"
#include "testutil/nifti_files.h"
#include "testutil/temp_dir.h"

#include <gtest/gtest.h>
#include <nifti/nifti1.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>

namespace voxir {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Exit code and stderr only: the error must be reported there, not on stdout.
testing::CliRun voxir_info(const fs::path& input) {
  return testing::run_shell(std::string(VOXIR_CLI) + " info '" + input.string() + "' 2>&1 >/dev/null");
}

void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                           static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A valid 16x16x8 int16 NIfTI-1 file's bytes.
std::vector<std::uint8_t> small_nifti(const TempDir& d) {
  testing::RawNifti raw;
  raw.dims = {16, 16, 8};
  raw.values.assign(16 * 16 * 8, 0.0);
  testing::write_raw_nifti(d / "valid.nii", raw);
  return read_file(d / "valid.nii");
}

template <typename T>
void patch(std::vector<std::uint8_t>& bytes, std::size_t at, T value) {
  std::memcpy(bytes.data() + at, &value, sizeof value);
}

struct Case {
  const char* name;
  std::function<fs::path(const TempDir&)> make;
  int exit_code;
  const char* phrase;
};

TEST(CliBadInput, InfoOnHostileInputExitsWithTheKindsCodeAndNamesTheFile) {
  const Case cases[] = {
      {"missing file", [](const TempDir& d) { return d / "absent.nii.gz"; }, 4, "absent.nii.gz"},
      {"absurd dims",
       [](const TempDir& d) {
         auto b = small_nifti(d);
         for (std::size_t a = 0; a < 3; ++a) patch<std::int16_t>(b, 42 + 2 * a, 30000);
         write_bytes(d / "absurd.nii", b);
         return d / "absurd.nii";
       },
       3, "absurd"},
      {"vox_offset beyond the file",
       [](const TempDir& d) {
         auto b = small_nifti(d);
         patch<float>(b, 108, 1e6f);
         write_bytes(d / "farvox.nii", b);
         return d / "farvox.nii";
       },
       3, "vox_offset"},
      {"decompression bomb",
       [](const TempDir& d) {
         auto b = small_nifti(d);
         b.resize(b.size() + (8 << 20), 0);
         write_bytes(d / "bomb.nii.gz", testing::gzip_bytes(b));
         return d / "bomb.nii.gz";
       },
       3, "decompression bomb"},
      {"header promising more than the gzip stream holds",
       [](const TempDir& d) {
         auto b = small_nifti(d);
         for (std::size_t a = 0; a < 3; ++a) patch<std::int16_t>(b, 42 + 2 * a, 1024);
         write_bytes(d / "promise.nii.gz", testing::gzip_bytes(b));
         return d / "promise.nii.gz";
       },
       3, "more than a gzip stream"},
      {"unsupported datatype",
       [](const TempDir& d) {
         auto b = small_nifti(d);
         patch<std::int16_t>(b, 70, DT_COMPLEX64);
         write_bytes(d / "complex.nii", b);
         return d / "complex.nii";
       },
       5, "datatype"},
      {"DICOM with absurd Rows",
       [](const TempDir& d) {
         fs::create_directories(d / "dicom");
         testing::DicomSlice s;
         testing::write_dicom_slice(d / "dicom" / "slice1.dcm", s);
         auto b = read_file(d / "dicom" / "slice1.dcm");
         const std::uint8_t rows_tag[8] = {0x28, 0, 0x10, 0, 'U', 'S', 2, 0};
         const auto it = std::search(b.begin(), b.end(), std::begin(rows_tag), std::end(rows_tag));
         if (it == b.end()) throw std::runtime_error("no Rows element");
         patch<std::uint16_t>(b, static_cast<std::size_t>(it - b.begin()) + 8, 50000);
         write_bytes(d / "dicom" / "slice1.dcm", b);
         return d / "dicom";
       },
       3, "slice1.dcm: 50000 rows"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    const fs::path input = c.make(dir);
    const testing::CliRun r = voxir_info(input);
    EXPECT_EQ(r.code, c.exit_code) << c.name << ": " << r.out;
    EXPECT_NE(r.out.find(c.phrase), std::string::npos) << c.name << ": " << r.out;
    EXPECT_NE(r.out.find(input.filename().string()), std::string::npos)
        << c.name << ": stderr does not name " << input.filename() << ": " << r.out;
  }
}

}  // namespace
}  // namespace voxir
