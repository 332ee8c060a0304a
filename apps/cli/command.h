// Each CLI subcommand lives in its own file and registers itself here: it declares its usage on
// the CLI11 app (so --help is the documentation) and sets `run` to what executes when chosen.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace voxir::cli {

using CommandRun = std::function<int()>;

void add_info_command(CLI::App& app, CommandRun& run);
void add_synth_command(CLI::App& app, CommandRun& run);
void add_index_command(CLI::App& app, CommandRun& run);
void add_search_command(CLI::App& app, CommandRun& run);
void add_bench_command(CLI::App& app, CommandRun& run);
void add_serve_command(CLI::App& app, CommandRun& run);

// Help of --frame on every command that reads volumes.
inline constexpr const char* kFrameHelp =
    "Frame (0-based) to read from 4-D inputs: NIfTI dim[4], or a phase of a multi-phase DICOM "
    "series";

}  // namespace voxir::cli
