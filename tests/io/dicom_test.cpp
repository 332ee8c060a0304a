// DICOM series reading: synthetic series with known geometry and values, the real samples in
// ../shared/data checked against GDCM read independently, and a table of must-fail folders.
#include "io/dicom.h"
#include "testutil/dicom_files.h"
#include "testutil/shared_data.h"
#include "testutil/temp_dir.h"
#include "util/file.h"
#include "voxir/error.h"
#include "voxir/volume.h"

#include <fmt/format.h>
#include <gdcmImage.h>
#include <gdcmImageReader.h>
#include <gdcmReader.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <sstream>
#include <string>

namespace voxir {
namespace {

namespace fs = std::filesystem;
using testing::DicomSlice;
using testing::TempDir;

using Vec = std::array<double, 3>;

// A series of `n` slices along the normal of `orientation`, `gap` mm apart, starting at `origin`.
// Stored value of (column c, row r, slice s) is c + 10 r + 100 s, so every voxel says where it
// came from. Files are named so that name order is neither position nor instance order.
std::vector<DicomSlice> series(int n, double gap,
                               std::array<double, 6> orientation = {1, 0, 0, 0, 1, 0},
                               Vec origin = {-10, 20, 30}) {
  const Vec row{orientation[0], orientation[1], orientation[2]};
  const Vec col{orientation[3], orientation[4], orientation[5]};
  const Vec normal{row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2],
                   row[0] * col[1] - row[1] * col[0]};
  std::vector<DicomSlice> out;
  for (int s = 0; s < n; ++s) {
    DicomSlice d;
    d.orientation = orientation;
    d.position = Vec{origin[0] + s * gap * normal[0], origin[1] + s * gap * normal[1],
                     origin[2] + s * gap * normal[2]};
    d.instance_number = n - s;
    d.pixels.resize(std::size_t{d.rows} * d.columns);
    for (unsigned r = 0; r < d.rows; ++r)
      for (unsigned c = 0; c < d.columns; ++c)
        d.pixels[r * d.columns + c] = static_cast<std::int16_t>(c + 10 * r + 100 * s);
    out.push_back(std::move(d));
  }
  return out;
}

// Writes the slices into `dir` under names whose order is scrambled relative to the positions.
void write_series(const fs::path& dir, const std::vector<DicomSlice>& slices,
                  const std::string& prefix = "img") {
  fs::create_directories(dir);
  for (std::size_t i = 0; i < slices.size(); ++i) {
    const std::size_t scrambled = (i * 7 + 3) % 101;
    testing::write_dicom_slice(dir / fmt::format("{}{:03}", prefix, scrambled), slices[i]);
  }
}

// For every canonical voxel, finds the source (column, row, slice) its world position falls on
// from the DICOM geometry, and checks the stored code c + 10 r + 100 s (rescaled) is there.
void expect_geometry_matches(const Volume& vol, const std::vector<DicomSlice>& slices, double gap,
                             const std::string& what) {
  const auto& o = *slices.front().orientation;
  const Vec row{o[0], o[1], o[2]};
  const Vec col{o[3], o[4], o[5]};
  const Vec normal{row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2],
                   row[0] * col[1] - row[1] * col[0]};
  const Vec origin = *slices.front().position;
  const auto& sp = slices.front().pixel_spacing;
  const auto& a = vol.affine();
  for (std::int64_t k = 0; k < vol.nz(); ++k) {
    for (std::int64_t j = 0; j < vol.ny(); ++j) {
      for (std::int64_t i = 0; i < vol.nx(); ++i) {
        Vec lps{};
        for (int w = 0; w < 3; ++w) {
          const double ras = a[w][0] * i + a[w][1] * j + a[w][2] * k + a[w][3];
          lps[w] = (w < 2 ? -ras : ras) - origin[w];
        }
        const double c = (lps[0] * row[0] + lps[1] * row[1] + lps[2] * row[2]) / sp[1];
        const double r = (lps[0] * col[0] + lps[1] * col[1] + lps[2] * col[2]) / sp[0];
        const double s = (lps[0] * normal[0] + lps[1] * normal[1] + lps[2] * normal[2]) / gap;
        ASSERT_NEAR(c, std::round(c), 1e-6) << what;
        ASSERT_NEAR(r, std::round(r), 1e-6) << what;
        ASSERT_NEAR(s, std::round(s), 1e-6) << what;
        const double expect = std::round(c) + 10 * std::round(r) + 100 * std::round(s) - 1024;
        ASSERT_EQ(vol.at(i, j, k), expect) << what << " at canonical " << i << "," << j << "," << k;
      }
    }
  }
}

TEST(Dicom, OrdersSlicesByPositionAndMapsEveryOrientationToCanonical) {
  struct Case {
    const char* name;
    std::array<double, 6> orientation;
    double gap;
    Dims dims;
    const char* source;
  };
  const Case cases[] = {
      {"axial, head first (LPS)", {1, 0, 0, 0, 1, 0}, 2.5, {6, 4, 5}, "LPS"},
      {"axial, positions descending", {1, 0, 0, 0, 1, 0}, -2.5, {6, 4, 5}, "LPS"},
      {"coronal", {1, 0, 0, 0, 0, -1}, 1.5, {6, 5, 4}, "LIP"},
      {"sagittal", {0, 1, 0, 0, 0, -1}, 3, {5, 6, 4}, "PIR"},
      {"axial, rotated rows", {0, 1, 0, -1, 0, 0}, 2, {4, 6, 5}, "PRS"},
      {"axial, normal pointing inferior", {1, 0, 0, 0, -1, 0}, 2, {6, 4, 5}, "LAI"},
      {"oblique (20 degrees about x)",
       {1, 0, 0, 0, 0.9396926207859084, -0.3420201433256687},
       2,
       {6, 4, 5},
       "LPS"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    const auto slices = series(5, c.gap, c.orientation);
    write_series(dir.path(), slices);
    const Volume vol = read_volume(dir.path());
    EXPECT_EQ(vol.dims(), c.dims) << c.name;
    EXPECT_EQ(vol.source_orientation(), c.source) << c.name;
    // Slice 0 is inferior: world z grows with k.
    EXPECT_GE(vol.affine()[2][2], 0) << c.name;
    expect_geometry_matches(vol, slices, c.gap, c.name);
  }
}

TEST(Dicom, AppliesEachFilesOwnRescale) {
  TempDir dir;
  auto slices = series(3, 1.0);
  slices[1].slope = 2;
  slices[1].intercept = -1000;
  slices[2].slope = 0.5;
  slices[2].intercept = 7;
  write_series(dir.path(), slices);
  const Volume vol = read_volume(dir.path());
  ASSERT_EQ(vol.dims(), (Dims{6, 4, 3}));
  // Canonical i runs right (file column reversed), j anterior (file row reversed).
  for (int k = 0; k < 3; ++k) {
    const double stored = 5 + 10 * 3 + 100 * k;  // file column 5, row 3 = canonical (0, 0)
    EXPECT_FLOAT_EQ(vol.at(0, 0, k),
                    static_cast<float>(stored * slices[k].slope + slices[k].intercept))
        << "slice " << k;
  }
}

TEST(Dicom, HonoursBitsStoredAndTheHeadersSign) {
  // 13 bits stored in signed 16-bit words: bit 12 is the sign, the 3 bits above carry no value.
  // Raw: garbage in the top bits. JPEG 2000: a codestream encoded unsigned in a file whose
  // header says signed (pydicom's J2K_pixelrep_mismatch.dcm is such a file; the header wins).
  struct Case {
    const char* name;
    bool jpeg2000;
    std::int16_t hundred;  // how 100 is stored
  };
  const Case cases[] = {{"raw with garbage bits", false, static_cast<std::int16_t>(0xe064)},
                        {"JPEG 2000, unsigned codestream, signed header", true, 100}};
  for (const auto& c : cases) {
    TempDir dir;
    auto slices = series(2, 1.0);
    for (auto& s : slices) {
      s.bits_stored = 13;
      s.intercept = 0;
      s.jpeg2000 = c.jpeg2000;
      s.j2k_sign_mismatch = c.jpeg2000;
      if (c.jpeg2000) s.rows = s.columns = 16;  // GDCM's JPEG 2000 encoder crashes on 4x6 images
      s.pixels.assign(std::size_t{s.rows} * s.columns, 0);
      s.pixels[0] = c.hundred;
      s.pixels[1] = static_cast<std::int16_t>(0x1830);  // -2000 in 13-bit two's complement
      s.pixels[2] = static_cast<std::int16_t>(0x0fff);  // 4095, the largest positive value
    }
    write_series(dir.path(), slices);
    const Volume vol = read_volume(dir.path());
    // File (column c, row 0) is canonical (nx-1-c, ny-1).
    const std::int64_t i = vol.nx() - 1;
    const std::int64_t j = vol.ny() - 1;
    EXPECT_EQ(vol.at(i, j, 0), 100) << c.name;
    EXPECT_EQ(vol.at(i - 1, j, 0), -2000) << c.name;
    EXPECT_EQ(vol.at(i - 2, j, 0), 4095) << c.name;
    EXPECT_EQ(vol.at(i - 3, j, 1), 0) << c.name;
  }
}

TEST(Dicom, SkipsNonDicomFilesAndListsSeries) {
  TempDir dir;
  write_series(dir.path(), series(3, 1.0));
  const std::string text = "not dicom";
  write_file_atomic(dir / "README.txt",
                    {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, false);
  write_file_atomic(dir / "empty", {}, false);
  fs::create_directories(dir / "sub");
  auto other = series(2, 1.0);
  for (auto& s : other) {
    s.series_uid = "1.2.3.4";
    s.modality = "MR";
    s.description = "a T1";
  }
  write_series(dir / "sub", other);  // sub-folders are not searched

  const io::DicomFolderSummary summary = io::list_dicom_series(dir.path());
  ASSERT_EQ(summary.series.size(), 1u);
  EXPECT_EQ(summary.series[0].files, 3u);
  EXPECT_EQ(summary.series[0].modality, "CT");
  EXPECT_EQ(summary.non_dicom_files, 2u);
  EXPECT_EQ(read_volume(dir.path()).nz(), 3);

  write_series(dir.path(), other, "mr");
  const auto two = io::list_dicom_series(dir.path());
  ASSERT_EQ(two.series.size(), 2u);
  EXPECT_EQ(two.series[0].uid, "1.2.3.4");
  EXPECT_EQ(two.series[0].modality, "MR");
  EXPECT_EQ(two.series[0].description, "a T1");
  EXPECT_EQ(two.series[0].files, 2u);
  ReadOptions pick;
  pick.series_uid = "1.2.826.0.1.3680043.9.7777.1";
  EXPECT_EQ(read_volume(dir.path(), pick).nz(), 3);
  pick.series_uid = "1.2.3.4";
  EXPECT_THROW((void)read_volume(dir.path(), pick), Error);  // MR
}

TEST(Dicom, FilesWithoutSeriesUidFormOneSeries) {
  TempDir dir;
  auto slices = series(4, 1.25);
  for (auto& s : slices) s.series_uid.clear();
  write_series(dir.path(), slices);
  const auto summary = io::list_dicom_series(dir.path());
  ASSERT_EQ(summary.series.size(), 1u);
  EXPECT_EQ(summary.series[0].uid, io::kNoSeriesUid);
  EXPECT_EQ(read_volume(dir.path()).nz(), 4);
}

TEST(Dicom, ResamplesUnevenSpacingOnlyWhenAsked) {
  TempDir dir;
  auto slices = series(4, 1.0);
  // Positions 0, 1, 2, 4 mm (slice 3 is missing); values 0, 10, 20, 60 everywhere.
  const double z[] = {0, 1, 2, 4};
  const std::int16_t v[] = {0, 10, 20, 60};
  for (std::size_t s = 0; s < 4; ++s) {
    (*slices[s].position)[2] = 30 + z[s];
    std::fill(slices[s].pixels.begin(), slices[s].pixels.end(), v[s]);
    slices[s].intercept = 0;
  }
  write_series(dir.path(), slices);
  EXPECT_THROW((void)read_volume(dir.path()), Error);
  ReadOptions resample;
  resample.resample_uneven = true;
  const Volume vol = read_volume(dir.path(), resample);
  ASSERT_EQ(vol.nz(), 5);
  EXPECT_NEAR(vol.spacing()[2], 1.0, 1e-9);
  EXPECT_NEAR(vol.affine()[2][3], 30, 1e-9);
  const float expect[] = {0, 10, 20, 40, 60};
  for (int k = 0; k < 5; ++k) EXPECT_FLOAT_EQ(vol.at(2, 1, k), expect[k]) << "slice " << k;
}

TEST(Dicom, SmallGantryTiltWithinAPixelTenthIsAccepted) {
  TempDir dir;
  auto slices = series(5, 2.0);
  for (std::size_t s = 0; s < slices.size(); ++s)
    (*slices[s].position)[1] += 0.005 * static_cast<double>(s);
  write_series(dir.path(), slices);
  const Volume vol = read_volume(dir.path());
  EXPECT_EQ(vol.nz(), 5);
  EXPECT_NEAR(vol.affine()[1][2], -0.005, 1e-9);  // the exact step is kept (RAS y = -LPS y)
}

struct BadFolder {
  const char* name;
  std::function<void(const fs::path&)> make;
  ErrorKind kind;
  const char* phrase;
};

void truncate_file(const fs::path& p, std::size_t keep) {
  auto bytes = read_file(p);
  bytes.resize(keep);
  write_file_atomic(p, bytes, false);
}

// Sets the US element (group, element) of an explicit-VR little-endian file to `value` in place,
// so a header can claim what the pixel data does not hold (writing 40000 x 40000 real pixels
// would take gigabytes).
void patch_us(const fs::path& p, std::uint16_t group, std::uint16_t element, std::uint16_t value) {
  auto bytes = read_file(p);
  const std::uint8_t tag[8] = {static_cast<std::uint8_t>(group & 0xff), static_cast<std::uint8_t>(group >> 8),
                               static_cast<std::uint8_t>(element & 0xff), static_cast<std::uint8_t>(element >> 8),
                               'U', 'S', 2, 0};
  const auto it = std::search(bytes.begin(), bytes.end(), std::begin(tag), std::end(tag));
  ASSERT_NE(it, bytes.end()) << p << " has no US element " << group << "," << element;
  const auto at = static_cast<std::size_t>(it - bytes.begin()) + 8;
  bytes[at] = static_cast<std::uint8_t>(value & 0xff);
  bytes[at + 1] = static_cast<std::uint8_t>(value >> 8);
  write_file_atomic(p, bytes, false);
}

// Every file of a series written by write_series, in `dir`.
void patch_all(const fs::path& dir, std::uint16_t group, std::uint16_t element, std::uint16_t value) {
  for (const auto& e : fs::directory_iterator(dir)) patch_us(e.path(), group, element, value);
}

TEST(Dicom, EachMustFailFolderGivesItsErrorKind) {
  const BadFolder cases[] = {
      {"empty folder", [](const fs::path&) {}, ErrorKind::kNotFound, "no DICOM files"},
      {"only non-DICOM files",
       [](const fs::path& d) {
         const std::string s(400, 'x');
         write_file_atomic(d / "notes", {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()},
                           false);
       },
       ErrorKind::kNotFound, "no DICOM files"},
      {"MR modality",
       [](const fs::path& d) {
         auto s = series(3, 1);
         for (auto& x : s) x.modality = "MR";
         write_series(d, s);
       },
       ErrorKind::kUnsupported, "Modality is MR"},
      {"SEG modality in a CT series",
       [](const fs::path& d) {
         auto s = series(3, 1);
         s[1].modality = "SEG";
         write_series(d, s);
       },
       ErrorKind::kUnsupported, "Modality is SEG"},
      {"no PixelData",
       [](const fs::path& d) {
         auto s = series(3, 1);
         s[2].pixel_data = false;
         write_series(d, s);
       },
       ErrorKind::kInvalidInput, "no PixelData"},
      {"a CT file without pixel data or geometry",
       [](const fs::path& d) {
         DicomSlice s;
         s.pixel_data = false;
         s.position.reset();
         s.orientation.reset();
         testing::write_dicom_slice(d / "dose_report", s);
       },
       ErrorKind::kInvalidInput, "no PixelData (not an image"},
      {"missing ImagePositionPatient",
       [](const fs::path& d) {
         auto s = series(3, 1);
         s[1].position.reset();
         write_series(d, s);
       },
       ErrorKind::kInvalidInput, "ImagePositionPatient is missing"},
      {"missing ImageOrientationPatient",
       [](const fs::path& d) {
         auto s = series(3, 1);
         s[0].orientation.reset();
         write_series(d, s);
       },
       ErrorKind::kInvalidInput, "ImageOrientationPatient is missing"},
      {"inconsistent orientation",
       [](const fs::path& d) {
         auto s = series(3, 1);
         s[2].orientation = std::array<double, 6>{1, 0, 0, 0, 0.8, 0.6};
         write_series(d, s);
       },
       ErrorKind::kInvalidInput, "must be parallel"},
      {"inconsistent rows and columns",
       [](const fs::path& d) {
         auto s = series(3, 1);
         s[1].rows = 2;
         s[1].pixels.resize(2 * 6);
         write_series(d, s);
       },
       ErrorKind::kInvalidInput, "rows x"},
      {"duplicate position",
       [](const fs::path& d) {
         auto s = series(3, 1);
         s[2].position = s[1].position;
         write_series(d, s);
       },
       ErrorKind::kInvalidInput, "same position"},
      {"gantry tilt",
       [](const fs::path& d) {
         auto s = series(5, 2);
         // 15 degrees: each 2 mm step also moves 2 tan(15) mm posteriorly.
         for (std::size_t i = 0; i < s.size(); ++i)
           (*s[i].position)[1] +=
               2 * std::tan(15 * 3.14159265358979 / 180) * static_cast<double>(i);
         write_series(d, s);
       },
       ErrorKind::kUnsupported, "gantry tilt of 15.00 degrees"},
      {"uneven spacing (a slice dropped)",
       [](const fs::path& d) {
         auto s = series(5, 2);
         s.erase(s.begin() + 2);
         write_series(d, s);
       },
       ErrorKind::kUnsupported, "uneven slice spacing"},
      {"two series",
       [](const fs::path& d) {
         auto a = series(3, 1);
         auto b = series(2, 1);
         for (auto& x : b) x.series_uid = "1.2.3.99";
         write_series(d, a, "a");
         write_series(d, b, "b");
       },
       ErrorKind::kUsage, "1.2.3.99 (CT, 2 files, synthetic)"},
      {"truncated file (pixel data cut)",
       [](const fs::path& d) {
         auto s = series(3, 1);
         write_series(d, s);
         truncate_file(d / "img010", fs::file_size(d / "img010") - 20);
       },
       ErrorKind::kInvalidInput, "img010"},
      {"truncated file (header cut)",
       [](const fs::path& d) {
         write_series(d, series(3, 1));
         truncate_file(d / "img017", 200);
       },
       ErrorKind::kInvalidInput, "img017"},
      // Bounds checked before any pixel buffer is allocated (docs/limits.md).
      {"absurd Rows (40000)",
       [](const fs::path& d) {
         write_series(d, series(3, 1));
         patch_all(d, 0x0028, 0x0010, 40000);
       },
       ErrorKind::kInvalidInput, "40000 rows x 6 columns exceeds the limit"},
      {"absurd Columns in one file (9000)",
       [](const fs::path& d) {
         write_series(d, series(3, 1));
         patch_us(d / "img010", 0x0028, 0x0011, 9000);
       },
       ErrorKind::kInvalidInput, "exceeds the limit of 8192 per side"},
      {"BitsAllocated 64",
       [](const fs::path& d) {
         write_series(d, series(3, 1));
         patch_all(d, 0x0028, 0x0100, 64);
       },
       ErrorKind::kUnsupported, "BitsAllocated is 64"},
      {"BitsAllocated 0",
       [](const fs::path& d) {
         write_series(d, series(3, 1));
         patch_us(d / "img003", 0x0028, 0x0100, 0);
       },
       ErrorKind::kUnsupported, "BitsAllocated is 0"},
      {"Rows x Columns x files over the voxel limit (40 slices of 8192 x 8192)",
       [](const fs::path& d) {
         write_series(d, series(40, 1));
         patch_all(d, 0x0028, 0x0010, 8192);
         patch_all(d, 0x0028, 0x0011, 8192);
       },
       ErrorKind::kUnsupported, "over the limit of 2147483648"},
      {"file over the size limit (sparse, 1.1 GiB)",
       [](const fs::path& d) {
         write_series(d, series(3, 1));
         fs::resize_file(d / "img010", (std::uintmax_t{11} << 30) / 10);  // no disk blocks used
       },
       ErrorKind::kUnsupported, "img010: 1181116006 bytes, larger than any CT slice"},
      {"corrupt header",
       [](const fs::path& d) {
         write_series(d, series(3, 1));
         auto b = read_file(d / "img003");
         for (std::size_t i = 140; i < 220 && i < b.size(); ++i) b[i] = 0xff;
         write_file_atomic(d / "img003", b, false);
       },
       ErrorKind::kInvalidInput, "img003"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    c.make(dir.path());
    try {
      (void)read_volume(dir.path());
      ADD_FAILURE() << c.name << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), c.kind) << c.name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(c.phrase), std::string::npos)
          << c.name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(dir.path().string()), std::string::npos)
          << c.name << ": message does not name the folder or file: " << e.what();
    }
  }
}

TEST(Dicom, UnknownSeriesUidIsNotFound) {
  TempDir dir;
  write_series(dir.path(), series(3, 1));
  ReadOptions options;
  options.series_uid = "9.9.9";
  try {
    (void)read_volume(dir.path(), options);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("1.2.826.0.1.3680043.9.7777.1"), std::string::npos)
        << e.what();
  }
}

// ---- real samples, checked against GDCM read independently ----

struct RawSlice {
  fs::path path;
  double z = 0;  // ImagePositionPatient z (LPS z = RAS z)
  std::vector<float> hu;
  unsigned columns = 0;
};

std::vector<double> ds_values(const gdcm::DataSet& ds, gdcm::Tag tag) {
  const gdcm::ByteValue* bv = ds.GetDataElement(tag).GetByteValue();
  std::string s(bv->GetPointer(), bv->GetLength());
  std::replace(s.begin(), s.end(), '\\', ' ');
  std::istringstream in(s);
  std::vector<double> v;
  for (double x = 0; in >> x;) v.push_back(x);
  return v;
}

RawSlice read_raw(const fs::path& p) {
  gdcm::ImageReader r;
  r.SetFileName(p.c_str());
  EXPECT_TRUE(r.Read()) << p;
  const gdcm::Image& img = r.GetImage();
  RawSlice s;
  s.path = p;
  s.columns = img.GetColumns();
  const auto& ds = r.GetFile().GetDataSet();
  s.z = ds_values(ds, gdcm::Tag(0x0020, 0x0032)).at(2);
  const double slope = ds_values(ds, gdcm::Tag(0x0028, 0x1053)).at(0);
  const double inter = ds_values(ds, gdcm::Tag(0x0028, 0x1052)).at(0);
  std::vector<char> buf(img.GetBufferLength());
  EXPECT_TRUE(img.GetBuffer(buf.data()));
  const std::size_t n = std::size_t{img.GetColumns()} * img.GetRows();
  s.hu.resize(n);
  const bool is_signed = img.GetPixelFormat().GetPixelRepresentation() == 1;
  for (std::size_t i = 0; i < n; ++i) {
    double v = is_signed ? reinterpret_cast<const std::int16_t*>(buf.data())[i]
                         : reinterpret_cast<const std::uint16_t*>(buf.data())[i];
    s.hu[i] = static_cast<float>(v * slope + inter);
  }
  return s;
}

std::vector<RawSlice> read_raw_folder(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<RawSlice> out;
  for (const auto& f : files) out.push_back(read_raw(f));
  return out;
}

// Each canonical slice k must hold the file whose z is the affine's z of k, flipped LPS -> RAS
// (canonical (i, j) is file column nx-1-i, row ny-1-j for these axial LPS series).
void expect_slices_match_files(const Volume& vol, const std::vector<RawSlice>& raw) {
  for (std::int64_t k = 0; k < vol.nz(); ++k) {
    const double z = vol.affine()[2][2] * static_cast<double>(k) + vol.affine()[2][3];
    const auto it = std::find_if(raw.begin(), raw.end(),
                                 [&](const auto& r) { return std::abs(r.z - z) < 1e-3; });
    ASSERT_NE(it, raw.end()) << "no file at z " << z;
    for (std::int64_t j = 0; j < vol.ny(); j += 37) {
      for (std::int64_t i = 0; i < vol.nx(); i += 29) {
        const std::size_t src =
            static_cast<std::size_t>((vol.ny() - 1 - j) * it->columns + (vol.nx() - 1 - i));
        ASSERT_EQ(vol.at(i, j, k), it->hu[src])
            << it->path << " canonical " << i << "," << j << "," << k;
      }
    }
  }
}

// The JPEG 2000 sample takes a while to decode on 2 cores: read it once for all tests.
const Volume& ts_abdomen(const fs::path& data) {
  static const Volume volume = read_volume(data / "ct/ts-dicom-abdomen/dicom");
  return volume;
}

TEST(DicomSample, TsAbdomenSeries) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const fs::path dir = data / "ct/ts-dicom-abdomen/dicom";
  const Volume& vol = ts_abdomen(data);
  EXPECT_EQ(vol.dims(), (Dims{512, 512, 20}));
  EXPECT_EQ(vol.hu_range(), (std::array<float, 2>{-1024, 1839}));
  EXPECT_NEAR(vol.spacing()[0], 0.9765625, 1e-6);
  EXPECT_NEAR(vol.spacing()[1], 0.9765625, 1e-6);
  EXPECT_NEAR(vol.spacing()[2], 2.0, 1e-6);
  EXPECT_EQ(vol.source_orientation(), "LPS");

  const auto raw = read_raw_folder(dir);
  ASSERT_EQ(raw.size(), 20u);
  expect_slices_match_files(vol, raw);
  // The files sorted by name run from head to feet (z falls), so name order is the reverse of
  // the canonical order: slice 0 (most inferior) is the last file by name.
  for (std::size_t i = 1; i < raw.size(); ++i) EXPECT_LT(raw[i].z, raw[i - 1].z) << raw[i].path;
  EXPECT_NEAR(vol.affine()[2][3], raw.back().z, 1e-6);
  EXPECT_NEAR(vol.affine()[2][3] + 19 * vol.affine()[2][2], raw.front().z, 1e-6);

  const auto summary = io::list_dicom_series(dir);
  ASSERT_EQ(summary.series.size(), 1u);
  EXPECT_EQ(summary.series[0].uid, io::kNoSeriesUid);  // this sample's SeriesInstanceUID is empty
  EXPECT_EQ(summary.series[0].files, 20u);
}

TEST(DicomSample, TsAbdomenLabelsLieOnTheDicomGrid) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const Volume& ct = ts_abdomen(data);
  const Volume labels = read_volume(data / "ct/ts-dicom-abdomen/example_seg_dicom_v2.nii.gz");
  EXPECT_EQ(labels.dims(), ct.dims());
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c)
      EXPECT_NEAR(labels.affine()[r][c], ct.affine()[r][c], 1e-3)
          << "affine[" << r << "][" << c << "]";
}

TEST(DicomSample, TruncatedJpeg2000FileIsReportedNotDecoded) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  TempDir dir;
  const fs::path src =
      data / "ct/ts-dicom-abdomen/dicom/CT.1.3.12.2.1107.5.1.4.60064.30000022120808113428000016580";
  const fs::path dst = dir / "slice";
  fs::copy_file(src, dst);
  fs::permissions(dst, fs::perms::owner_write, fs::perm_options::add);
  truncate_file(dst, fs::file_size(src) * 6 / 10);
  try {
    (void)read_volume(dir.path());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
    EXPECT_NE(std::string(e.what()).find(dst.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

TEST(DicomSample, Dcmqi3Slice) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const fs::path dir = data / "ct/dcmqi-3slice/dicom";
  const Volume vol = read_volume(dir);
  EXPECT_EQ(vol.dims(), (Dims{512, 512, 3}));
  EXPECT_NEAR(vol.spacing()[2], 1.0, 1e-4);
  EXPECT_EQ(vol.hu_range()[0], -3024);  // outside the field of view: stored -2000, intercept -1024
  expect_slices_match_files(vol, read_raw_folder(dir));
}

}  // namespace
}  // namespace voxir
