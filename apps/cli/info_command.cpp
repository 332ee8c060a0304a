// voxir info: what a volume (and optionally its labels) holds, in canonical order.
#include "command.h"
#include "voxir/index.h"
#include "voxir/labels.h"
#include "voxir/predict.h"
#include "voxir/volume.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>

namespace voxir::cli {
namespace {

struct InfoArgs {
  std::string input;
  std::string series_uid;
  std::string labels;
  std::string label_ids;
  std::uint32_t min_voxels = 1;
  bool resample_uneven = false;
  std::int64_t frame = -1;  // -1: not given
  std::string predict_index;  // --predict-regions
  bool json = false;
};

using Extents = std::vector<std::pair<std::string, std::array<std::int64_t, 2>>>;

struct LabelFacts {
  Extents fine;    // catalogue order
  Extents coarse;  // coarse-region order
  std::vector<std::string> skipped;
};

LabelFacts label_facts(const InfoArgs& args, const Volume& volume) {
  LabelReadOptions options;
  if (!args.label_ids.empty()) {
    options.multilabel_version = args.label_ids == "v1" ? LabelVersion::kV1 : LabelVersion::kV2;
  }
  LabelFacts facts;
  const SliceLabels labels = read_labels(args.labels, volume, options, &facts.skipped);
  const ClassCatalog& cat = labels.catalog();
  for (const auto& c : cat.classes()) {
    if (const auto e = labels.extent(c.index, args.min_voxels)) facts.fine.emplace_back(c.name, *e);
  }
  for (std::size_t r = 0; r < cat.coarse_regions().size(); ++r) {
    if (const auto e = labels.coarse_extent(static_cast<int>(r), args.min_voxels)) {
      facts.coarse.emplace_back(cat.coarse_regions()[r], *e);
    }
  }
  return facts;
}

nlohmann::ordered_json to_json(const Extents& extents) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& [name, e] : extents) out[name] = {e[0], e[1]};
  return out;
}

void print_extents(const char* title, const Extents& extents) {
  fmt::print("  {} ({} present; slices first..last)\n", title, extents.size());
  for (const auto& [name, e] : extents) fmt::print("    {:<32} {:>4} .. {:<4}\n", name, e[0], e[1]);
}

nlohmann::ordered_json to_json(const std::vector<PredictedExtent>& extents) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& e : extents) {
    out[e.region.name] = {{"first", e.slices[0]}, {"last", e.slices[1]}, {"confidence", e.confidence}};
  }
  return out;
}

void print_predicted(const char* title, const std::vector<PredictedExtent>& extents) {
  fmt::print("  predicted {} ({} present; slices first..last, confidence)\n", title, extents.size());
  for (const auto& e : extents) {
    fmt::print("    {:<32} {:>4} .. {:<4} {:.2f}\n", e.region.name, e.slices[0], e.slices[1],
               e.confidence);
  }
}

int run_info(const InfoArgs& args) {
  ReadOptions options;
  options.series_uid = args.series_uid;
  options.resample_uneven = args.resample_uneven;
  if (args.frame >= 0) options.frame = args.frame;
  const Volume volume = read_volume(args.input, options);
  const auto range = volume.hu_range();
  std::optional<LabelFacts> facts;
  if (!args.labels.empty()) facts = label_facts(args, volume);
  std::optional<AnatomyPrediction> predicted;
  if (!args.predict_index.empty()) {
    const auto index = Index::open(args.predict_index);
    predicted.emplace(predict_anatomy(*index, volume));
  }
  if (facts) {
    for (const auto& s : facts->skipped) {
      fmt::print(stderr, "voxir: warning: {}: '{}' is not a TotalSegmentator class name; skipped\n",
                 args.labels, s);
    }
  }
  if (args.json) {
    nlohmann::ordered_json out;
    out["path"] = args.input;
    out["dims"] = volume.dims();
    out["spacing"] = volume.spacing();
    out["orientation"] = volume.source_orientation();
    out["canonical_orientation"] = "RAS";
    out["hu_range"] = {range[0], range[1]};
    out["nonfinite_voxels"] = volume.nonfinite_voxels();
    out["affine"] = volume.affine();
    if (facts) {
      out["min_voxels"] = args.min_voxels;
      out["labels"] = to_json(facts->fine);
      out["coarse"] = to_json(facts->coarse);
    }
    if (predicted) {
      out["predicted"] = {{"index", args.predict_index},
                          {"labels", to_json(predicted->extents(false))},
                          {"coarse", to_json(predicted->extents(true))}};
    }
    // The input path may not be UTF-8: replaced, where dump() would throw.
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
    return 0;
  }
  fmt::print("{}\n", args.input);
  fmt::print("  dims         {} x {} x {} (canonical RAS+, slice 0 inferior)\n", volume.nx(), volume.ny(),
             volume.nz());
  fmt::print("  spacing      {:.4g} x {:.4g} x {:.4g} mm\n", volume.spacing()[0], volume.spacing()[1],
             volume.spacing()[2]);
  fmt::print("  orientation  {} (source)\n", volume.source_orientation());
  fmt::print("  HU range     {} .. {}{}\n", range[0], range[1],
             volume.nonfinite_voxels() > 0 ? " (finite voxels)" : "");
  if (volume.nonfinite_voxels() > 0) {
    fmt::print("  non-finite   {} voxels (NaN or infinite; read as {} HU, outside the scan)\n",
               volume.nonfinite_voxels(), kOutsideScanHu);
  }
  if (facts) {
    print_extents("classes", facts->fine);
    print_extents("coarse regions", facts->coarse);
  }
  if (predicted) {
    print_predicted("classes", predicted->extents(false));
    print_predicted("coarse regions", predicted->extents(true));
  }
  return 0;
}

}  // namespace

void add_info_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a CT volume (NIfTI file or DICOM folder) and its labels");
  cmd->add_option("input", args->input, "NIfTI file (.nii, .nii.gz) or folder of a DICOM series")->required();
  cmd->add_option("--series", args->series_uid, "SeriesInstanceUID to read from a folder with several");
  cmd->add_option("--labels", args->labels,
                  "TotalSegmentator labels on the same grid: a folder of <class>.nii.gz masks or a "
                  "multilabel file");
  cmd->add_option("--label-ids", args->label_ids,
                  "Id scheme (v1 or v2) of a multilabel file that has no label table of its own "
                  "(TotalSegmentator v2 files carry one)")
      ->check(CLI::IsMember({"v1", "v2"}));
  cmd->add_option("--min-voxels", args->min_voxels, "Voxels a class needs on a slice to count as present")
      ->check(CLI::Range(1U, 1U << 30))
      ->capture_default_str();
  cmd->add_flag("--resample-uneven", args->resample_uneven,
                 "Resample a DICOM series with uneven slice gaps onto its smallest gap (linear)");
  cmd->add_option("--frame", args->frame, kFrameHelp)
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--predict-regions", args->predict_index,
                  "Index folder: predict each class's and region's slices from its labelled "
                  "slices (docs/predicted-anatomy.md)");
  cmd->add_flag("--json", args->json, "Print JSON instead of text");
  cmd->callback([args, &run] { run = [args] { return run_info(*args); }; });
}

}  // namespace voxir::cli
