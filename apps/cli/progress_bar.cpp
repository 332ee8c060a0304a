#include "progress_bar.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>

namespace voxir::cli {
namespace {

std::string clock_text(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

}  // namespace

ProgressBar::ProgressBar() : tty_(::isatty(STDERR_FILENO) != 0) {}

void ProgressBar::update(const BuildProgress& p) {
  if (p.stage != "embedding") {  // after embedding: one line per stage
    if (p.stage == last_stage_) return;
    finish();
    last_stage_ = p.stage;
    fmt::print(stderr, "{} ({:.1f} s)\n", p.stage, p.seconds);
    return;
  }
  const double rate = p.seconds > 0 ? static_cast<double>(p.slices_done) / p.seconds : 0;
  const double eta = p.volumes_done > 0
                         ? p.seconds * static_cast<double>(p.volumes_total - p.volumes_done) /
                               static_cast<double>(p.volumes_done)
                         : 0;
  if (!tty_) {
    fmt::print(stderr, "embedded {}/{} volumes ({}), {} slices, {:.0f} slices/s, ETA {}\n",
               p.volumes_done, p.volumes_total, p.current, p.slices_done, rate, clock_text(eta));
    return;
  }
  constexpr int kWidth = 30;
  const auto filled =
      p.volumes_total > 0 ? static_cast<int>(kWidth * p.volumes_done / p.volumes_total) : kWidth;
  fmt::print(stderr, "\r[{}{}] {}/{} volumes  {:.0f} slices/s  ETA {}  {:<20.20}",
             std::string(static_cast<std::size_t>(filled), '#'),
             std::string(static_cast<std::size_t>(kWidth - filled), '.'), p.volumes_done,
             p.volumes_total, rate, clock_text(eta), p.current);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (drawn_) fmt::print(stderr, "\n");
  drawn_ = false;
}

}  // namespace voxir::cli
