// Writing phantoms as a dataset in the TotalSegmentator release layout.
#include "synth/phantom.h"
#include "synth/rng.h"
#include "util/file.h"
#include "util/parallel.h"
#include "voxir/error.h"
#include "voxir/synth.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <mutex>

namespace voxir::synth {
namespace {

std::string image_id(int index, int total) {
  const int width = std::max(4, static_cast<int>(std::to_string(total).size()));
  return fmt::format("s{:0{}d}", index + 1, width);
}

// Exactly round(fraction * n) subjects go to "test", chosen by a seeded shuffle.
std::vector<std::string> draw_splits(int n, double test_fraction, std::uint64_t seed) {
  const auto n_test = static_cast<int>(std::lround(test_fraction * n));
  std::vector<int> order(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  Rng rng(mix_seed(seed, 0x5111));
  for (int i = n - 1; i > 0; --i) std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(rng.uniform_int(0, i))]);
  std::vector<std::string> split(static_cast<std::size_t>(n), "train");
  for (int i = 0; i < n_test; ++i) split[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] = "test";
  return split;
}

struct Row {
  std::string demographics;  // age;gender;institute
  std::string study_type;
  std::string acquisition;   // the generator's own columns
  std::int64_t slices = 0;
  std::int64_t voxels = 0;
};

}  // namespace

void SynthOptions::validate() const {
  if (subjects < 1 || subjects > 1'000'000) fail(ErrorKind::kUsage, "--subjects {}: expected 1..1000000", subjects);
  if (!(test_fraction >= 0 && test_fraction <= 1)) {
    fail(ErrorKind::kUsage, "--test-fraction {}: expected a value in [0, 1]", test_fraction);
  }
  if (threads < 0) fail(ErrorKind::kUsage, "threads {}: expected 0 (all cores) or more", threads);
  subject.validate();
}

// Writes ct.nii.gz and segmentations/<class>.nii.gz for every class (empty masks included, as in
// the TotalSegmentator release).
void write_subject(const Phantom& phantom, const std::filesystem::path& dir, const std::vector<std::string>& names) {
  const std::filesystem::path seg = dir / "segmentations";
  std::error_code ec;
  std::filesystem::create_directories(seg, ec);
  if (ec) fail(ErrorKind::kIo, "{}: cannot create folder: {}", seg.string(), ec.message());
  write_nifti(phantom.ct, dir / "ct.nii.gz", NiftiDatatype::kInt16);

  // Voxel indices of each label, grouped (counting sort), so each mask is set and cleared in
  // time proportional to its own size.
  const std::vector<std::uint8_t>& labels = phantom.labels;
  std::vector<std::uint32_t> start(names.size() + 2, 0);
  for (std::uint8_t l : labels) ++start[static_cast<std::size_t>(l) + 1];
  for (std::size_t c = 1; c < start.size(); ++c) start[c] += start[c - 1];
  std::vector<std::uint32_t> index(labels.size());
  {
    std::vector<std::uint32_t> fill(start.begin(), start.end() - 1);
    for (std::size_t i = 0; i < labels.size(); ++i) index[fill[labels[i]]++] = static_cast<std::uint32_t>(i);
  }

  const Volume& ct = phantom.ct;
  Volume mask(ct.dims(), ct.spacing(), ct.affine(), std::vector<float>(labels.size(), 0.0f), "RAS");
  std::vector<std::uint8_t> empty_file;  // every empty mask of a subject is the same file
  for (std::size_t c = 0; c < names.size(); ++c) {
    const std::filesystem::path path = seg / fmt::format("{}.nii.gz", names[c]);
    const std::uint32_t first = start[c + 1];
    const std::uint32_t last = start[c + 2];
    if (first == last) {
      if (empty_file.empty()) {
        write_nifti(mask, path, NiftiDatatype::kUint8);
        empty_file = read_file(path);
      } else {
        write_file_atomic(path, empty_file, /*sync=*/false);
      }
      continue;
    }
    const std::span<float> m = mask.hu();
    for (std::uint32_t k = first; k < last; ++k) m[index[k]] = 1.0f;
    write_nifti(mask, path, NiftiDatatype::kUint8);
    for (std::uint32_t k = first; k < last; ++k) m[index[k]] = 0.0f;
  }
}

DatasetSummary write_dataset(const std::filesystem::path& root, const SynthOptions& options, const Progress& progress) {
  options.validate();
  const std::vector<std::string> names = v1_class_names();
  const ClassIds& ids = v1_class_ids();
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) fail(ErrorKind::kIo, "{}: cannot create folder: {}", root.string(), ec.message());

  const int n = options.subjects;
  const std::vector<std::string> split = draw_splits(n, options.test_fraction, options.seed);
  std::vector<Row> rows(static_cast<std::size_t>(n));
  std::mutex mutex;  // guards done and the progress callback
  int done = 0;
  parallel_for(
      static_cast<std::size_t>(n),
      [&](std::size_t item) {
        const int i = static_cast<int>(item);
        const std::string id = image_id(i, n);
        with_context(id, [&] {
          const std::uint64_t seed = mix_seed(options.seed, static_cast<std::uint64_t>(i) + 1);
          const Phantom p = generate_subject(seed, options.subject, ids);
          write_subject(p, root / id, names);
          const Volume& ct = p.ct;
          Row& row = rows[item];
          row.slices = ct.nz();
          row.voxels = static_cast<std::int64_t>(ct.hu().size());
          row.demographics = fmt::format("{};{};voxir-synth", p.info.age, p.info.sex);
          row.study_type = fmt::format("ct {}", to_string(p.info.region));
          row.acquisition = fmt::format("{};{:.4f};{:.2f};{}x{}x{};{};{:.1f};{};{}", p.info.fov_mm, ct.spacing()[0],
                                        ct.spacing()[2], ct.nx(), ct.ny(), ct.nz(), p.info.contrast,
                                        p.info.noise_hu, p.info.arms_up ? "up" : "down", seed);
        });
        const std::lock_guard lock(mutex);
        ++done;
        if (progress) progress(done, n);
      },
      options.threads);

  // TotalSegmentator's own columns first, then what the generator drew.
  std::string meta =
      "image_id;age;gender;institute;study_type;split;fov_mm;pixel_spacing_mm;slice_spacing_mm;dims;contrast;"
      "noise_hu;arms;seed\n";
  DatasetSummary summary;
  for (int i = 0; i < n; ++i) {
    const Row& row = rows[static_cast<std::size_t>(i)];
    meta += fmt::format("{};{};{};{};{}\n", image_id(i, n), row.demographics, row.study_type,
                        split[static_cast<std::size_t>(i)], row.acquisition);
    summary.slices += row.slices;
    summary.voxels += row.voxels;
  }
  summary.subjects = n;
  const std::filesystem::path meta_path = root / "meta.csv";
  write_file_atomic(meta_path, std::span(reinterpret_cast<const std::uint8_t*>(meta.data()), meta.size()), false);
  return summary;
}

}  // namespace voxir::synth
