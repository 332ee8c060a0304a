// voxir info: what a volume (and optionally its labels) holds, in canonical order.
#include "command.h"
#include "voxir/volume.h"

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <memory>

namespace voxir::cli {
namespace {

struct InfoArgs {
  std::string input;
  std::string series_uid;
  bool resample_uneven = false;
  bool json = false;
};

int run_info(const InfoArgs& args) {
  ReadOptions options;
  options.series_uid = args.series_uid;
  options.resample_uneven = args.resample_uneven;
  const Volume volume = read_volume(args.input, options);
  const auto range = volume.hu_range();
  if (args.json) {
    nlohmann::ordered_json out;
    out["path"] = args.input;
    out["dims"] = volume.dims();
    out["spacing"] = volume.spacing();
    out["orientation"] = volume.source_orientation();
    out["canonical_orientation"] = "RAS";
    out["hu_range"] = {range[0], range[1]};
    out["affine"] = volume.affine();
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("{}\n", args.input);
  fmt::print("  dims         {} x {} x {} (canonical RAS+, slice 0 inferior)\n", volume.nx(),
             volume.ny(), volume.nz());
  fmt::print("  spacing      {:.4g} x {:.4g} x {:.4g} mm\n", volume.spacing()[0], volume.spacing()[1],
             volume.spacing()[2]);
  fmt::print("  orientation  {} (source)\n", volume.source_orientation());
  fmt::print("  HU range     {} .. {}\n", range[0], range[1]);
  return 0;
}

}  // namespace

void add_info_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a CT volume (NIfTI file or DICOM folder)");
  cmd->add_option("input", args->input, "NIfTI file (.nii, .nii.gz) or folder of a DICOM series")
      ->required();
  cmd->add_option("--series", args->series_uid, "SeriesInstanceUID to read from a folder with several");
  cmd->add_flag("--resample-uneven", args->resample_uneven,
                 "Resample a DICOM series with uneven slice gaps onto its smallest gap (linear)");
  cmd->add_flag("--json", args->json, "Print JSON instead of text");
  cmd->callback([args, &run] { run = [args] { return run_info(*args); }; });
}

}  // namespace voxir::cli
