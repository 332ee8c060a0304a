// Renders a benchmark's report.json tree as report.md, CSV tables and SVG plots.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>

namespace voxir::eval {

struct ReportFiles {
  std::filesystem::path json;
  std::filesystem::path markdown;
};

// Writes report.json, report.md, tables/*.csv and plots/*.svg into `out` (created if needed);
// each file is written atomically. The tree is the one run_benchmark builds.
ReportFiles write_report(const nlohmann::ordered_json& report, const std::filesystem::path& out);

}  // namespace voxir::eval
