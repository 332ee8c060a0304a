// Must-fail inputs: each case names the input, the error kind expected and a phrase the message
// must contain, so a failure says which input regressed.
#include "embed/model_sidecar.h"
#include "io/nifti.h"
#include "testutil/nifti_files.h"
#include "testutil/temp_dir.h"
#include "util/file.h"
#include "voxir/dataset.h"
#include "voxir/error.h"
#include "voxir/labels.h"
#include "voxir/volume.h"

#include <gtest/gtest.h>
#include <nifti/nifti1.h>

#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
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
  std::optional<std::uint64_t> max_gzip_bytes = std::nullopt;  // read with this io::ReadLimits
};

// Writes `value` at byte `at` of a header (native = little-endian on every build machine).
template <typename T>
void patch(std::vector<std::uint8_t>& bytes, std::size_t at, T value) {
  std::memcpy(bytes.data() + at, &value, sizeof value);
}

// A small valid uncompressed NIfTI (16x16x8 int16, NIfTI-`version`) at d/name; returns its bytes.
std::vector<std::uint8_t> small_nifti(const TempDir& d, const char* name, int version = 1) {
  RawNifti raw;
  raw.version = version;
  raw.dims = {16, 16, 8};
  raw.values = zeros(16 * 16 * 8);
  testing::write_raw_nifti(d / name, raw);
  return read_file(d / name);
}

// small_nifti with `edit` applied to its bytes, written back to d/name.
std::filesystem::path edited_nifti(const TempDir& d, const char* name,
                                   const std::function<void(std::vector<std::uint8_t>&)>& edit,
                                   int version = 1) {
  auto b = small_nifti(d, name, version);
  edit(b);
  write_bytes(d / name, b);
  return d / name;
}

// NIfTI-1 header fields (byte offsets): dim[0..7] int16 at 40, datatype int16 at 70, vox_offset
// float at 108, sform_code int16 at 254, srow_x/y/z float[4] at 280/296/312.
// NIfTI-2: datatype int16 at 12, dim[0..7] int64 at 16, vox_offset int64 at 168.
constexpr std::size_t kN1Dim = 40;
constexpr std::size_t kN1Datatype = 70;
constexpr std::size_t kN1VoxOffset = 108;
constexpr std::size_t kN1Srow = 280;
constexpr std::size_t kN2Dim = 16;

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
      // Bounds checked before allocating (docs/limits.md).
      {"NIfTI-2 dimension over the per-axis limit",
       [](const TempDir& d) {
         return edited_nifti(d, "wide.nii", [](auto& b) { patch<std::int64_t>(b, kN2Dim + 8, 100000); }, 2);
       },
       ErrorKind::kInvalidInput, "absurd dimension x = 100000"},
      {"dims whose product overflows 64 bits (65536^4 frames)",
       [](const TempDir& d) {
         return edited_nifti(d, "overflow.nii", [](auto& b) {
           patch<std::int64_t>(b, kN2Dim, 4);
           for (int a = 1; a <= 4; ++a) patch<std::int64_t>(b, kN2Dim + 8 * static_cast<std::size_t>(a), 65536);
         }, 2);
       },
       ErrorKind::kInvalidInput, "absurd size"},
      {"more voxels per frame than a volume may hold (4096x4096x256 uint8)",
       [](const TempDir& d) {
         return edited_nifti(d, "voxels.nii", [](auto& b) {
           patch<std::int16_t>(b, kN1Dim + 2, 4096);
           patch<std::int16_t>(b, kN1Dim + 4, 4096);
           patch<std::int16_t>(b, kN1Dim + 6, 256);
           patch<std::int16_t>(b, kN1Datatype, DT_UINT8);
         });
       },
       ErrorKind::kInvalidInput, "absurd size"},
      {"zero dimension",
       [](const TempDir& d) {
         return edited_nifti(d, "zero.nii", [](auto& b) { patch<std::int64_t>(b, kN2Dim + 16, 0); }, 2);
       },
       ErrorKind::kInvalidInput, "absurd dimension dim[2] = 0"},
      {"5-D image",
       [](const TempDir& d) {
         return edited_nifti(d, "fived.nii", [](auto& b) {
           patch<std::int16_t>(b, kN1Dim, 5);
           patch<std::int16_t>(b, kN1Dim + 8, 1);
           patch<std::int16_t>(b, kN1Dim + 10, 3);
         });
       },
       ErrorKind::kUnsupported, "dim[5] = 3"},
      {"vox_offset beyond the end of the file",
       [](const TempDir& d) {
         return edited_nifti(d, "farvox.nii", [](auto& b) { patch<float>(b, kN1VoxOffset, 1e6f); });
       },
       ErrorKind::kInvalidInput, "beyond the end of the file"},
      {"vox_offset over the limit",
       [](const TempDir& d) {
         return edited_nifti(d, "hugevox.nii", [](auto& b) { patch<std::int64_t>(b, 168, std::int64_t{1} << 40); }, 2);
       },
       ErrorKind::kInvalidInput, "vox_offset 1099511627776 is outside"},
      {"negative vox_offset (NIfTI-2)",
       [](const TempDir& d) {
         return edited_nifti(d, "negvox.nii", [](auto& b) { patch<std::int64_t>(b, 168, -4096); }, 2);
       },
       ErrorKind::kInvalidInput, "vox_offset"},
      {"vox_offset inside the header",
       [](const TempDir& d) {
         return edited_nifti(d, "invox.nii", [](auto& b) { patch<std::int64_t>(b, 168, 100); }, 2);
       },
       ErrorKind::kInvalidInput, "is outside 540.."},
      {"datatype wider than the data (float64 header on int16 voxels)",
       [](const TempDir& d) {
         return edited_nifti(d, "wide_type.nii", [](auto& b) { patch<std::int16_t>(b, kN1Datatype, DT_FLOAT64); });
       },
       ErrorKind::kInvalidInput, "truncated"},
      {"unknown datatype code",
       [](const TempDir& d) {
         return edited_nifti(d, "dt9999.nii", [](auto& b) { patch<std::int16_t>(b, kN1Datatype, 9999); });
       },
       ErrorKind::kInvalidInput, "nifti_clib rejected it"},
      {"RGB datatype",
       [](const TempDir& d) {
         return edited_nifti(d, "rgb.nii", [](auto& b) { patch<std::int16_t>(b, kN1Datatype, DT_RGB24); });
       },
       ErrorKind::kUnsupported, "RGB"},
      {"NIfTI-2 header cut short",
       [](const TempDir& d) {
         auto b = small_nifti(d, "short2.nii", 2);
         b.resize(400);
         write_bytes(d / "short2.nii", b);
         return d / "short2.nii";
       },
       ErrorKind::kInvalidInput, "too short for a NIfTI-2 header"},
      {"singular affine (zero sform)",
       [](const TempDir& d) {
         return edited_nifti(d, "singular.nii", [](auto& b) {
           for (std::size_t i = 0; i < 12; ++i) patch<float>(b, kN1Srow + 4 * i, 0.0f);
         });
       },
       ErrorKind::kInvalidInput, "singular.nii"},
      {"gzip stream shorter than a header",
       [](const TempDir& d) {
         auto b = small_nifti(d, "tiny.nii");
         b.resize(200);
         write_bytes(d / "tiny.nii.gz", testing::gzip_bytes(b));
         return d / "tiny.nii.gz";
       },
       ErrorKind::kInvalidInput, "too short"},
      {"header promising more than its gzip stream can hold (1 GiB in a few hundred bytes)",
       [](const TempDir& d) {
         auto b = small_nifti(d, "promise.nii");
         patch<std::int16_t>(b, kN1Dim + 2, 1024);
         patch<std::int16_t>(b, kN1Dim + 4, 1024);
         patch<std::int16_t>(b, kN1Dim + 6, 512);
         write_bytes(d / "promise.nii.gz", testing::gzip_bytes(b));
         return d / "promise.nii.gz";
       },
       ErrorKind::kInvalidInput, "more than a gzip stream"},
      {"decompression bomb (a 4 KiB image followed by 8 MiB of zeros)",
       [](const TempDir& d) {
         auto b = small_nifti(d, "bomb.nii");
         b.resize(b.size() + (8 << 20), 0);
         write_bytes(d / "bomb.nii.gz", testing::gzip_bytes(b));
         return d / "bomb.nii.gz";
       },
       ErrorKind::kInvalidInput, "decompression bomb"},
      {"gzip image over a lowered max_gzip_bytes",
       [](const TempDir& d) { return valid_gz(d, "big.nii.gz"); },
       ErrorKind::kUnsupported, "over the limit of 102400 bytes", std::uint64_t{100} << 10},
      {"gzip member followed by garbage before the image is complete",
       [](const TempDir& d) {
         auto b = small_nifti(d, "garbage.nii");
         auto gz = testing::gzip_bytes(std::span<const std::uint8_t>(b).first(1000));
         gz.insert(gz.end(), 64, 0x42);
         write_bytes(d / "garbage.nii.gz", gz);
         return d / "garbage.nii.gz";
       },
       ErrorKind::kInvalidInput, "corrupt gzip data after 1000 decompressed bytes"},
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
      if (c.max_gzip_bytes) {
        (void)io::read_nifti(path, nullptr, std::nullopt, io::ReadLimits{.max_gzip_bytes = *c.max_gzip_bytes});
      } else {
        (void)read_volume(path);
      }
      ADD_FAILURE() << c.name << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), c.kind) << c.name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(c.phrase), std::string::npos) << c.name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(path.filename().string()), std::string::npos)
          << c.name << ": message does not name the file: " << e.what();
    }
  }
}

// Runs `read`, which must throw an Error of `kind` whose message holds `phrase` and the name of
// `file`; failures name the case.
void expect_must_fail(const std::string& name, const std::function<void()>& read, ErrorKind kind,
                      const std::string& phrase, const std::string& file) {
  try {
    read();
    ADD_FAILURE() << name << ": no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.kind(), kind) << name << ": " << what;
    EXPECT_NE(what.find(phrase), std::string::npos) << name << ": " << what;
    EXPECT_NE(what.find(file), std::string::npos) << name << ": message does not name " << file << ": " << what;
  }
}

const Affine kIdentity{{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}};

Volume grid_volume(std::vector<float> values, Dims dims = {4, 4, 6}) {
  return Volume(dims, {1, 1, 1}, kIdentity, std::move(values), "RAS");
}

// Writes a uint8 multilabel file holding `values` with a label table extension `xml` (the
// CaretExtension TotalSegmentator v2 writes), moving the voxels behind it.
void write_labelled(const std::filesystem::path& path, std::vector<float> values, const std::string& xml) {
  const auto plain = path.parent_path() / "plain.nii";
  write_nifti(grid_volume(std::move(values)), plain, NiftiDatatype::kUint8);
  const auto b = read_file(plain);
  std::string payload = xml;
  payload.resize((payload.size() + 8 + 15) / 16 * 16 - 8, '\0');  // esize is a multiple of 16
  std::vector<std::uint8_t> out(b.begin(), b.begin() + 348);
  out.insert(out.end(), {1, 0, 0, 0});  // extender: extensions follow
  const auto esize = static_cast<std::int32_t>(payload.size() + 8);
  const std::int32_t ecode = 30;  // NIFTI_ECODE_CARET
  out.resize(out.size() + 8);
  std::memcpy(out.data() + 352, &esize, 4);
  std::memcpy(out.data() + 356, &ecode, 4);
  out.insert(out.end(), payload.begin(), payload.end());
  patch<float>(out, kN1VoxOffset, static_cast<float>(out.size()));
  out.insert(out.end(), b.begin() + 352, b.end());
  write_bytes(path, out);
}

std::string label_table(const std::string& key, const std::string& name) {
  return "<CaretExtension><LabelTable><Label Key=\"" + key + "\" Red=\"1\"><![CDATA[" + name +
         "]]></Label></LabelTable></CaretExtension>";
}

TEST(BadInput, EachMustFailLabelsInputGivesItsErrorKindAndNamesTheFile) {
  struct Case {
    const char* name;
    std::function<std::filesystem::path(const TempDir&)> make;
    ErrorKind kind;
    const char* phrase;
    bool v2 = false;  // read with LabelReadOptions::multilabel_version = v2
  };
  const auto labelled = [](const char* file, const std::string& key, const std::string& cls,
                           float value = 1.0f) {
    return [=](const TempDir& d) {
      write_labelled(d / file, std::vector<float>(96, value), label_table(key, cls));
      return d / file;
    };
  };
  const auto mask_folder = [](const std::function<void(const std::filesystem::path&)>& write_liver) {
    return [=](const TempDir& d) {
      std::filesystem::create_directories(d / "seg");
      write_liver(d / "seg");
      return d / "seg";
    };
  };
  const Case cases[] = {
      {"negative label id", labelled("neg.nii", "-3", "liver"), ErrorKind::kInvalidInput, "Key=\"-3\""},
      {"label id over the limit", labelled("big.nii", "70000", "liver"), ErrorKind::kInvalidInput,
       "not a label id (expected 0..65535)"},
      {"label id overflowing an int", labelled("overflow.nii", "99999999999", "liver"), ErrorKind::kInvalidInput,
       "Key=\"99999999999\""},
      {"label id that is no number", labelled("nan.nii", "abc", "liver"), ErrorKind::kInvalidInput,
       "Key=\"abc"},
      {"label table naming an unknown class", labelled("unknown.nii", "1", "flux_capacitor"),
       ErrorKind::kInvalidInput, "not a TotalSegmentator class"},
      {"voxel value missing from the label table", labelled("missing_id.nii", "1", "liver", 2.0f),
       ErrorKind::kInvalidInput, "value 2 on slice 0"},
      {"non-integer multilabel value",
       [](const TempDir& d) {
         write_nifti(grid_volume(std::vector<float>(96, 1.5f)), d / "frac.nii", NiftiDatatype::kFloat32);
         return d / "frac.nii";
       },
       ErrorKind::kInvalidInput, "value 1.5", true},
      {"labels path that does not exist", [](const TempDir& d) { return d / "absent.nii.gz"; },
       ErrorKind::kNotFound, "no such labels file"},
      {"mask folder without class files",
       mask_folder([](const std::filesystem::path& seg) { write_bytes(seg / "notes.txt", {'x'}); }),
       ErrorKind::kNotFound, "no mask file"},
      {"truncated mask",
       mask_folder([](const std::filesystem::path& seg) {
         write_nifti(grid_volume(std::vector<float>(96, 1.0f)), seg / "liver.nii.gz", NiftiDatatype::kUint8);
         auto b = read_file(seg / "liver.nii.gz");
         b.resize(b.size() - 12);
         write_bytes(seg / "liver.nii.gz", b);
       }),
       ErrorKind::kInvalidInput, "liver.nii.gz: gzip data is truncated"},
      {"mask with absurd dims",
       mask_folder([](const std::filesystem::path& seg) {
         write_nifti(grid_volume(std::vector<float>(96, 1.0f)), seg / "spleen.nii", NiftiDatatype::kUint8);
         auto b = read_file(seg / "spleen.nii");
         patch<std::int16_t>(b, kN1Dim + 2, -7);
         write_bytes(seg / "spleen.nii", b);
       }),
       ErrorKind::kInvalidInput, "spleen.nii"},
      {"mask on another grid",
       mask_folder([](const std::filesystem::path& seg) {
         write_nifti(grid_volume(std::vector<float>(80, 1.0f), {4, 4, 5}), seg / "liver.nii", NiftiDatatype::kUint8);
       }),
       ErrorKind::kInvalidInput, "liver.nii: label grid 4x4x5"},
  };
  const Volume ct = grid_volume(std::vector<float>(96, 0.0f));
  for (const auto& c : cases) {
    TempDir dir;
    const auto path = c.make(dir);
    LabelReadOptions options;
    if (c.v2) options.multilabel_version = LabelVersion::kV2;
    expect_must_fail(c.name, [&] { (void)read_labels(path, ct, options); }, c.kind, c.phrase,
                     path.filename().string());
  }
}

TEST(BadInput, MasksAreThresholdedAboveHalfAsBeforeWhateverTheirDatatype) {
  // read_labels reads masks as uint8 without a float copy; a float mask with values around 0.5
  // must still count only voxels above 0.5, and a scaled integer mask its scaled values.
  TempDir dir;
  std::filesystem::create_directories(dir / "seg");
  std::vector<float> v(96, 0.0f);
  v[0] = 0.5f;   // not above 0.5
  v[1] = 0.51f;  // above
  v[16] = 7.0f;  // slice 1
  write_nifti(grid_volume(v), dir / "seg" / "liver.nii", NiftiDatatype::kFloat32);
  RawNifti raw;  // int16 with scl_slope 0.25: stored 2 -> 0.5 (out), 3 -> 0.75 (in)
  raw.dims = {4, 4, 6};
  raw.scl_slope = 0.25;
  raw.values = zeros(96);
  raw.values[32] = 2;
  raw.values[33] = 3;
  raw.values[34] = 3;
  testing::write_raw_nifti(dir / "seg" / "spleen.nii", raw);
  const SliceLabels labels = read_labels(dir / "seg", grid_volume(std::vector<float>(96, 0.0f)));
  const int liver = labels.catalog().at("liver").index;
  const int spleen = labels.catalog().at("spleen").index;
  EXPECT_EQ(labels.count(liver, 0), 1U);
  EXPECT_EQ(labels.count(liver, 1), 1U);
  EXPECT_EQ(labels.count(spleen, 2), 2U);
  EXPECT_EQ(labels.count(spleen, 0), 0U);
}

TEST(BadInput, EachMustFailModelSidecarGivesItsErrorKindAndNamesTheFile) {
  const std::string valid =
      R"({"format": "voxir-model/1", "name": "m", "input": {"width": 224, "height": 224, "channels": 3},
          "windows": [[-1000, 1000]], "mean": [0.5], "std": [0.25],
          "output": {"dim": 384, "index": 0, "pooling": "none"}})";
  ASSERT_NO_THROW((void)embed::parse_sidecar(valid, "ok.json"));
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string s = valid;
    const auto at = s.find(from);
    if (at == std::string::npos) throw std::logic_error("no " + from + " in the sidecar");
    return s.replace(at, from.size(), to);
  };
  struct Case {
    const char* name;
    std::string text;
    const char* phrase;
  };
  const Case cases[] = {
      {"negative output.index", with(R"("index": 0)", R"("index": -1)"), "output.index = -1 (expected 0..63)"},
      {"huge output.index", with(R"("index": 0)", R"("index": 1000000000000)"), "output.index = 1000000000000"},
      {"output.dim zero", with(R"("dim": 384)", R"("dim": 0)"), "output.dim = 0"},
      {"output.dim wrapping to 1 as an int", with(R"("dim": 384)", R"("dim": 4294967297)"),
       "output.dim = 4294967297"},
      {"input.width wrapping to 8 as an int", with(R"("width": 224)", R"("width": 4294967304)"),
       "input.width = 4294967304"},
      {"input.channels 0", with(R"("channels": 3)", R"("channels": 0)"), "channels = 0"},
      {"name that is no string", with(R"("name": "m")", R"("name": 42)"), "\"name\" must be a string"},
      {"overlong name", with(R"("name": "m")", "\"name\": \"" + std::string(300, 'n') + "\""),
       "300 characters long"},
      {"pooling that is no string", with(R"("pooling": "none")", R"("pooling": 3)"),
       "\"pooling\" must be a string"},
      {"format that is no string", with(R"("format": "voxir-model/1")", R"("format": 1)"), "\"format\" is 1"},
      {"windows that is an object", with(R"("windows": [[-1000, 1000]])", R"("windows": {"a": 1})"),
       "\"windows\" must be an array"},
      {"negative std", with(R"("std": [0.25])", R"("std": [-1])"), "std -1"},
      {"not JSON", "{\"format\": ", "not valid JSON"},
  };
  for (const auto& c : cases) {
    expect_must_fail(c.name, [&] { (void)embed::parse_sidecar(c.text, "/models/bad_model.json"); },
                     ErrorKind::kInvalidInput, c.phrase, "bad_model.json");
  }
}

TEST(BadInput, EachMustFailMetaCsvGivesItsErrorKindAndNamesTheFile) {
  struct Case {
    const char* name;
    std::string meta;  // empty: the case writes meta.csv itself (see below)
    const char* phrase;
  };
  const Case cases[] = {
      {"image_id with a backslash", "image_id,split\ns1\\..,train\n", "holds a path separator"},
      {"image_id with a control character", "image_id,split\ns\x01" "1,train\n", "holds a control character"},
      {"overlong image_id", "image_id,split\n" + std::string(300, 's') + ",train\n", "longer than 255 bytes"},
      {"image_id '..'", "image_id,split\n..,train\n", "is a relative path"},
      {"empty image_id", "image_id,split\n,train\n", "is empty"},
      {"ragged row", "image_id,split\ns1,train,extra\n", "3 fields, expected 2"},
      {"unterminated quote", "image_id,split\n\"s1,train\n", "unterminated quoted field"},
      {"header without split", "image_id,age\ns1,3\n", "header lacks 'split'"},
      {"duplicate image_id", "image_id,split\ns1,train\ns1,test\n", "duplicate image_id 's1'"},
      {"meta.csv over the size limit", "", "expected a table of at most 64 MiB"},
  };
  for (const auto& c : cases) {
    TempDir d;
    std::filesystem::create_directories(d / "s1");
    write_bytes(d / "s1" / "ct.nii.gz", {'x'});
    if (c.meta.empty()) {
      write_bytes(d / "meta.csv", {'i', 'm', 'a', 'g', 'e', '_', 'i', 'd', ',', 's', 'p', 'l', 'i', 't', '\n'});
      std::filesystem::resize_file(d / "meta.csv", std::uintmax_t{65} << 20);  // sparse: no disk used
    } else {
      write_bytes(d / "meta.csv", {c.meta.begin(), c.meta.end()});
    }
    expect_must_fail(c.name, [&] { (void)Dataset::open(d.path()); }, ErrorKind::kInvalidInput, c.phrase,
                     (d / "meta.csv").string());
  }
}

}  // namespace
}  // namespace voxir
