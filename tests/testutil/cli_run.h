// Running commands (the built voxir binary) from CLI tests.
#pragma once

#include <string>

namespace voxir::testing {

struct CliRun {
  int code = -1;    // exit status; -1 when the command did not exit normally
  std::string out;  // what it wrote to stdout (redirect stderr in the command to capture it)
};

// Runs `command` with /bin/sh.
CliRun run_shell(const std::string& command);

}  // namespace voxir::testing
