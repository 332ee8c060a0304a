// voxir synth: writes a dataset of synthetic CT phantoms in the TotalSegmentator release layout.
#include "command.h"
#include "voxir/error.h"
#include "voxir/synth.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

namespace voxir::cli {
namespace {

struct SynthArgs {
  std::string out;
  synth::SynthOptions options;
  std::string region;
  bool quiet = false;
};

int run_synth(SynthArgs& args) {
  if (!args.region.empty()) {
    args.options.subject.region = synth::parse_region(args.region);
    if (!args.options.subject.region) {
      fail(ErrorKind::kUsage, "--region {}: unknown (expected one of {})", args.region,
           synth::region_names());
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  synth::Progress progress;
  if (!args.quiet) {
    // A redrawn line on a terminal; in a log, about ten plain lines.
    progress = [tty = ::isatty(STDERR_FILENO) != 0](int done, int total) {
      if (tty) {
        fmt::print(stderr, "\rsynth: {}/{} subjects", done, total);
        if (done == total) fmt::print(stderr, "\n");
      } else if (done == total || done % std::max(1, total / 10) == 0) {
        fmt::print(stderr, "synth: {}/{} subjects\n", done, total);
      }
    };
  }
  const synth::DatasetSummary s = synth::write_dataset(args.out, args.options, progress);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("{}: {} subjects, {} slices in {:.1f} s ({:.1f} volumes/min, {:.0f} slices/s)\n", args.out,
             s.subjects, s.slices, seconds, s.subjects * 60.0 / seconds, static_cast<double>(s.slices) / seconds);
  return 0;
}

}  // namespace

void add_synth_command(CLI::App& app, CommandRun& run) {
  auto args = std::make_shared<SynthArgs>();
  CLI::App* cmd = app.add_subcommand(
      "synth",
      "Write synthetic CT phantoms with exact TotalSegmentator v1 labels (meta.csv, <id>/ct.nii.gz, "
      "<id>/segmentations/<class>.nii.gz). Phantoms test the pipeline end to end; recall on them says nothing "
      "about recall on real CTs (docs/synth.md)");
  cmd->add_option("out-dir", args->out, "Folder to write the dataset to (created if needed)")->required();
  cmd->add_option("--subjects", args->options.subjects, "Number of subjects")->required();
  cmd->add_option("--seed", args->options.seed, "Seed: the same seed gives the same files")->capture_default_str();
  cmd->add_option("--test-fraction", args->options.test_fraction, "Fraction of subjects in the test split")
      ->capture_default_str();
  cmd->add_option("--spacing", args->options.subject.slice_spacing_mm,
                  "Slice spacing in mm for every subject (default: drawn per subject from 1.5..5)");
  cmd->add_option("--matrix", args->options.subject.matrix,
                  "In-plane matrix size, e.g. 512 for real-scan sizes (default: drawn per subject from 128, 144, 160)");
  cmd->add_option("--region", args->region,
                  fmt::format("Body region for every subject: {} (default: drawn per subject)",
                              synth::region_names()));
  cmd->add_option("--threads", args->options.threads, "Worker threads (0: all cores); output does not depend on it")
      ->capture_default_str();
  cmd->add_flag("--quiet", args->quiet, "No progress on stderr");
  cmd->callback([args, &run] { run = [args] { return run_synth(*args); }; });
}

}  // namespace voxir::cli
