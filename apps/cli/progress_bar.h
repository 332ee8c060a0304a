// Build progress on stderr: a redrawn bar on a terminal, plain lines otherwise (logs, CI).
#pragma once

#include "voxir/index.h"

#include <string>

namespace voxir::cli {

class ProgressBar {
 public:
  ProgressBar();
  void update(const BuildProgress& progress);
  // Ends the bar's line (a no-op when nothing was drawn).
  void finish();

 private:
  bool tty_;
  bool drawn_ = false;
  std::string last_stage_;
};

}  // namespace voxir::cli
