// voxir: content-based retrieval of 3D CT volumes. See README.md.
#include "command.h"
#include "voxir/error.h"
#include "voxir/version.h"

#include <fmt/core.h>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  CLI::App app{"voxir: content-based retrieval of 3D CT volumes"};
  app.require_subcommand(1);
  app.set_version_flag("--version", fmt::format("voxir {}", voxir::version()));
  voxir::cli::CommandRun run;
  voxir::cli::add_info_command(app, run);
  voxir::cli::add_synth_command(app, run);
  voxir::cli::add_index_command(app, run);
  voxir::cli::add_search_command(app, run);
  voxir::cli::add_bench_command(app, run);
  voxir::cli::add_serve_command(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : voxir::exit_code(voxir::ErrorKind::kUsage);
  }
  try {
    return run();
  } catch (const voxir::Error& e) {
    fmt::print(stderr, "voxir: {}: {}\n", voxir::to_string(e.kind()), e.what());
    return voxir::exit_code(e.kind());
  } catch (const std::exception& e) {
    fmt::print(stderr, "voxir: internal error: {}\n", e.what());
    return voxir::exit_code(voxir::ErrorKind::kInternal);
  }
}
