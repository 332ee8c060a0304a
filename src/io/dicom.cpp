#include "io/dicom.h"

#include "io/dicom_structure.h"
#include "io/limits.h"
#include "io/orientation.h"
#include "util/file.h"
#include "voxir/error.h"

#include <gdcmDataSet.h>
#include <gdcmDicts.h>
#include <gdcmFile.h>
#include <gdcmGlobal.h>
#include <gdcmImage.h>
#include <gdcmPixmapReader.h>
#include <gdcmReader.h>
#include <gdcmTag.h>
#include <gdcmTrace.h>
#include <gdcmTransferSyntax.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <numbers>
#include <optional>
#include <set>
#include <streambuf>

namespace voxir::io {
namespace {

namespace fs = std::filesystem;

const gdcm::Tag kModality(0x0008, 0x0060);
const gdcm::Tag kSeriesDescription(0x0008, 0x103e);
const gdcm::Tag kSliceThickness(0x0018, 0x0050);
const gdcm::Tag kGantryTilt(0x0018, 0x1120);
const gdcm::Tag kSeriesInstanceUid(0x0020, 0x000e);
const gdcm::Tag kAcquisitionNumber(0x0020, 0x0012);
const gdcm::Tag kTemporalPositionIdentifier(0x0020, 0x0100);
const gdcm::Tag kImagePosition(0x0020, 0x0032);
const gdcm::Tag kImageOrientation(0x0020, 0x0037);
const gdcm::Tag kSamplesPerPixel(0x0028, 0x0002);
const gdcm::Tag kNumberOfFrames(0x0028, 0x0008);
const gdcm::Tag kRows(0x0028, 0x0010);
const gdcm::Tag kColumns(0x0028, 0x0011);
const gdcm::Tag kBitsAllocated(0x0028, 0x0100);
const gdcm::Tag kPixelSpacing(0x0028, 0x0030);
const gdcm::Tag kRescaleIntercept(0x0028, 0x1052);
const gdcm::Tag kRescaleSlope(0x0028, 0x1053);
const gdcm::Tag kPixelData(0x7fe0, 0x0010);

// The Media Storage SOP Class of a DICOMDIR: an index, not an image; skipped like a non-DICOM file.
constexpr std::string_view kDicomdirSopClass = "1.2.840.10008.1.3.10";

// Geometry tolerances. Positions come from decimal strings (DS, up to 16 characters), so exact
// comparisons are meaningless; these bounds are far below a voxel and far above rounding noise.
constexpr double kDuplicateMm = 1e-3;       // two slices closer than this are the same position
constexpr double kUnevenRelative = 1e-2;    // gaps may differ by 1% of the smallest gap...
constexpr double kUnevenAbsoluteMm = 1e-3;  // ...or by this, whichever is larger
constexpr double kTiltPixelFraction =
    0.1;  // slice origins may stray this much of a pixel off the normal
constexpr double kOrientationTolerance = 1e-4;
// Resampling onto the smallest gap may multiply the slice count; beyond this factor the series is
// not "a few missing slices" but something else (near-duplicates, mixed protocols).
constexpr double kMaxResampleGrowth = 8;

void quiet_gdcm() {
  // GDCM prints its own warnings to stderr; voxir reports failures through Error instead.
  static std::once_flag once;
  std::call_once(once, [] {
    gdcm::Trace::SetDebug(false);
    gdcm::Trace::SetWarning(false);
    gdcm::Trace::SetError(false);
  });
}

// An istream over bytes already in memory (GDCM seeks, so seekoff/seekpos are needed).
class MemoryBuffer : public std::streambuf {
 public:
  explicit MemoryBuffer(std::span<const std::uint8_t> bytes) {
    // std::streambuf wants char*, but only ever reads through the get area.
    char* p = const_cast<char*>(reinterpret_cast<const char*>(bytes.data()));
    setg(p, p, p + bytes.size());
  }

 protected:
  pos_type seekoff(off_type off, std::ios_base::seekdir dir,
                   std::ios_base::openmode which) override {
    if ((which & std::ios_base::in) == 0) return pos_type(off_type(-1));
    const off_type size = egptr() - eback();
    const off_type base = dir == std::ios_base::beg   ? 0
                          : dir == std::ios_base::cur ? gptr() - eback()
                                                      : size;
    const off_type target = base + off;
    if (target < 0 || target > size) return pos_type(off_type(-1));
    setg(eback(), eback() + target, egptr());
    return pos_type(target);
  }
  pos_type seekpos(pos_type pos, std::ios_base::openmode which) override {
    return seekoff(off_type(pos), std::ios_base::beg, which);
  }
};

// A file read into memory and checked with check_dicom_structure, ready for GDCM.
struct LoadedFile {
  std::vector<std::uint8_t> bytes;
  DicomStructure structure;
};

LoadedFile load(const fs::path& path) {
  LoadedFile f;
  std::error_code ec;
  const std::uintmax_t size = fs::file_size(path, ec);
  if (!ec && size > kMaxDicomFileBytes) {
    fail(ErrorKind::kUnsupported, "{}: {} bytes, larger than any CT slice voxir reads (limit {} bytes)",
         path.string(), size, kMaxDicomFileBytes);
  }
  f.bytes = read_file(path);
  f.structure = check_dicom_structure(f.bytes, path);
  return f;
}

// Trims the spaces and NULs that pad DICOM values to an even length.
std::string trim(std::string_view s) {
  const auto pad = [](char c) {
    return c == ' ' || c == '\0' || c == '\t' || c == '\r' || c == '\n';
  };
  while (!s.empty() && pad(s.front())) s.remove_prefix(1);
  while (!s.empty() && pad(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// The value of a text element, trimmed; nullopt when the element is absent.
std::optional<std::string> text(const gdcm::DataSet& ds, const gdcm::Tag& tag) {
  if (!ds.FindDataElement(tag)) return std::nullopt;
  const gdcm::ByteValue* bv = ds.GetDataElement(tag).GetByteValue();
  if (bv == nullptr || bv->GetPointer() == nullptr) return std::string();
  return trim(std::string_view(bv->GetPointer(), bv->GetLength()));
}

// A backslash-separated list of decimal strings (DS/IS). nullopt when absent or empty; throws
// when a value does not parse.
std::optional<std::vector<double>> decimals(const gdcm::DataSet& ds, const gdcm::Tag& tag,
                                            const char* name) {
  const auto s = text(ds, tag);
  if (!s || s->empty()) return std::nullopt;
  std::vector<double> out;
  std::size_t begin = 0;
  while (begin <= s->size()) {
    const std::size_t end = std::min(s->find('\\', begin), s->size());
    std::string item = trim(std::string_view(*s).substr(begin, end - begin));
    if (!item.empty() && item[0] == '+') item.erase(0, 1);
    double v = 0;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size() ||
        !std::isfinite(v)) {
      fail(ErrorKind::kInvalidInput, "{} '{}' is not a list of numbers", name, *s);
    }
    out.push_back(v);
    begin = end + 1;
  }
  return out;
}

std::optional<double> decimal(const gdcm::DataSet& ds, const gdcm::Tag& tag, const char* name) {
  const auto v = decimals(ds, tag, name);
  if (!v) return std::nullopt;
  return v->front();
}

// An unsigned short (US) element; nullopt when absent or shorter than 2 bytes.
std::optional<unsigned> ushort_value(const gdcm::DataSet& ds, const gdcm::Tag& tag,
                                     bool big_endian) {
  if (!ds.FindDataElement(tag)) return std::nullopt;
  const gdcm::ByteValue* bv = ds.GetDataElement(tag).GetByteValue();
  if (bv == nullptr || bv->GetPointer() == nullptr || bv->GetLength() < 2) return std::nullopt;
  const auto* b = reinterpret_cast<const unsigned char*>(bv->GetPointer());
  return big_endian ? (unsigned{b[0]} << 8) | b[1] : (unsigned{b[1]} << 8) | b[0];
}

using Vec = std::array<double, 3>;

Vec cross(const Vec& a, const Vec& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double dot(const Vec& a, const Vec& b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
double norm(const Vec& a) {
  return std::sqrt(dot(a, a));
}
Vec sub(const Vec& a, const Vec& b) {
  return {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
}
Vec scale(const Vec& a, double s) {
  return {a[0] * s, a[1] * s, a[2] * s};
}

// What the header of one file says (pixel data not read).
struct SliceHeader {
  fs::path path;
  std::string series_uid;
  std::string modality;
  std::string description;
  std::optional<std::vector<double>> orientation;  // ImageOrientationPatient, 6 values
  std::optional<std::vector<double>> position;     // ImagePositionPatient, 3 values
  std::optional<std::vector<double>> pixel_spacing;
  std::optional<double> slice_thickness;
  std::optional<double> gantry_tilt;
  std::optional<unsigned> rows;
  std::optional<unsigned> columns;
  std::optional<unsigned> samples_per_pixel;
  std::optional<unsigned> bits_allocated;
  std::optional<double> frames;
  std::optional<double> temporal_position;  // TemporalPositionIdentifier: phase of a 4D series
  std::optional<double> acquisition;        // AcquisitionNumber
  bool has_pixel_data = false;
  double slope = 1;
  double intercept = 0;
};

// GDCM reads the image and geometry elements (groups 0020 and 0028) through typed attributes
// that assert, aborting the process, when an element's explicit VR is not compatible with the
// dictionary's (e.g. HighBit stored as UL) or when a binary value is cut (SamplesPerPixel of 1
// byte): such a file is refused before GDCM decodes it.
void check_image_vrs(const gdcm::DataSet& ds, const fs::path& path) {
  const gdcm::Dicts& dicts = gdcm::Global::GetInstance().GetDicts();
  for (const gdcm::DataElement& de : ds.GetDES()) {
    const gdcm::Tag& tag = de.GetTag();
    if (tag.GetGroup() != 0x0020 && tag.GetGroup() != 0x0028) continue;
    const gdcm::VR expected = dicts.GetDictEntry(tag).GetVR();
    if (expected == gdcm::VR::INVALID) continue;
    if (!expected.Compatible(de.GetVR())) {
      fail(ErrorKind::kInvalidInput, "{}: element ({:04x},{:04x}) has VR {}, expected {}",
           path.string(), tag.GetGroup(), tag.GetElement(), gdcm::VR::GetVRString(de.GetVR()),
           gdcm::VR::GetVRString(expected));
    }
    const gdcm::VR vr = de.GetVR() == gdcm::VR::INVALID ? expected : de.GetVR();
    const unsigned size = vr & (gdcm::VR::US | gdcm::VR::SS)                   ? 2
                          : vr & (gdcm::VR::UL | gdcm::VR::SL | gdcm::VR::FL) ? 4
                          : vr & gdcm::VR::FD                                 ? 8
                                                                              : 1;
    if (!de.IsUndefinedLength() && de.GetVL() % size != 0) {
      fail(ErrorKind::kInvalidInput, "{}: element ({:04x},{:04x}) holds {} bytes, not whole {}-byte values",
           path.string(), tag.GetGroup(), tag.GetElement(), static_cast<std::uint32_t>(de.GetVL()), size);
    }
  }
}

// Reads the header of `path`; nullopt for a DICOMDIR.
std::optional<SliceHeader> read_header(const fs::path& path) {
  const LoadedFile loaded = load(path);
  MemoryBuffer buffer(loaded.bytes);
  std::istream stream(&buffer);
  gdcm::Reader reader;
  reader.SetStream(stream);
  bool ok = false;
  try {
    ok = reader.ReadUpToTag(kPixelData);
  } catch (const std::exception& e) {
    fail(ErrorKind::kInvalidInput, "{}: not a readable DICOM file ({})", path.string(), e.what());
  }
  if (!ok) {
    fail(ErrorKind::kInvalidInput, "{}: not a readable DICOM file (corrupt or truncated header)",
         path.string());
  }
  const gdcm::File& file = reader.GetFile();
  if (trim(file.GetHeader().GetMediaStorageAsString()) == kDicomdirSopClass) return std::nullopt;
  const gdcm::DataSet& ds = file.GetDataSet();
  check_image_vrs(ds, path);
  const bool big_endian =
      file.GetHeader().GetDataSetTransferSyntax() == gdcm::TransferSyntax::ExplicitVRBigEndian;
  return with_context(path.string(), [&] {
    SliceHeader h;
    h.path = path;
    h.has_pixel_data = loaded.structure.has_pixel_data || !loaded.structure.dataset_checked;
    h.series_uid = text(ds, kSeriesInstanceUid).value_or("");
    h.modality = text(ds, kModality).value_or("");
    h.description = text(ds, kSeriesDescription).value_or("");
    h.orientation = decimals(ds, kImageOrientation, "ImageOrientationPatient");
    h.position = decimals(ds, kImagePosition, "ImagePositionPatient");
    h.pixel_spacing = decimals(ds, kPixelSpacing, "PixelSpacing");
    h.slice_thickness = decimal(ds, kSliceThickness, "SliceThickness");
    h.gantry_tilt = decimal(ds, kGantryTilt, "GantryDetectorTilt");
    h.rows = ushort_value(ds, kRows, big_endian);
    h.columns = ushort_value(ds, kColumns, big_endian);
    h.samples_per_pixel = ushort_value(ds, kSamplesPerPixel, big_endian);
    h.bits_allocated = ushort_value(ds, kBitsAllocated, big_endian);
    h.frames = decimal(ds, kNumberOfFrames, "NumberOfFrames");
    h.temporal_position = decimal(ds, kTemporalPositionIdentifier, "TemporalPositionIdentifier");
    h.acquisition = decimal(ds, kAcquisitionNumber, "AcquisitionNumber");
    h.slope = decimal(ds, kRescaleSlope, "RescaleSlope").value_or(1.0);
    h.intercept = decimal(ds, kRescaleIntercept, "RescaleIntercept").value_or(0.0);
    return h;
  });
}

struct FolderScan {
  std::vector<SliceHeader> files;  // sorted by path
  std::size_t non_dicom = 0;
};

FolderScan scan_folder(const fs::path& folder) {
  quiet_gdcm();
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    fail(ErrorKind::kNotFound, "{}: no such folder (expected a folder of DICOM files)",
         folder.string());
  }
  std::vector<fs::path> paths;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) paths.push_back(it->path());
  }
  if (ec) fail(ErrorKind::kIo, "{}: cannot list the folder ({})", folder.string(), ec.message());
  std::sort(paths.begin(), paths.end());
  FolderScan scan;
  for (const auto& p : paths) {
    if (!looks_like_dicom(p)) {
      ++scan.non_dicom;
      continue;
    }
    auto header = read_header(p);
    if (header) {
      scan.files.push_back(std::move(*header));
    } else {
      ++scan.non_dicom;
    }
  }
  if (scan.files.empty()) {
    fail(ErrorKind::kNotFound,
         "{}: no DICOM files in this folder ({} other files; expected files with the DICM magic, "
         "sub-folders are not searched)",
         folder.string(), scan.non_dicom);
  }
  return scan;
}

std::string group_key(const SliceHeader& h) {
  return h.series_uid.empty() ? kNoSeriesUid : h.series_uid;
}

DicomFolderSummary summarise(const FolderScan& scan) {
  std::map<std::string, DicomSeriesSummary> by_uid;
  for (const auto& h : scan.files) {
    auto [it, fresh] = by_uid.try_emplace(group_key(h));
    if (fresh) it->second = {group_key(h), h.modality, h.description, 0};
    ++it->second.files;
  }
  DicomFolderSummary out;
  out.non_dicom_files = scan.non_dicom;
  for (auto& [uid, s] : by_uid) out.series.push_back(std::move(s));
  return out;
}

std::string describe(const std::vector<DicomSeriesSummary>& series) {
  std::string out;
  for (const auto& s : series) {
    out += fmt::format("\n  {} ({}, {} files{}{})", s.uid,
                       s.modality.empty() ? "no Modality" : s.modality, s.files,
                       s.description.empty() ? "" : ", ", s.description);
  }
  return out;
}

// The files of the series to read, as chosen by `options`.
std::vector<SliceHeader> select_series(const fs::path& folder, FolderScan scan,
                                       const ReadOptions& options) {
  const DicomFolderSummary summary = summarise(scan);
  std::string key;
  if (!options.series_uid.empty()) {
    const auto it = std::find_if(summary.series.begin(), summary.series.end(),
                                 [&](const auto& s) { return s.uid == options.series_uid; });
    if (it == summary.series.end()) {
      fail(ErrorKind::kNotFound, "{}: no series with SeriesInstanceUID {}; the folder holds:{}",
           folder.string(), options.series_uid, describe(summary.series));
    }
    key = it->uid;
  } else if (summary.series.size() > 1) {
    fail(ErrorKind::kUsage, "{}: holds {} series; choose one by SeriesInstanceUID (--series):{}",
         folder.string(), summary.series.size(), describe(summary.series));
  } else {
    key = summary.series.front().uid;
  }
  std::vector<SliceHeader> files;
  for (auto& h : scan.files) {
    if (group_key(h) == key) files.push_back(std::move(h));
  }
  return files;
}

// The files of one frame (phase) of a multi-phase series. A series is multi-phase when its files
// carry two or more distinct TemporalPositionIdentifier values, or else two or more distinct
// AcquisitionNumber values at repeated slice positions; frames are numbered 0.. in ascending
// order of that value. A single-phase series is frame 0.
std::vector<SliceHeader> select_frame(const fs::path& folder, std::vector<SliceHeader> files,
                                      std::optional<std::int64_t> frame) {
  const auto phases_by = [&](std::optional<double> SliceHeader::*field) {
    std::map<double, std::size_t> values;
    for (const auto& h : files) {
      if ((h.*field).has_value()) ++values[*(h.*field)];
    }
    return values;
  };
  std::optional<double> SliceHeader::*field = &SliceHeader::temporal_position;
  const char* tag = "TemporalPositionIdentifier";
  std::map<double, std::size_t> phases = phases_by(field);
  if (phases.size() < 2) {
    // AcquisitionNumber alone differs between the acquisitions of a multi-phase scan, but some
    // scanners also number the parts of a single long acquisition: count it only when positions
    // repeat.
    std::set<std::string> positions;
    bool repeated = false;
    for (const auto& h : files) {
      if (h.position &&
          !positions.insert(fmt::format("{:.3f}", fmt::join(*h.position, ","))).second)
        repeated = true;
    }
    field = &SliceHeader::acquisition;
    tag = "AcquisitionNumber";
    phases = repeated ? phases_by(field) : std::map<double, std::size_t>{};
  }
  const auto frames = static_cast<std::int64_t>(phases.size() < 2 ? 1 : phases.size());
  if (frames == 1) {
    if (frame && *frame != 0) {
      fail(ErrorKind::kUsage, "{}: --frame {}: the series has 1 frame (0)", folder.string(),
           *frame);
    }
    return files;
  }
  std::vector<std::string> listed;
  for (const auto& [value, count] : phases)
    listed.push_back(fmt::format("{} ({} files)", value, count));
  if (!frame) {
    fail(ErrorKind::kUsage,
         "{}: a multi-phase series with {} frames ({} {}); choose one with --frame 0..{} "
         "(ReadOptions::frame)",
         folder.string(), frames, tag, fmt::join(listed, ", "), frames - 1);
  }
  if (*frame < 0 || *frame >= frames) {
    fail(ErrorKind::kUsage, "{}: --frame {}: the series has {} frames (0..{}; {} {})",
         folder.string(), *frame, frames, frames - 1, tag, fmt::join(listed, ", "));
  }
  const double value = std::next(phases.begin(), static_cast<std::ptrdiff_t>(*frame))->first;
  std::vector<SliceHeader> out;
  for (auto& h : files) {
    if ((h.*field).has_value() && *(h.*field) == value) out.push_back(std::move(h));
  }
  return out;
}

// The geometry shared by all slices of a series, checked file by file.
struct SeriesGeometry {
  Vec row_cosine{};     // direction of increasing column index (LPS)
  Vec column_cosine{};  // direction of increasing row index (LPS)
  Vec normal{};
  double row_spacing = 0;     // mm between rows (PixelSpacing[0])
  double column_spacing = 0;  // mm between columns (PixelSpacing[1])
  unsigned rows = 0;
  unsigned columns = 0;
};

SeriesGeometry check_headers(const std::vector<SliceHeader>& files) {
  SeriesGeometry g;
  const SliceHeader& first = files.front();
  for (const auto& h : files) {
    const std::string& name = h.path.string();
    if (h.modality != "CT") {
      fail(ErrorKind::kUnsupported, "{}: Modality is {}; voxir reads CT series only", name,
           h.modality.empty() ? "missing" : h.modality);
    }
    if (h.frames && *h.frames > 1) {
      fail(ErrorKind::kUnsupported,
           "{}: a multi-frame image ({} frames); expected one slice per file (enhanced CT is not "
           "supported)",
           name, *h.frames);
    }
    if (!h.has_pixel_data) {
      fail(ErrorKind::kInvalidInput, "{}: has no PixelData (not an image; expected a CT slice)",
           name);
    }
    if (h.samples_per_pixel && *h.samples_per_pixel != 1) {
      fail(ErrorKind::kUnsupported, "{}: {} samples per pixel; expected a greyscale CT slice (1)",
           name, *h.samples_per_pixel);
    }
    if (!h.orientation || h.orientation->size() != 6) {
      fail(ErrorKind::kInvalidInput,
           "{}: ImageOrientationPatient is missing or does not hold 6 values", name);
    }
    if (!h.position || h.position->size() != 3) {
      fail(ErrorKind::kInvalidInput,
           "{}: ImagePositionPatient is missing or does not hold 3 values", name);
    }
    if (!h.pixel_spacing || h.pixel_spacing->size() != 2 || !((*h.pixel_spacing)[0] > 0) ||
        !((*h.pixel_spacing)[1] > 0)) {
      fail(ErrorKind::kInvalidInput,
           "{}: PixelSpacing is missing or invalid (expected two positive values)", name);
    }
    if (!h.rows || !h.columns || *h.rows == 0 || *h.columns == 0) {
      fail(ErrorKind::kInvalidInput, "{}: Rows/Columns missing or zero", name);
    }
    // Before anything is sized by them: a slice is Rows x Columns pixels of BitsAllocated bits.
    if (*h.rows > kMaxDicomRowsColumns || *h.columns > kMaxDicomRowsColumns) {
      fail(ErrorKind::kInvalidInput,
           "{}: {} rows x {} columns exceeds the limit of {} per side (a corrupt header?)", name,
           *h.rows, *h.columns, kMaxDicomRowsColumns);
    }
    if (h.bits_allocated && *h.bits_allocated != 8 && *h.bits_allocated != 16 &&
        *h.bits_allocated != 32) {
      fail(ErrorKind::kUnsupported, "{}: BitsAllocated is {}; expected 8, 16 or 32", name,
           *h.bits_allocated);
    }
    if (!(h.slope != 0) || !std::isfinite(h.slope) || !std::isfinite(h.intercept)) {
      fail(ErrorKind::kInvalidInput, "{}: RescaleSlope {} / RescaleIntercept {} are unusable", name,
           h.slope, h.intercept);
    }
    const auto& o = *h.orientation;
    const auto& fo = *first.orientation;
    for (std::size_t i = 0; i < 6; ++i) {
      if (std::abs(o[i] - fo[i]) > kOrientationTolerance) {
        fail(ErrorKind::kInvalidInput,
             "{}: ImageOrientationPatient {} differs from {} in {} (all slices of a series must be "
             "parallel)",
             name, fmt::join(o, "\\"), fmt::join(fo, "\\"), first.path.filename().string());
      }
    }
    if (*h.rows != *first.rows || *h.columns != *first.columns) {
      fail(ErrorKind::kInvalidInput, "{}: {} rows x {} columns, but {} has {} x {}", name, *h.rows,
           *h.columns, first.path.filename().string(), *first.rows, *first.columns);
    }
    const auto& ps = *h.pixel_spacing;
    const auto& fps = *first.pixel_spacing;
    if (std::abs(ps[0] - fps[0]) > 1e-4 * fps[0] || std::abs(ps[1] - fps[1]) > 1e-4 * fps[1]) {
      fail(ErrorKind::kInvalidInput, "{}: PixelSpacing {}\\{} differs from {}\\{} in {}", name,
           ps[0], ps[1], fps[0], fps[1], first.path.filename().string());
    }
  }
  const auto& o = *first.orientation;
  g.row_cosine = {o[0], o[1], o[2]};
  g.column_cosine = {o[3], o[4], o[5]};
  const double rn = norm(g.row_cosine);
  const double cn = norm(g.column_cosine);
  if (std::abs(rn - 1) > 1e-3 || std::abs(cn - 1) > 1e-3 ||
      std::abs(dot(g.row_cosine, g.column_cosine)) > 1e-3) {
    fail(ErrorKind::kInvalidInput,
         "{}: ImageOrientationPatient {} is not two orthogonal unit vectors", first.path.string(),
         fmt::join(o, "\\"));
  }
  g.row_cosine = scale(g.row_cosine, 1 / rn);
  g.column_cosine = scale(g.column_cosine, 1 / cn);
  g.normal = cross(g.row_cosine, g.column_cosine);
  g.normal = scale(g.normal, 1 / norm(g.normal));
  g.row_spacing = (*first.pixel_spacing)[0];
  g.column_spacing = (*first.pixel_spacing)[1];
  g.rows = *first.rows;
  g.columns = *first.columns;
  return g;
}

Vec position_of(const SliceHeader& h) {
  return {(*h.position)[0], (*h.position)[1], (*h.position)[2]};
}

// Converts one decoded slice to float HU: masks bits beyond BitsStored (DICOM says they carry no
// pixel value), then applies the file's own rescale.
template <typename T>
void slice_to_float(const char* buffer, std::size_t n, const gdcm::PixelFormat& pf, double slope,
                    double intercept, float* out) {
  const T* src = reinterpret_cast<const T*>(buffer);
  const unsigned stored = pf.GetBitsStored();
  const bool clean = std::is_integral_v<T> && stored > 0 && stored < 8 * sizeof(T);
  const unsigned shift = pf.GetHighBit() + 1u >= stored ? pf.GetHighBit() + 1u - stored : 0u;
  for (std::size_t i = 0; i < n; ++i) {
    double v;
    if constexpr (std::is_integral_v<T>) {
      if (clean) {
        using U = std::make_unsigned_t<T>;
        const U mask = static_cast<U>((U{1} << stored) - 1);
        const U bits = static_cast<U>((static_cast<U>(src[i]) >> shift) & mask);
        if (std::is_signed_v<T> && (bits >> (stored - 1)) != 0) {
          v = static_cast<double>(static_cast<std::int64_t>(bits) - (std::int64_t{1} << stored));
        } else {
          v = static_cast<double>(bits);
        }
      } else {
        v = static_cast<double>(src[i]);
      }
    } else {
      v = static_cast<double>(src[i]);
    }
    out[i] = static_cast<float>(v * slope + intercept);
  }
}

// Decodes the pixel data of one file (any transfer syntax GDCM supports) into `out` as HU.
void decode_slice(const SliceHeader& h, const SeriesGeometry& g, float* out) {
  const std::string name = h.path.string();
  const LoadedFile loaded = load(h.path);
  MemoryBuffer memory(loaded.bytes);
  std::istream stream(&memory);
  // PixmapReader, not ImageReader: voxir takes geometry and rescale from the header it has already
  // checked (read_header), while ImageReader also derives them through gdcm::ImageHelper, whose
  // asserts abort the process on damaged rescale or spacing elements (fuzz finding 9,
  // docs/fuzzing.md).
  gdcm::PixmapReader reader;
  reader.SetStream(stream);
  bool ok = false;
  try {
    ok = reader.Read();
  } catch (const std::exception& e) {
    fail(ErrorKind::kInvalidInput, "{}: cannot read the image ({})", name, e.what());
  }
  if (!ok) {
    fail(ErrorKind::kInvalidInput,
         "{}: cannot read the image (corrupt file, or an unsupported "
         "encoding)",
         name);
  }
  const gdcm::Pixmap& image = reader.GetPixmap();
  const gdcm::PixelFormat& pf = image.GetPixelFormat();
  if (image.GetColumns() != g.columns || image.GetRows() != g.rows ||
      (image.GetNumberOfDimensions() > 2 && image.GetDimension(2) > 1)) {
    fail(ErrorKind::kInvalidInput,
         "{}: the pixel data is {}x{} but the header says {} columns x {} rows", name,
         image.GetColumns(), image.GetRows(), g.columns, g.rows);
  }
  if (pf.GetSamplesPerPixel() != 1) {
    fail(ErrorKind::kUnsupported, "{}: {} samples per pixel; expected greyscale", name,
         pf.GetSamplesPerPixel());
  }
  if (pf.GetBitsAllocated() == 0 || pf.GetBitsAllocated() % 8 != 0) {
    // GDCM's GetPixelSize asserts, aborting the process, on bits that are not whole bytes.
    fail(ErrorKind::kUnsupported, "{}: BitsAllocated {} is not supported (expected 8, 16, 32 or 64)",
         name, pf.GetBitsAllocated());
  }
  const std::size_t n = std::size_t{g.rows} * g.columns;
  const std::size_t bytes = n * pf.GetPixelSize();
  if (loaded.structure.dataset_checked && !loaded.structure.encapsulated &&
      loaded.structure.native_pixel_bytes < bytes) {
    fail(ErrorKind::kInvalidInput, "{}: truncated pixel data: {} bytes, expected {} ({}x{} of {})",
         name, loaded.structure.native_pixel_bytes, bytes, g.columns, g.rows,
         pf.GetScalarTypeAsString());
  }
  std::vector<char> buffer(image.GetBufferLength());
  bool decoded = false;
  try {
    decoded = buffer.size() == bytes && image.GetBuffer(buffer.data());
  } catch (const std::exception&) {
    decoded = false;
  }
  if (!decoded) {
    fail(ErrorKind::kInvalidInput,
         "{}: cannot decode the pixel data ({} bytes for {}x{} pixels of {}; transfer syntax {}): "
         "corrupt or truncated",
         name, image.GetBufferLength(), g.columns, g.rows, pf.GetScalarTypeAsString(),
         reader.GetFile().GetHeader().GetDataSetTransferSyntax().GetString());
  }
  switch (pf.GetScalarType()) {
    case gdcm::PixelFormat::UINT8:
      slice_to_float<std::uint8_t>(buffer.data(), n, pf, h.slope, h.intercept, out);
      break;
    case gdcm::PixelFormat::INT8:
      slice_to_float<std::int8_t>(buffer.data(), n, pf, h.slope, h.intercept, out);
      break;
    case gdcm::PixelFormat::UINT16:
      slice_to_float<std::uint16_t>(buffer.data(), n, pf, h.slope, h.intercept, out);
      break;
    case gdcm::PixelFormat::INT16:
      slice_to_float<std::int16_t>(buffer.data(), n, pf, h.slope, h.intercept, out);
      break;
    case gdcm::PixelFormat::UINT32:
      slice_to_float<std::uint32_t>(buffer.data(), n, pf, h.slope, h.intercept, out);
      break;
    case gdcm::PixelFormat::INT32:
      slice_to_float<std::int32_t>(buffer.data(), n, pf, h.slope, h.intercept, out);
      break;
    case gdcm::PixelFormat::FLOAT32:
      slice_to_float<float>(buffer.data(), n, pf, h.slope, h.intercept, out);
      break;
    case gdcm::PixelFormat::FLOAT64:
      slice_to_float<double>(buffer.data(), n, pf, h.slope, h.intercept, out);
      break;
    default:
      fail(ErrorKind::kUnsupported,
           "{}: pixel type {} is not supported (expected 8, 16 or 32-bit integers or floats)", name,
           pf.GetScalarTypeAsString());
  }
}

// A slice and where it lies along the normal.
struct PlacedSlice {
  const SliceHeader* header;
  double position;  // mm along the normal
};

// Refuses slice origins that do not lie on one line along the normal: a tilted gantry (or
// shifted slices) would need an in-plane shear that voxir does not perform.
void check_tilt(const fs::path& folder, const std::vector<PlacedSlice>& slices,
                const SeriesGeometry& g) {
  const Vec origin = position_of(*slices.front().header);
  const double tolerance = kTiltPixelFraction * std::min(g.row_spacing, g.column_spacing);
  double worst = 0;
  const PlacedSlice* worst_slice = nullptr;
  for (const auto& s : slices) {
    const Vec d = sub(position_of(*s.header), origin);
    const double off = norm(sub(d, scale(g.normal, dot(d, g.normal))));
    if (off > worst) {
      worst = off;
      worst_slice = &s;
    }
  }
  if (worst <= tolerance) return;
  const Vec d = sub(position_of(*worst_slice->header), origin);
  const double along = std::abs(dot(d, g.normal));
  const double angle = std::atan2(worst, along) * 180.0 / std::numbers::pi;
  const auto& tag = slices.front().header->gantry_tilt;
  fail(ErrorKind::kUnsupported,
       "{}: the slice origins are not on the slice normal: {} lies {:.3f} mm off it over {:.3f} mm "
       "(a gantry tilt of {:.2f} degrees{}); tilted series are not supported (reconstruct the "
       "series without tilt, or resample it, e.g. with dcm2niix)",
       folder.string(), worst_slice->header->path.filename().string(), worst, along, angle,
       tag ? fmt::format(", GantryDetectorTilt {}", *tag) : std::string());
}

struct SliceGaps {
  double min = 0;
  double max = 0;
  bool uneven = false;
};

// Measures the gaps between consecutive slices; refuses uneven ones unless they may be resampled.
SliceGaps check_gaps(const fs::path& folder, const std::vector<PlacedSlice>& slices,
                     const ReadOptions& options) {
  SliceGaps gaps;
  std::size_t widest = 0;
  for (std::size_t i = 1; i < slices.size(); ++i) {
    const double gap = slices[i].position - slices[i - 1].position;
    if (i == 1 || gap < gaps.min) gaps.min = gap;
    if (i == 1 || gap > gaps.max) {
      gaps.max = gap;
      widest = i;
    }
  }
  gaps.uneven = slices.size() > 2 &&
                gaps.max - gaps.min > std::max(kUnevenAbsoluteMm, kUnevenRelative * gaps.min);
  if (!gaps.uneven) return gaps;
  if (!options.resample_uneven) {
    fail(ErrorKind::kUnsupported,
         "{}: uneven slice spacing: gaps from {:.3f} to {:.3f} mm (the widest between {} and {}; a "
         "missing slice?); ask for resampling onto {:.3f} mm with --resample-uneven "
         "(ReadOptions::resample_uneven)",
         folder.string(), gaps.min, gaps.max, slices[widest - 1].header->path.filename().string(),
         slices[widest].header->path.filename().string(), gaps.min);
  }
  if ((slices.back().position - slices.front().position) / gaps.min + 1 >
      kMaxResampleGrowth * static_cast<double>(slices.size())) {
    fail(ErrorKind::kUnsupported,
         "{}: slice gaps from {:.3f} to {:.3f} mm are too uneven to resample onto the smallest gap "
         "(more than {} times as many slices)",
         folder.string(), gaps.min, gaps.max, kMaxResampleGrowth);
  }
  return gaps;
}

// Linear interpolation along the normal onto evenly spaced positions `step` apart, from the
// first slice to the last one (the last output slice may fall short of it by less than `step`).
std::vector<float> resample_evenly(const std::vector<float>& src,
                                   const std::vector<PlacedSlice>& slices, std::size_t slice_size,
                                   double step, std::size_t* out_slices) {
  const double first = slices.front().position;
  const double extent = slices.back().position - first;
  const auto n = static_cast<std::size_t>(std::floor(extent / step + 1e-6)) + 1;
  std::vector<float> out(n * slice_size);
  std::size_t lower = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const double p = first + static_cast<double>(k) * step;
    while (lower + 2 < slices.size() && slices[lower + 1].position <= p) ++lower;
    const double p0 = slices[lower].position;
    const double p1 = slices[lower + 1].position;
    const auto w = static_cast<float>(std::clamp((p - p0) / (p1 - p0), 0.0, 1.0));
    const float* a = src.data() + lower * slice_size;
    const float* b = a + slice_size;
    float* dst = out.data() + k * slice_size;
    for (std::size_t i = 0; i < slice_size; ++i) dst[i] = a[i] + w * (b[i] - a[i]);
  }
  *out_slices = n;
  return out;
}

}  // namespace

bool looks_like_dicom(const std::filesystem::path& path) {
  const auto head = read_file_prefix(path, 132);
  return head.size() == 132 && std::memcmp(head.data() + 128, "DICM", 4) == 0;
}

DicomFolderSummary list_dicom_series(const std::filesystem::path& folder) {
  return summarise(scan_folder(folder));
}

Volume read_dicom_series(const std::filesystem::path& folder, const ReadOptions& options) {
  const std::vector<SliceHeader> files =
      select_frame(folder, select_series(folder, scan_folder(folder), options), options.frame);
  const SeriesGeometry g = check_headers(files);

  std::vector<PlacedSlice> slices;
  slices.reserve(files.size());
  for (const auto& h : files) slices.push_back({&h, dot(position_of(h), g.normal)});
  std::stable_sort(slices.begin(), slices.end(),
                   [](const auto& a, const auto& b) { return a.position < b.position; });
  for (std::size_t i = 1; i < slices.size(); ++i) {
    if (slices[i].position - slices[i - 1].position < kDuplicateMm) {
      fail(ErrorKind::kInvalidInput,
           "{}: {} and {} lie at the same position ({:.3f} mm along the slice normal): duplicate "
           "slices, or several acquisitions in one series that neither TemporalPositionIdentifier "
           "nor AcquisitionNumber tells apart",
           folder.string(), slices[i - 1].header->path.filename().string(),
           slices[i].header->path.filename().string(), slices[i].position);
    }
  }
  check_tilt(folder, slices, g);

  const SliceGaps gaps = check_gaps(folder, slices, options);
  const bool uneven = gaps.uneven;
  const double min_gap = gaps.min;

  const std::size_t slice_size = std::size_t{g.rows} * g.columns;
  const std::size_t depth_out =
      uneven ? static_cast<std::size_t>(std::floor(
                   (slices.back().position - slices.front().position) / min_gap + 1e-6)) + 1
             : slices.size();
  if (slice_size * std::max(depth_out, slices.size()) > kMaxVolumeVoxels) {
    fail(ErrorKind::kUnsupported,
         "{}: {} slices of {} x {} pixels make {} voxels, over the limit of {} (docs/limits.md)",
         folder.string(), depth_out, g.columns, g.rows, slice_size * std::max(depth_out, slices.size()),
         kMaxVolumeVoxels);
  }
  std::vector<float> source(slice_size * slices.size());
  for (std::size_t k = 0; k < slices.size(); ++k) {
    decode_slice(*slices[k].header, g, source.data() + k * slice_size);
  }

  // Step between slices (LPS, mm): the mean observed step keeps the exact geometry of an even
  // series; a resampled one steps along the normal by the smallest gap.
  Vec step;
  std::size_t depth = slices.size();
  const Vec origin = position_of(*slices.front().header);
  if (uneven) {
    source = resample_evenly(source, slices, slice_size, min_gap, &depth);
    step = scale(g.normal, min_gap);
  } else if (slices.size() > 1) {
    step = scale(sub(position_of(*slices.back().header), origin),
                 1.0 / static_cast<double>(slices.size() - 1));
  } else {
    const double thickness = slices.front().header->slice_thickness.value_or(1.0);
    step = scale(g.normal, thickness > 0 ? thickness : 1.0);
  }

  // File voxel (column, row, slice) -> LPS, then RAS by negating the x and y rows.
  Affine affine{};
  for (int w = 0; w < 3; ++w) {
    const double sign = w < 2 ? -1.0 : 1.0;
    affine[w][0] = sign * g.row_cosine[w] * g.column_spacing;
    affine[w][1] = sign * g.column_cosine[w] * g.row_spacing;
    affine[w][2] = sign * step[w];
    affine[w][3] = sign * origin[w];
  }
  affine[3] = {0, 0, 0, 1};

  const Dims source_dims{g.columns, g.rows, static_cast<std::int64_t>(depth)};
  const AxisMap map = with_context(folder.string(), [&] { return closest_canonical(affine); });
  std::vector<float> hu(source.size());
  reorient_to_float(source.data(), source_dims, map, 1.0, 0.0, hu.data());
  return Volume(canonical_dims(source_dims, map), canonical_spacing(affine, map),
                canonical_affine(affine, source_dims, map), std::move(hu), axis_codes(affine));
}

}  // namespace voxir::io
