// voxir/labels.h: the TotalSegmentator class catalogue and per-slice label facts of a volume.
//
// The catalogue ships inside voxir (compiled in from data/labels/*.csv): the union of the v1
// (104 classes) and v2 (117 classes) names, each with its v1 and v2 integer id (0 when absent
// from that version), its category (organ, bone, muscle, vessel; empty for v2-only classes) and
// its coarse region, one of our 29 (empty for v2-only classes). Versions are mapped by name.
//
// Slice facts are in canonical order (voxir/volume.h): slice 0 is the most inferior.
#pragma once

#include "voxir/volume.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace voxir {

enum class LabelVersion { kV1, kV2 };

struct ClassInfo {
  int index = 0;         // position in ClassCatalog::classes()
  std::string name;      // e.g. "vertebrae_L3"
  int v1_id = 0;         // 1..104, 0 when not a v1 class
  int v2_id = 0;         // 1..117, 0 when not a v2 class
  std::string category;  // "organ", "bone", "muscle", "vessel"; "" for v2-only classes
  std::string coarse;    // one of the 29 coarse regions; "" for v2-only classes
};

// What a user names when asking for "the slices of X": one catalogue class ("liver",
// "vertebrae_L3") or one coarse region ("vertebrae", "lung"). A class name wins when a name is
// both (e.g. "liver" names the class and the region holding only it).
struct Region {
  std::string name;
  bool coarse = false;  // true: index is into coarse_regions(); false: a class index
  int index = 0;
};

// Immutable after construction; safe to share between threads.
class ClassCatalog {
 public:
  // The catalogue compiled into voxir.
  [[nodiscard]] static const ClassCatalog& builtin();
  // A catalogue from the two CSV files (same columns as data/labels/); lets a user swap the
  // 104->29 mapping. Throws Error(kInvalidInput) naming the file and line of a bad row.
  [[nodiscard]] static ClassCatalog from_csv(std::string_view v1_csv, std::string_view v2_csv);

  // All classes: the 104 v1 classes in v1 id order, then the v2-only ones in v2 id order.
  [[nodiscard]] std::span<const ClassInfo> classes() const { return classes_; }
  // Classes of one version, in id order (104 for v1, 117 for v2).
  [[nodiscard]] std::vector<const ClassInfo*> version_classes(LabelVersion version) const;
  // The coarse regions in order of first appearance in the v1 list (29 by default).
  [[nodiscard]] std::span<const std::string> coarse_regions() const { return coarse_; }
  // Index into coarse_regions() of a class; -1 for v2-only classes.
  [[nodiscard]] int coarse_index(int class_index) const { return coarse_of_[static_cast<std::size_t>(class_index)]; }
  // Index of a coarse region by name; -1 when unknown.
  [[nodiscard]] int coarse_index(std::string_view region) const;

  [[nodiscard]] const ClassInfo* find(std::string_view name) const;
  // Throws Error(kNotFound) listing close names when `name` is unknown.
  [[nodiscard]] const ClassInfo& at(std::string_view name) const;
  [[nodiscard]] const ClassInfo* by_id(LabelVersion version, int id) const;
  // The class or coarse region called `name`. Throws Error(kNotFound) listing close names of
  // both kinds when it is neither.
  [[nodiscard]] Region region(std::string_view name) const;
  // Class indices making up `region` (one for a class).
  [[nodiscard]] std::vector<int> region_classes(const Region& region) const;

 private:
  std::vector<ClassInfo> classes_;
  std::vector<std::string> coarse_;
  std::vector<int> coarse_of_;
};

// Per-slice voxel counts of every catalogue class in one volume: the ground truth from which
// presence and extents follow for any min_voxels.
class SliceLabels {
 public:
  SliceLabels() = default;
  SliceLabels(const ClassCatalog& catalog, std::int64_t num_slices);

  [[nodiscard]] const ClassCatalog& catalog() const { return *catalog_; }
  [[nodiscard]] std::int64_t num_slices() const { return num_slices_; }

  // Voxels of class `class_index` on slice k.
  [[nodiscard]] std::uint32_t count(int class_index, std::int64_t k) const {
    return counts_[static_cast<std::size_t>(class_index * num_slices_ + k)];
  }
  void add(int class_index, std::int64_t k, std::uint32_t voxels) {
    counts_[static_cast<std::size_t>(class_index * num_slices_ + k)] += voxels;
  }

  [[nodiscard]] bool present(int class_index, std::int64_t k, std::uint32_t min_voxels = 1) const {
    return count(class_index, k) >= min_voxels;
  }
  // First and last slice on which the class is present; nullopt when it is on none.
  [[nodiscard]] std::optional<std::array<std::int64_t, 2>> extent(int class_index,
                                                                  std::uint32_t min_voxels = 1) const;
  // A coarse region is present on a slice when any of its classes is (each judged alone with
  // min_voxels).
  [[nodiscard]] bool coarse_present(int coarse_index, std::int64_t k, std::uint32_t min_voxels = 1) const;
  [[nodiscard]] std::optional<std::array<std::int64_t, 2>> coarse_extent(
      int coarse_index, std::uint32_t min_voxels = 1) const;
  // The extent of a class or coarse region (ClassCatalog::region).
  [[nodiscard]] std::optional<std::array<std::int64_t, 2>> extent(const Region& region,
                                                                  std::uint32_t min_voxels = 1) const;

 private:
  const ClassCatalog* catalog_ = nullptr;
  std::int64_t num_slices_ = 0;
  std::vector<std::uint32_t> counts_;  // [class][slice]
};

struct LabelReadOptions {
  // Id scheme of a multilabel file. A file that carries its own label table (TotalSegmentator v2
  // writes one as a NIfTI header extension) is read by that table's names and this is ignored.
  // A file without a table needs it: nullopt then fails with a message asking for it, because
  // v1 and v2 ids differ and a wrong guess would give plausible but wrong names.
  std::optional<LabelVersion> multilabel_version;
  // Largest difference allowed between the label grid's voxel positions and the CT's, in mm.
  double affine_tolerance_mm = 1e-3;
};

// Reads labels for `ct`: a folder of per-class binary masks (<class>.nii or .nii.gz named after a
// catalogue class, v1 or v2; a voxel belongs to the class when its value is > 0.5) or one
// multilabel volume whose values are class ids (see LabelReadOptions::multilabel_version).
// Every label grid must match the CT's (dims equal, affine within tolerance); otherwise
// Error(kInvalidInput) names the file and both grids. A multilabel value that is not an id of
// that version is an error naming the value. In a folder, NIfTI files whose names are not
// classes (e.g. ct.nii.gz beside the masks) are skipped and listed in `skipped`; a folder
// without any class file is Error(kNotFound). Files are read on all cores.
[[nodiscard]] SliceLabels read_labels(const std::filesystem::path& path, const Volume& ct,
                                      const LabelReadOptions& options = {},
                                      std::vector<std::string>* skipped = nullptr);

// A label map: one volume on a CT's grid whose voxel values name classes, as viewers show labels.
// The value of a class is its catalogue index + 1 (ClassInfo::index + 1, fixed by the built-in
// catalogue, so a value table needs no reading); 0 is background.
[[nodiscard]] constexpr int label_map_value(int class_index) { return class_index + 1; }

// Reads labels for `ct` as read_labels does (same sources, grid checks, errors) and returns them
// as a label map: dims, spacing and affine equal to ct's, each voxel label_map_value of its class,
// 0 where there is none. Where masks of a folder overlap, the larger value wins. Reads the whole
// grid into memory (4 bytes per voxel, as a CT).
[[nodiscard]] Volume read_label_map(const std::filesystem::path& path, const Volume& ct,
                                    const LabelReadOptions& options = {});

}  // namespace voxir
