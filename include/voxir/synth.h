// voxir/synth.h: synthetic CT phantoms with exact TotalSegmentator v1 labels.
//
// A phantom is a body from skull vertex to mid-thigh in which every one of the 104 v1 classes is
// an analytic shape (ellipsoids, tubes along curves, stacked vertebrae, curved ribs, split lungs
// and heart), placed in anatomical order and varied per subject: body size and shape, organ size
// and position, field of view, slice and in-plane spacing, contrast phase, noise. CT values come
// from tissue HU values with partial-volume blur and noise; labels are painted by construction, so
// per-slice presence and extents are ground truth. See docs/synth.md for what is not modelled:
// recall measured on phantoms says nothing about recall on real CTs.
//
// Determinism: everything follows from the seed through a fixed-algorithm generator, so the same
// seed and options give the same bytes on every run, thread count and machine with the same libm.
// Volumes are in canonical order (voxir/volume.h: RAS+, slice 0 inferior).
#pragma once

#include "voxir/labels.h"
#include "voxir/volume.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace voxir::synth {

// The scanned body part, as in the study types of the TotalSegmentator release.
enum class Region {
  kWholeBody,            // vertex to mid-thigh
  kHeadNeck,             // vertex to the upper thorax
  kThorax,               // thoracic inlet to the upper abdomen
  kAbdomen,              // liver dome to the iliac crests
  kPelvis,               // lower lumbar spine to the proximal thighs
  kThoraxAbdomen,        // thoracic inlet to the iliac crests
  kThoraxAbdomenPelvis,  // thoracic inlet to the proximal thighs
  kAbdomenPelvis,        // liver dome to the proximal thighs
};
[[nodiscard]] std::string_view to_string(Region region);
// Accepts the names to_string gives ("whole-body", "thorax-abdomen", ...); nullopt otherwise.
[[nodiscard]] std::optional<Region> parse_region(std::string_view name);
// Every region's name, "whole-body, head-neck, ...", for help texts and error messages.
[[nodiscard]] std::string region_names();

// Options of one subject. Unset values are drawn from the subject's seed.
struct SubjectOptions {
  std::optional<Region> region;
  // Slice spacing in mm; 0 draws it uniformly from [1.5, 5] (rounded to 0.25 mm).
  double slice_spacing_mm = 0;
  // In-plane matrix (square, pixel size = field of view / matrix); 0 draws 128, 144 or 160.
  // Time and disk grow with its square: 512 gives real-scan sizes at ~16x the cost of 128.
  int matrix = 0;
  // Throws Error(kUsage) saying which value is wrong.
  void validate() const;
};

// What a subject was drawn with; written to meta.csv.
struct SubjectInfo {
  std::uint64_t seed = 0;
  Region region = Region::kWholeBody;
  std::string sex;          // "m" or "f"
  int age = 0;
  std::string contrast;     // "none", "arterial", "portal-venous"
  double noise_hu = 0;      // standard deviation of the added noise
  double fov_mm = 0;        // in-plane field of view (square)
  bool arms_up = false;
};

struct Phantom {
  Volume ct;  // HU (integers), canonical order
  // TotalSegmentator v1 id (1..104) of each voxel, 0 for none; same order and size as ct.hu().
  std::vector<std::uint8_t> labels;
  SubjectInfo info;
};

// Generates one subject in memory. Deterministic in (seed, options). Throws Error(kUsage) for
// invalid options.
[[nodiscard]] Phantom generate_subject(std::uint64_t seed, const SubjectOptions& options = {});

// The phantom's ground truth as per-slice voxel counts over the built-in catalogue: what
// read_labels gives for the masks write_dataset writes.
[[nodiscard]] SliceLabels slice_labels(const Phantom& phantom);

// Options of a whole dataset.
struct SynthOptions {
  int subjects = 10;
  std::uint64_t seed = 1;
  // Fraction of subjects in the "test" split (rounded to the nearest count); the rest is "train".
  double test_fraction = 0.2;
  SubjectOptions subject;  // applied to every subject (region, slice spacing)
  // Worker threads; 0 uses every core. The output does not depend on it.
  int threads = 0;
  // Throws Error(kUsage) saying which value is wrong.
  void validate() const;
};

struct DatasetSummary {
  int subjects = 0;
  std::int64_t slices = 0;  // sum of the subjects' slice counts
  std::int64_t voxels = 0;
};

// Called after each subject is written, from the writing thread, serialised: (done, total).
using Progress = std::function<void(int done, int total)>;

// Writes a dataset in the TotalSegmentator release layout under `root` (created if needed; files
// already there are overwritten):
//   meta.csv                               image_id;age;gender;institute;study_type;split;...
//   s0001/ct.nii.gz                        int16 HU
//   s0001/segmentations/<class>.nii.gz     uint8 0/1, one per v1 class (104), empty ones too
// meta.csv is written last, so a dataset interrupted midway has none and is not mistaken for a
// complete one. Subject i's seed depends only on (options.seed, i). Throws Error(kUsage) for
// invalid options, kIo when writing fails.
DatasetSummary write_dataset(const std::filesystem::path& root, const SynthOptions& options,
                             const Progress& progress = {});

}  // namespace voxir::synth
