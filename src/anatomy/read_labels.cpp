#include "io/nifti.h"
#include "util/parallel.h"
#include "voxir/error.h"
#include "voxir/labels.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>

namespace voxir {
namespace {

// Largest id a label table may name. Ids index a lookup table (one int per id up to the largest),
// and label voxels are integers of at most 16 bits in practice (TotalSegmentator uses 1..117), so
// a larger Key is a corrupt or hostile header. Listed in docs/limits.md.
constexpr int kMaxLabelId = 65535;

// A grid as the label readers see it: dims and canonical affine (voxel -> RAS mm).
struct Grid {
  Dims dims;
  Affine affine;
};

std::string grid_string(const Grid& g) {
  double spacing[3];
  for (int c = 0; c < 3; ++c) {
    spacing[c] = std::hypot(g.affine[0][c], g.affine[1][c], g.affine[2][c]);
  }
  return fmt::format("{}x{}x{} at {:.4g}x{:.4g}x{:.4g} mm, origin ({:.2f}, {:.2f}, {:.2f})", g.dims[0], g.dims[1],
                     g.dims[2], spacing[0], spacing[1], spacing[2], g.affine[0][3], g.affine[1][3], g.affine[2][3]);
}

void check_same_grid(const Grid& labels, const Volume& ct_volume, double tolerance,
                     const std::filesystem::path& path) {
  const Grid ct{ct_volume.dims(), ct_volume.affine()};
  if (labels.dims != ct.dims) {
    fail(ErrorKind::kInvalidInput, "{}: label grid {} does not match the CT grid {} (dimensions differ)",
         path.string(), grid_string(labels), grid_string(ct));
  }
  double worst = 0;
  for (int r = 0; r < 3; ++r) {
    // Compare where the grids put the corners, in mm, so rotations and spacings are weighed alike.
    worst = std::max(worst, std::abs(labels.affine[r][3] - ct.affine[r][3]));
    for (int c = 0; c < 3; ++c) {
      const double extent = static_cast<double>(ct.dims[static_cast<std::size_t>(c)] - 1);
      worst = std::max(worst, std::abs(labels.affine[r][c] - ct.affine[r][c]) * extent);
    }
  }
  if (worst > tolerance) {
    fail(ErrorKind::kInvalidInput,
         "{}: label grid {} does not match the CT grid {} (voxel positions differ by up to {:.3g} mm, "
         "tolerance {:.3g} mm)",
         path.string(), grid_string(labels), grid_string(ct), worst, tolerance);
  }
}

std::string class_name_of(const std::filesystem::path& file) {
  std::string name = file.filename().string();
  for (const std::string_view ext : {".nii.gz", ".nii"}) {
    if (name.size() > ext.size() && name.ends_with(ext)) return name.substr(0, name.size() - ext.size());
  }
  return {};
}

// The mask files of a folder (those named after a catalogue class) with their class indices,
// sorted by path; other NIfTI files go to `skipped`. Throws Error(kNotFound) when there is none.
std::vector<std::pair<std::filesystem::path, int>> mask_files(const std::filesystem::path& folder,
                                                              std::vector<std::string>* skipped) {
  const ClassCatalog& catalog = ClassCatalog::builtin();
  std::vector<std::pair<std::filesystem::path, int>> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    const std::string name = class_name_of(entry.path());
    if (name.empty()) continue;
    if (const ClassInfo* c = catalog.find(name)) {
      files.emplace_back(entry.path(), c->index);
    } else if (skipped != nullptr) {
      skipped->push_back(entry.path().filename().string());
    }
  }
  if (files.empty()) {
    fail(ErrorKind::kNotFound, "{}: no mask file named after a TotalSegmentator class (<class>.nii.gz)",
         folder.string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

SliceLabels read_mask_folder(const std::filesystem::path& folder, const Volume& ct,
                             const LabelReadOptions& options, std::vector<std::string>* skipped) {
  const auto files = mask_files(folder, skipped);
  SliceLabels labels(ClassCatalog::builtin(), ct.nz());
  std::mutex mutex;
  parallel_for(files.size(), [&](std::size_t f) {
    const auto& [path, class_index] = files[f];
    const io::Mask mask = io::read_nifti_mask(path);
    check_same_grid({mask.dims, mask.affine}, ct, options.affine_tolerance_mm, path);
    std::vector<std::uint32_t> per_slice(static_cast<std::size_t>(ct.nz()), 0);
    for (std::int64_t k = 0; k < ct.nz(); ++k) {
      const auto s = mask.slice(k);
      per_slice[static_cast<std::size_t>(k)] = static_cast<std::uint32_t>(std::count(s.begin(), s.end(), 1));
    }
    const std::lock_guard lock(mutex);
    for (std::int64_t k = 0; k < ct.nz(); ++k) labels.add(class_index, k, per_slice[static_cast<std::size_t>(k)]);
  });
  return labels;
}

// The label table TotalSegmentator v2 stores in a CaretExtension (XML) header extension:
// <Label Key="5" ...><![CDATA[liver]]></Label>. Returns id -> class index; empty when absent.
std::map<int, int> label_table(const std::vector<io::NiftiExtension>& extensions, const std::filesystem::path& file) {
  std::map<int, int> table;
  const ClassCatalog& catalog = ClassCatalog::builtin();
  for (const auto& ext : extensions) {
    const std::string& xml = ext.data;
    if (xml.find("<LabelTable>") == std::string::npos) continue;
    for (std::size_t pos = xml.find("<Label "); pos != std::string::npos; pos = xml.find("<Label ", pos + 1)) {
      const std::size_t key = xml.find("Key=\"", pos);
      const std::size_t cdata = xml.find("<![CDATA[", pos);
      const std::size_t cdata_end = cdata == std::string::npos ? cdata : xml.find("]]>", cdata);
      if (key == std::string::npos || cdata_end == std::string::npos) break;
      const char* first = xml.c_str() + key + 5;
      const char* last = xml.c_str() + xml.size();
      long long id = 0;
      const auto parsed = std::from_chars(first, last, id);
      const std::string name = xml.substr(cdata + 9, cdata_end - cdata - 9);
      if (parsed.ec != std::errc() || *parsed.ptr != '"' || id < 0 || id > kMaxLabelId) {
        const std::size_t quote = xml.find('"', key + 5);
        fail(ErrorKind::kInvalidInput, "{}: label table Key=\"{}\" for '{}' is not a label id (expected 0..{})",
             file.string(), xml.substr(key + 5, std::min<std::size_t>(quote, key + 37) - key - 5), name,
             kMaxLabelId);
      }
      if (id == 0) continue;  // background
      const ClassInfo* c = catalog.find(name);
      if (c == nullptr) {
        fail(ErrorKind::kInvalidInput, "{}: label table names '{}' (id {}), which is not a TotalSegmentator class",
             file.string(), name, id);
      }
      table[static_cast<int>(id)] = c->index;
    }
  }
  return table;
}

// How the values of a multilabel file map to classes: class_of_id[id] is a class index, -1 for an
// id that names no class.
struct IdScheme {
  std::vector<int> class_of_id;
  std::string name;  // for messages
};

IdScheme id_scheme(const std::vector<io::NiftiExtension>& extensions, const std::filesystem::path& file,
                   const LabelReadOptions& options) {
  const ClassCatalog& catalog = ClassCatalog::builtin();
  const std::map<int, int> table = label_table(extensions, file);
  IdScheme scheme{{}, "label table of the file"};
  if (!table.empty()) {
    scheme.class_of_id.assign(static_cast<std::size_t>(table.rbegin()->first) + 1, -1);
    for (const auto& [id, index] : table) scheme.class_of_id[static_cast<std::size_t>(id)] = index;
  } else if (options.multilabel_version) {
    const auto classes = catalog.version_classes(*options.multilabel_version);
    scheme.class_of_id.assign(classes.size() + 1, -1);
    for (std::size_t i = 0; i < classes.size(); ++i) scheme.class_of_id[i + 1] = classes[i]->index;
    scheme.name = *options.multilabel_version == LabelVersion::kV1 ? "TotalSegmentator v1 ids" : "TotalSegmentator v2 ids";
  } else {
    fail(ErrorKind::kUsage,
         "{}: a multilabel file without a label table; say which id scheme it uses (TotalSegmentator v1 or "
         "v2: ids differ between them)", file.string());
  }
  return scheme;
}

// The class index of multilabel value `v` (-1 for background); throws naming the value when it is
// no id of the scheme.
int class_of_value(float v, const IdScheme& scheme, const std::filesystem::path& file, std::int64_t k) {
  if (v == 0.0f) return -1;
  const float id = std::nearbyint(v);
  if (id != v || id < 0 || id >= static_cast<float>(scheme.class_of_id.size()) ||
      scheme.class_of_id[static_cast<std::size_t>(id)] < 0) {
    fail(ErrorKind::kInvalidInput, "{}: value {} on slice {} is not a class id of the {} (expected 0..{})",
         file.string(), v, k, scheme.name, scheme.class_of_id.size() - 1);
  }
  return scheme.class_of_id[static_cast<std::size_t>(id)];
}

// A multilabel file checked against the CT's grid, with its id scheme.
Volume read_multilabel_file(const std::filesystem::path& file, const Volume& ct, const LabelReadOptions& options,
                            IdScheme& scheme) {
  std::vector<io::NiftiExtension> extensions;
  Volume seg = io::read_nifti(file, &extensions);
  check_same_grid({seg.dims(), seg.affine()}, ct, options.affine_tolerance_mm, file);
  scheme = id_scheme(extensions, file, options);
  return seg;
}

SliceLabels read_multilabel(const std::filesystem::path& file, const Volume& ct, const LabelReadOptions& options) {
  IdScheme scheme;
  const Volume seg = read_multilabel_file(file, ct, options, scheme);
  SliceLabels labels(ClassCatalog::builtin(), ct.nz());
  std::vector<std::uint32_t> hist(scheme.class_of_id.size());
  for (std::int64_t k = 0; k < seg.nz(); ++k) {
    std::fill(hist.begin(), hist.end(), 0);
    for (const float v : seg.slice(k)) {
      if (v == 0.0f) continue;
      (void)class_of_value(v, scheme, file, k);
      ++hist[static_cast<std::size_t>(std::nearbyint(v))];
    }
    for (std::size_t id = 1; id < hist.size(); ++id) {
      if (hist[id] != 0) labels.add(scheme.class_of_id[id], k, hist[id]);
    }
  }
  return labels;
}

void check_labels_path(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    fail(ErrorKind::kNotFound, "{}: no such labels file or folder (expected a folder of per-class masks or a "
         "multilabel NIfTI file)", path.string());
  }
}

}  // namespace

SliceLabels read_labels(const std::filesystem::path& path, const Volume& ct, const LabelReadOptions& options,
                        std::vector<std::string>* skipped) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return read_mask_folder(path, ct, options, skipped);
  check_labels_path(path);
  return read_multilabel(path, ct, options);
}

Volume read_label_map(const std::filesystem::path& path, const Volume& ct, const LabelReadOptions& options) {
  std::vector<float> values(static_cast<std::size_t>(ct.nx() * ct.ny() * ct.nz()), 0.0f);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    const auto files = mask_files(path, nullptr);
    std::mutex mutex;
    parallel_for(files.size(), [&](std::size_t f) {
      const auto& [file, class_index] = files[f];
      const io::Mask mask = io::read_nifti_mask(file);
      check_same_grid({mask.dims, mask.affine}, ct, options.affine_tolerance_mm, file);
      const auto value = static_cast<float>(label_map_value(class_index));
      // The larger value wins where masks overlap, whatever order the files are read in.
      const std::lock_guard lock(mutex);
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (mask.values[i] == 1) values[i] = std::max(values[i], value);
      }
    });
  } else {
    check_labels_path(path);
    IdScheme scheme;
    const Volume seg = read_multilabel_file(path, ct, options, scheme);
    const auto n = static_cast<std::size_t>(ct.slice_size());
    for (std::int64_t k = 0; k < seg.nz(); ++k) {
      const auto slice = seg.slice(k);
      for (std::size_t i = 0; i < n; ++i) {
        const int c = class_of_value(slice[i], scheme, path, k);
        if (c >= 0) values[static_cast<std::size_t>(k) * n + i] = static_cast<float>(label_map_value(c));
      }
    }
  }
  return Volume(ct.dims(), ct.spacing(), ct.affine(), std::move(values), ct.source_orientation());
}

}  // namespace voxir
