// Leave-one-out of predicted anatomy (voxir/predict.h) over real labelled CTs: each CT in turn is
// held out, an index is built from the other CTs (plus, optionally, labelled synthetic phantoms),
// the held-out CT's classes and regions are predicted from it and compared with its true extents.
// Shared by bench/predict_loo.cpp (the measurement in docs/predicted-anatomy.md) and its test
// (tests/predict/leave_one_out_test.cpp). Header-only, like ct_like.h.
#pragma once

#include "voxir/embed.h"
#include "voxir/eval.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/labels.h"
#include "voxir/predict.h"
#include "voxir/synth.h"
#include "voxir/volume.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace voxir::bench {

// One real CT with its labels. `complete`: the labels cover the whole catalogue (a class without
// a mask is truly absent), so coarse regions can be scored too; per-structure mask sets are not.
struct LooCase {
  std::string id;
  std::filesystem::path ct;
  std::filesystem::path labels;         // folder of masks or a multilabel file
  std::vector<std::string> leave_out;   // mask files of `labels` not to read (another grid)
  std::optional<LabelVersion> multilabel;
  bool complete = false;
};

// The distinct real labelled CTs of a data folder laid out as the team's ct/ samples (its
// README): ts-mini/s0001 (v1 masks), ts-dicom-abdomen (DICOM, v2 multilabel), ts-thorax-cta/aorta
// and ts-thorax-cta/pulmonary (per-structure masks; pulmonary's heart.nii.gz is on another grid).
// ts-example-multilabel is s0001's CT again and is left out (it would be its own neighbour).
// Cases whose files are missing are skipped.
inline std::vector<LooCase> real_labelled_cts(const std::filesystem::path& ct_dir) {
  std::vector<LooCase> all{
      {"s0001", ct_dir / "ts-mini/s0001/ct.nii.gz", ct_dir / "ts-mini/s0001/segmentations", {},
       std::nullopt, true},
      {"dicom-abdomen", ct_dir / "ts-dicom-abdomen/dicom",
       ct_dir / "ts-dicom-abdomen/example_seg_dicom_v2.nii.gz", {}, LabelVersion::kV2, true},
      {"thorax-aorta", ct_dir / "ts-thorax-cta/aorta/ct_cropped.nii.gz",
       ct_dir / "ts-thorax-cta/aorta", {}, std::nullopt, false},
      {"thorax-pulmonary", ct_dir / "ts-thorax-cta/pulmonary/ct_cropped.nii.gz",
       ct_dir / "ts-thorax-cta/pulmonary", {"heart.nii.gz"}, std::nullopt, false},
  };
  std::vector<LooCase> out;
  std::error_code ec;
  for (auto& c : all) {
    if (std::filesystem::exists(c.ct, ec) && std::filesystem::exists(c.labels, ec))
      out.push_back(std::move(c));
  }
  return out;
}

struct LooUnit {
  std::string name;
  bool coarse = false;
  std::array<std::int64_t, 2> truth{};
  std::optional<std::array<std::int64_t, 2>> predicted;
  double confidence = 0;
  double iou = 0;           // 0 when not predicted
  double baseline_iou = 0;  // of the whole volume as the extent
};

struct LooFold {
  std::string held_out;
  std::int64_t slices = 0;
  std::size_t labelled_volumes = 0;  // in the fold's index
  std::vector<LooUnit> units;        // classes (and coarse regions when complete) truly present
  [[nodiscard]] double mean(bool coarse, bool baseline) const {
    double sum = 0;
    int n = 0;
    for (const auto& u : units) {
      if (u.coarse != coarse) continue;
      sum += baseline ? u.baseline_iou : u.iou;
      ++n;
    }
    return n > 0 ? sum / n : -1;
  }
};

struct LooOptions {
  std::filesystem::path work;        // indexes, phantoms, label folders, the embedding cache
  std::string embedder = "builtin:tissue";
  int phantoms = 0;                  // labelled synthetic phantoms added to every fold's index
  std::uint64_t phantom_seed = 7;    // (voxir synth --seed 7 --spacing 3, as the demo's)
  std::filesystem::path phantom_dir; // instead: an existing labelled dataset (e.g. voxir synth's)
  std::vector<std::string> only;     // held-out ids to run (empty: all)
};

// The labels as read_labels should see them: a folder of links without the left-out files.
inline std::filesystem::path usable_labels(const LooCase& c, const std::filesystem::path& work) {
  if (c.leave_out.empty()) return c.labels;
  const auto dir = work / "labels" / c.id;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const auto& entry : std::filesystem::directory_iterator(c.labels)) {
    const auto name = entry.path().filename().string();
    if (std::find(c.leave_out.begin(), c.leave_out.end(), name) != c.leave_out.end()) continue;
    std::filesystem::create_symlink(std::filesystem::absolute(entry.path()), dir / name);
  }
  return dir;
}

inline std::vector<LooFold> run_leave_one_out(const std::vector<LooCase>& cases,
                                              const LooOptions& options) {
  std::filesystem::create_directories(options.work);
  std::vector<VolumeSource> extra;
  if (!options.phantom_dir.empty()) {
    const std::vector<std::filesystem::path> paths{options.phantom_dir};
    extra = sources_from_paths(paths, {}, "phantom:");
  } else if (options.phantoms > 0) {
    const auto dir = options.work / fmt::format("phantoms-{}-{}", options.phantoms, options.phantom_seed);
    if (!std::filesystem::exists(dir / "meta.csv")) {
      synth::SynthOptions so;
      so.subjects = options.phantoms;
      so.seed = options.phantom_seed;
      so.subject.slice_spacing_mm = 3;
      (void)synth::write_dataset(dir, so);
    }
    const std::vector<std::filesystem::path> paths{dir};
    extra = sources_from_paths(paths, {}, "phantom:");
  }
  std::vector<VolumeSource> real;
  for (const auto& c : cases) {
    VolumeSource s;
    s.id = c.id;
    s.path = c.ct;
    s.labels = usable_labels(c, options.work);
    real.push_back(std::move(s));
  }
  const auto embedder = make_embedder(options.embedder);
  const ClassCatalog& cat = ClassCatalog::builtin();
  std::vector<LooFold> folds;
  for (std::size_t h = 0; h < cases.size(); ++h) {
    const LooCase& c = cases[h];
    if (!options.only.empty() &&
        std::find(options.only.begin(), options.only.end(), c.id) == options.only.end())
      continue;
    std::vector<VolumeSource> sources = extra;
    for (std::size_t o = 0; o < real.size(); ++o) {
      if (o != h) sources.push_back(real[o]);
    }
    const auto index_dir = options.work / ("index-without-" + c.id);
    BuildOptions bo;
    bo.index = IndexSpec::parse("faiss:Flat");
    bo.embedding_cache = options.work / "cache";
    bo.predict = false;
    bo.strict = true;
    (void)build_index(index_dir, sources, *embedder, bo);
    const auto index = Index::open(index_dir);
    const Volume volume = read_volume(c.ct);
    LabelReadOptions lo;
    lo.multilabel_version = c.multilabel;
    const SliceLabels truth = read_labels(real[h].labels, volume, lo);
    const AnatomyPrediction p = predict_anatomy(*index, volume, {}, embedder.get());
    LooFold fold;
    fold.held_out = c.id;
    fold.slices = volume.nz();
    fold.labelled_volumes = AnatomyPredictor(*index).labelled_volumes();
    const auto score = [&](const Region& region) {
      const auto t = truth.extent(region);
      if (!t) return;
      LooUnit u;
      u.name = region.name;
      u.coarse = region.coarse;
      u.truth = *t;
      if (const auto e = p.extent(region)) {
        u.predicted = e->slices;
        u.confidence = e->confidence;
        u.iou = eval::slice_iou(*t, e->slices);
      }
      u.baseline_iou = eval::slice_iou(*t, {0, volume.nz() - 1});
      fold.units.push_back(std::move(u));
    };
    for (const auto& cls : cat.classes()) score(Region{cls.name, false, cls.index});
    if (c.complete) {
      for (std::size_t r = 0; r < cat.coarse_regions().size(); ++r)
        score(Region{cat.coarse_regions()[r], true, static_cast<int>(r)});
    }
    folds.push_back(std::move(fold));
  }
  return folds;
}

}  // namespace voxir::bench
