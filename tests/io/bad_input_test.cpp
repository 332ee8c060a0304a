// Must-fail inputs: each case names the input, the error kind expected and a phrase the message
// must contain, so a failure says which input regressed.
#include "testutil/nifti_files.h"
#include "testutil/temp_dir.h"
#include "util/file.h"
#include "voxir/error.h"
#include "voxir/volume.h"

#include <gtest/gtest.h>
#include <nifti/nifti1.h>

#include <functional>
#include <string>

namespace voxir {
namespace {

using testing::RawNifti;
using testing::TempDir;

std::vector<double> zeros(std::size_t n) { return std::vector<double>(n, 0.0); }

void write_bytes(const std::filesystem::path& p, std::vector<std::uint8_t> bytes) {
  write_file_atomic(p, bytes, false);
}

struct BadCase {
  const char* name;
  std::function<std::filesystem::path(const TempDir&)> make;  // returns the path to read
  ErrorKind kind;
  const char* phrase;
};

std::filesystem::path valid_gz(const TempDir& d, const char* name) {
  RawNifti raw;
  raw.dims = {64, 64, 16};
  raw.values.resize(64 * 64 * 16);
  for (std::size_t i = 0; i < raw.values.size(); ++i) raw.values[i] = static_cast<double>((i * 7919) % 2000) - 1000;
  testing::write_raw_nifti(d / name, raw);
  return d / name;
}

TEST(BadInput, EachMustFailInputGivesItsErrorKindAndNamesTheFile) {
  const BadCase cases[] = {
      {"missing file", [](const TempDir& d) { return d / "nope.nii.gz"; }, ErrorKind::kNotFound, "no such file"},
      {"empty file",
       [](const TempDir& d) {
         write_bytes(d / "empty.nii", {});
         return d / "empty.nii";
       },
       ErrorKind::kInvalidInput, "too short"},
      {"wrong magic",
       [](const TempDir& d) {
         std::vector<std::uint8_t> b(400, 0);
         b[0] = 92;  // sizeof_hdr 348 little-endian
         b[1] = 1;
         b[344] = 'x';
         b[345] = 'y';
         b[346] = 'z';
         write_bytes(d / "magic.nii", b);
         return d / "magic.nii";
       },
       ErrorKind::kInvalidInput, "not a NIfTI file"},
      {"text file",
       [](const TempDir& d) {
         const std::string s(500, 'a');
         write_bytes(d / "text.nii", {s.begin(), s.end()});
         return d / "text.nii";
       },
       ErrorKind::kInvalidInput, "not a NIfTI file"},
      {"truncated gzip",
       [](const TempDir& d) {
         auto p = valid_gz(d, "trunc.nii.gz");
         auto b = read_file(p);
         b.resize(b.size() / 2);
         write_bytes(p, b);
         return p;
       },
       ErrorKind::kInvalidInput, "truncated or corrupt"},
      {"corrupt gzip body",
       [](const TempDir& d) {
         auto p = valid_gz(d, "corrupt.nii.gz");
         auto b = read_file(p);
         for (std::size_t i = b.size() / 3; i < b.size() / 3 + 64; ++i) b[i] ^= 0x5a;
         write_bytes(p, b);
         return p;
       },
       ErrorKind::kInvalidInput, "corrupt"},
      {"corrupt gzip header",
       [](const TempDir& d) {
         auto p = valid_gz(d, "corrupthead.nii.gz");
         auto b = read_file(p);
         for (std::size_t i = 10; i < 40; ++i) b[i] = 0xff;
         write_bytes(p, b);
         return p;
       },
       ErrorKind::kInvalidInput, "corrupt"},
      {"truncated uncompressed data",
       [](const TempDir& d) {
         RawNifti raw;
         raw.dims = {16, 16, 8};
         raw.values = zeros(16 * 16 * 8);
         testing::write_raw_nifti(d / "short.nii", raw);
         auto b = read_file(d / "short.nii");
         b.resize(b.size() - 100);
         write_bytes(d / "short.nii", b);
         return d / "short.nii";
       },
       ErrorKind::kInvalidInput, "truncated"},
      {"absurd dims",
       [](const TempDir& d) {
         RawNifti raw;
         raw.values = zeros(24);
         testing::write_raw_nifti(d / "absurd.nii", raw);
         auto b = read_file(d / "absurd.nii");
         // dim[1..3] live at bytes 42..47 of a NIfTI-1 header (int16 each): 30000^3.
         for (int a = 0; a < 3; ++a) {
           b[static_cast<std::size_t>(42 + 2 * a)] = 0x30;
           b[static_cast<std::size_t>(43 + 2 * a)] = 0x75;
         }
         write_bytes(d / "absurd.nii", b);
         return d / "absurd.nii";
       },
       ErrorKind::kInvalidInput, "absurd"},
      {"unsupported datatype (complex64)",
       [](const TempDir& d) {
         RawNifti raw;
         raw.datatype = DT_COMPLEX64;
         raw.values = zeros(24);
         testing::write_raw_nifti(d / "complex.nii", raw);
         return d / "complex.nii";
       },
       ErrorKind::kUnsupported, "datatype"},
      {"folder without DICOM files",
       [](const TempDir& d) {
         std::filesystem::create_directories(d / "nodicom");
         write_bytes(d / "nodicom" / "notes.txt", {'h', 'i'});
         return d / "nodicom";
       },
       ErrorKind::kNotFound, "no DICOM files"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    const auto path = c.make(dir);
    try {
      (void)read_volume(path);
      ADD_FAILURE() << c.name << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), c.kind) << c.name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(c.phrase), std::string::npos) << c.name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(path.filename().string()), std::string::npos)
          << c.name << ": message does not name the file: " << e.what();
    }
  }
}

}  // namespace
}  // namespace voxir
