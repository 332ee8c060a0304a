#include "voxir/dataset.h"

#include "util/csv.h"
#include "util/file.h"
#include "voxir/error.h"

#include <fmt/ranges.h>

#include <set>

namespace voxir {
namespace {

// Bounds on meta.csv (docs/limits.md). TotalSegmentator's meta.csv for 1228 subjects is ~100 KiB;
// the file is read whole, so a size cap keeps a stray multi-GB file from being loaded.
constexpr std::uintmax_t kMaxMetaCsvBytes = std::uintmax_t{64} << 20;
// image_id names a folder: at most NAME_MAX bytes on Linux file systems.
constexpr std::size_t kMaxImageIdLength = 255;

// Why `id` cannot name a subject folder under the dataset root, or empty when it can.
std::string_view bad_image_id(std::string_view id) {
  if (id.empty()) return "is empty";
  if (id == "." || id == "..") return "is a relative path";
  if (id.size() > kMaxImageIdLength) return "is longer than 255 bytes";
  for (const char c : id) {
    if (c == '/' || c == '\\') return "holds a path separator";
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "holds a control character";
  }
  return {};
}

}  // namespace

Dataset Dataset::open(const std::filesystem::path& root) {
  const std::filesystem::path meta = root / "meta.csv";
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec)) {
    fail(ErrorKind::kNotFound, "{}: no such dataset folder", root.string());
  }
  if (!std::filesystem::exists(meta, ec)) {
    fail(ErrorKind::kNotFound, "{}: missing meta.csv (expected the TotalSegmentator layout: meta.csv with "
         "image_id and split columns, <image_id>/ct.nii.gz)", root.string());
  }
  const std::uintmax_t size = std::filesystem::file_size(meta, ec);
  if (!ec && size > kMaxMetaCsvBytes) {
    fail(ErrorKind::kInvalidInput, "{}: {} bytes; expected a table of at most {} MiB (one line per subject)",
         meta.string(), size, kMaxMetaCsvBytes >> 20);
  }
  const CsvTable table = parse_csv(read_text_file(meta), meta.string());
  const int c_id = table.column("image_id");
  const int c_split = table.column("split");
  if (c_id < 0 || c_split < 0) {
    fail(ErrorKind::kInvalidInput, "{}: header lacks '{}' (found: {})", meta.string(),
         c_id < 0 ? "image_id" : "split", fmt::join(table.header, ", "));
  }
  Dataset ds;
  ds.root_ = root;
  std::set<std::string, std::less<>> seen;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    Subject s;
    s.id = row[static_cast<std::size_t>(c_id)];
    s.split = row[static_cast<std::size_t>(c_split)];
    if (const std::string_view why = bad_image_id(s.id); !why.empty()) {
      fail(ErrorKind::kInvalidInput, "{}:{}: image_id '{}' is not a valid folder name (it {})", meta.string(),
           table.line_of_row[r], s.id.substr(0, 64), why);
    }
    if (!seen.insert(s.id).second) {
      fail(ErrorKind::kInvalidInput, "{}:{}: duplicate image_id '{}'", meta.string(), table.line_of_row[r], s.id);
    }
    s.ct = root / s.id / "ct.nii.gz";
    if (!std::filesystem::exists(s.ct, ec)) {
      fail(ErrorKind::kNotFound, "{}:{}: subject '{}' has no CT ({} is missing)", meta.string(),
           table.line_of_row[r], s.id, s.ct.string());
    }
    s.segmentations = root / s.id / "segmentations";
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (static_cast<int>(c) != c_id && static_cast<int>(c) != c_split) s.meta[table.header[c]] = row[c];
    }
    ds.subjects_.push_back(std::move(s));
  }
  return ds;
}

std::vector<const Subject*> Dataset::split(std::string_view name) const {
  std::vector<const Subject*> out;
  for (const auto& s : subjects_)
    if (s.split == name) out.push_back(&s);
  return out;
}

const Subject* Dataset::find(std::string_view id) const {
  for (const auto& s : subjects_)
    if (s.id == id) return &s;
  return nullptr;
}

}  // namespace voxir
