#include "eval/report.h"

#include "util/file.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace voxir::eval {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::array<const char*, 4> kModes{"slice", "volume", "region", "localized"};
constexpr std::array<const char*, 2> kVariants{"count", "rerank"};

void write_text(const std::filesystem::path& path, const std::string& text) {
  write_file_atomic(path, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

std::string mean_std(const Json& column) {
  if (column.is_null() || column["classes"].get<int>() == 0) return "n/a";
  return fmt::format("{:.3f} ± {:.3f}", column["mean"].get<double>(), column["std"].get<double>());
}

std::string number(const Json& v, int digits = 3) {
  return v.is_null() ? "n/a" : fmt::format("{:.{}f}", v.get<double>(), digits);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// A table column: one embedder in one ranking variant of one mode.
struct Column {
  std::string title;
  const Json* data;  // {"mean", "std", "classes", "per_class"}
};

std::vector<Column> columns_of(const Json& report, const std::string& gran, const std::string& mode) {
  std::vector<Column> cols;
  for (const auto& e : report["embedders"]) {
    const Json& modes = e["granularities"][gran]["modes"];
    if (!modes.contains(mode)) continue;
    for (const char* v : kVariants) {
      if (modes[mode].contains(v)) cols.push_back({fmt::format("{} ({})", e["spec"].get<std::string>(), v), &modes[mode][v]});
    }
  }
  return cols;
}

std::vector<std::string> class_rows(const std::vector<Column>& cols) {
  std::set<std::string> names;
  for (const auto& c : cols)
    for (const auto& [name, row] : (*c.data)["per_class"].items()) names.insert(name);
  return {names.begin(), names.end()};
}

// Per-class table in the paper's layout: classes as rows, columns = embedder x ranking, mean ± std last.
void per_class_table(const Json& report, const std::string& gran, const std::string& mode, std::string& md,
                     const std::filesystem::path& tables) {
  const auto cols = columns_of(report, gran, mode);
  if (cols.empty()) return;
  const auto names = class_rows(cols);
  md += fmt::format("\n### {} classes, {} retrieval\n\n| class | trials |", gran, mode);
  std::string csv = "class,trials,in_database";
  for (const auto& c : cols) {
    md += fmt::format(" {} |", c.title);
    csv += "," + csv_field(c.title);
  }
  md += "\n|---|---|";
  for (std::size_t i = 0; i < cols.size(); ++i) md += "---|";
  md += "\n";
  csv += "\n";
  for (const auto& name : names) {
    const Json& first = (*cols.front().data)["per_class"];
    const Json row = first.contains(name) ? first[name] : Json();
    const bool in_db = !row.is_null() && row["in_database"].get<bool>();
    const auto trials = row.is_null() ? 0 : row["trials"].get<std::int64_t>();
    md += fmt::format("| {}{} | {} |", name, in_db ? "" : " (not in database)", trials);
    csv += fmt::format("{},{},{}", csv_field(name), trials, in_db ? 1 : 0);
    for (const auto& c : cols) {
      const Json& pc = (*c.data)["per_class"];
      const Json recall = pc.contains(name) ? pc[name]["recall"] : Json();
      md += fmt::format(" {} |", number(recall));
      csv += "," + (recall.is_null() ? std::string() : fmt::format("{:.6f}", recall.get<double>()));
    }
    md += "\n";
    csv += "\n";
  }
  md += "| **mean ± std** | |";
  for (const auto& c : cols) md += fmt::format(" **{}** |", mean_std(*c.data));
  md += "\n";
  write_text(tables / fmt::format("{}_{}.csv", gran, mode), csv);
}

// --- SVG plots: hand-written, since no plotting library is packaged for C++ here. ---

std::string escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

constexpr std::array<const char*, 6> kColors{"#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2"};

// Horizontal grouped bars: one group per class, one bar per column.
std::string bar_plot(const std::string& title, const std::vector<Column>& cols) {
  const auto names = class_rows(cols);
  const double bar_h = 7;
  const double group_h = bar_h * static_cast<double>(cols.size()) + 4;
  const double left = 210;
  const double width = 420;
  const double top = 40;
  const double height = top + group_h * static_cast<double>(names.size()) + 30 + 16 * static_cast<double>(cols.size());
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" font-family=\"sans-serif\" "
      "font-size=\"10\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"10\" y=\"20\" font-size=\"14\">{}</text>\n",
      left + width + 40, height, escape(title));
  for (int t = 0; t <= 4; ++t) {
    const double x = left + width * t / 4.0;
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.0f}\" x2=\"{0:.1f}\" y2=\"{2:.0f}\" stroke=\"#ddd\"/>"
                       "<text x=\"{0:.1f}\" y=\"{3:.0f}\" text-anchor=\"middle\">{4:.2f}</text>\n",
                       x, top - 5, top + group_h * static_cast<double>(names.size()), top - 8, t / 4.0);
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    const double y = top + group_h * static_cast<double>(i);
    svg += fmt::format("<text x=\"{:.0f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", left - 5,
                       y + group_h / 2 + 3, escape(names[i]));
    for (std::size_t c = 0; c < cols.size(); ++c) {
      const Json& pc = (*cols[c].data)["per_class"];
      if (!pc.contains(names[i]) || pc[names[i]]["recall"].is_null()) continue;
      const double r = pc[names[i]]["recall"].get<double>();
      svg += fmt::format("<rect x=\"{:.0f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.0f}\" fill=\"{}\"/>\n", left,
                         y + 2 + bar_h * static_cast<double>(c), width * r, bar_h - 1, kColors[c % kColors.size()]);
    }
  }
  double ly = top + group_h * static_cast<double>(names.size()) + 20;
  for (std::size_t c = 0; c < cols.size(); ++c, ly += 16) {
    svg += fmt::format("<rect x=\"{:.0f}\" y=\"{:.0f}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.0f}\" "
                       "y=\"{:.0f}\">{} — mean {}</text>\n",
                       left, ly - 9, kColors[c % kColors.size()], left + 15, ly, escape(cols[c].title),
                       mean_std(*cols[c].data));
  }
  return svg + "</svg>\n";
}

struct Point {
  double x;
  double y;
  std::string label;
};

std::string scatter_plot(const std::string& title, const std::string& x_label, const std::string& y_label,
                         const std::vector<Point>& points, double x_max, bool diagonal) {
  const double left = 60;
  const double top = 40;
  const double size = 360;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" font-family=\"sans-serif\" "
      "font-size=\"10\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"10\" y=\"20\" font-size=\"14\">{}</text>\n",
      left + size + 30, top + size + 50, escape(title));
  const auto px = [&](double x) { return left + size * x / x_max; };
  const auto py = [&](double y) { return top + size * (1 - y); };
  svg += fmt::format("<rect x=\"{:.0f}\" y=\"{:.0f}\" width=\"{:.0f}\" height=\"{:.0f}\" fill=\"none\" stroke=\"#888\"/>\n",
                     left, top, size, size);
  for (int t = 0; t <= 4; ++t) {
    svg += fmt::format("<text x=\"{:.0f}\" y=\"{:.1f}\" text-anchor=\"end\">{:.2f}</text>\n", left - 4, py(t / 4.0) + 3,
                       t / 4.0);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.0f}\" text-anchor=\"middle\">{:.3g}</text>\n", px(x_max * t / 4.0),
                       top + size + 14, x_max * t / 4.0);
  }
  if (diagonal) {
    svg += fmt::format("<line x1=\"{:.0f}\" y1=\"{:.0f}\" x2=\"{:.0f}\" y2=\"{:.0f}\" stroke=\"#bbb\" "
                       "stroke-dasharray=\"4\"/>\n", px(0), py(0), px(x_max), py(1));
  }
  for (const auto& p : points) {
    svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"#4c78a8\" fill-opacity=\"0.7\">"
                       "<title>{}: ({:.3f}, {:.3f})</title></circle>\n",
                       px(p.x), py(p.y), escape(p.label), p.x, p.y);
  }
  svg += fmt::format("<text x=\"{:.0f}\" y=\"{:.0f}\" text-anchor=\"middle\">{}</text>\n", left + size / 2,
                     top + size + 32, escape(x_label));
  svg += fmt::format("<text transform=\"translate(14,{:.0f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                     top + size / 2, escape(y_label));
  return svg + "</svg>\n";
}

void plots(const Json& report, const std::string& gran, const std::filesystem::path& dir, std::string& md) {
  md += fmt::format("\n### Plots ({} classes)\n\n", gran);
  for (const char* mode : kModes) {
    const auto cols = columns_of(report, gran, mode);
    if (cols.empty()) continue;
    const std::string file = fmt::format("recall_{}_{}.svg", gran, mode);
    write_text(dir / file, bar_plot(fmt::format("Per-class recall, {} retrieval, {} classes", mode, gran), cols));
    md += fmt::format("![{} {}](plots/{})\n", gran, mode, file);
  }
  for (const auto& e : report["embedders"]) {
    const Json& g = e["granularities"][gran];
    const Json& region = g["modes"]["region"];
    std::vector<Point> with_without;
    std::vector<Point> by_size;
    double max_size = 1;
    for (const auto& [name, row] : region["count"]["per_class"].items()) {
      const Json& rr = region["rerank"]["per_class"][name]["recall"];
      if (row["recall"].is_null() || rr.is_null()) continue;
      with_without.push_back({row["recall"].get<double>(), rr.get<double>(), name});
      if (g["region_slices"].contains(name)) {
        const double size = g["region_slices"][name].get<double>();
        by_size.push_back({size, rr.get<double>(), name});
        max_size = std::max(max_size, size);
      }
    }
    const std::string tag = fmt::format("{}_{}", gran, &e - &report["embedders"][0]);
    const std::string spec = e["spec"].get<std::string>();
    write_text(dir / ("rerank_vs_count_" + tag + ".svg"),
               scatter_plot(fmt::format("Region recall per class: re-ranked vs count ({}, {})", spec, gran),
                            "recall, count-based ranking", "recall, MaxSim re-ranking", with_without, 1.0, true));
    write_text(dir / ("recall_vs_size_" + tag + ".svg"),
               scatter_plot(fmt::format("Region recall (re-ranked) against region size ({}, {})", spec, gran),
                            "mean region size in the queries (slices)", "recall", by_size, max_size * 1.05, false));
    md += fmt::format("![re-ranked vs count](plots/rerank_vs_count_{}.svg) ![recall vs size](plots/recall_vs_size_{}.svg)\n",
                      tag, tag);
  }
}

}  // namespace

ReportFiles write_report(const Json& report, const std::filesystem::path& out) {
  const auto tables = out / "tables";
  const auto plot_dir = out / "plots";
  std::filesystem::create_directories(tables);
  std::filesystem::create_directories(plot_dir);
  const Json& config = report["config"];
  std::string md = "# voxir benchmark\n\n";
  md += fmt::format("Dataset `{}`: {} database volumes (split `{}`), {} query volumes (split `{}`). ",
                    report["dataset"].get<std::string>(), report["database_volumes"].get<int>(),
                    config["db_split"].get<std::string>(), report["query_volumes"].get<int>(),
                    config["query_split"].get<std::string>());
  md += fmt::format("Index `{}`, k = {}, re-rank N = {}, L = {}. voxir {} ({}), {:.0f} s.\n\n",
                    config["index"].get<std::string>(), config["k"].get<int>(), config["rerank_n"].get<int>(),
                    config["L"].get<int>(), report["voxir_version"].get<std::string>(),
                    report["git_commit"].get<std::string>(), report["seconds"].get<double>());
  md += "Recall is top-1 per class (hits / trials), mean ± std over classes that have trials and occur in the "
        "database (SPEC §4). Numbers measure this dataset only: recall on synthetic phantoms is not comparable "
        "with the paper's real-data figures.\n";

  const std::vector<std::string> grans = config["granularities"].get<std::vector<std::string>>();
  md += "\n## Summary: mean ± std of per-class recall\n\n| granularity | mode | ranking |";
  for (const auto& e : report["embedders"]) md += fmt::format(" {} |", e["spec"].get<std::string>());
  md += "\n|---|---|---|";
  for (std::size_t i = 0; i < report["embedders"].size(); ++i) md += "---|";
  md += "\n";
  std::string summary_csv = "granularity,mode,ranking,embedder,mean,std,classes\n";
  for (const auto& gran : grans) {
    for (const char* mode : kModes) {
      for (const char* v : kVariants) {
        bool any = false;
        std::string row = fmt::format("| {} | {} | {} |", gran, mode, v);
        for (const auto& e : report["embedders"]) {
          const Json& modes = e["granularities"][gran]["modes"];
          if (!modes.contains(mode) || !modes[mode].contains(v)) {
            row += " |";
            continue;
          }
          any = true;
          row += fmt::format(" {} |", mean_std(modes[mode][v]));
          summary_csv += fmt::format("{},{},{},{},{:.6f},{:.6f},{}\n", gran, mode, v, csv_field(e["spec"].get<std::string>()),
                                     modes[mode][v]["mean"].get<double>(), modes[mode][v]["std"].get<double>(),
                                     modes[mode][v]["classes"].get<int>());
        }
        if (any) md += row + "\n";
      }
    }
  }
  write_text(tables / "summary.csv", summary_csv);

  md += "\n## Localization, ranking and speed (region queries)\n\n| embedder | granularity | ranking | "
        "localization ratio @L | recall@1 | recall@5 | recall@10 | precision@1 | precision@5 | precision@10 | "
        "mAP@10 | MRR | p50 ms | p95 ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  std::string index_lines;
  for (const auto& e : report["embedders"]) {
    for (const auto& gran : grans) {
      const Json& g = e["granularities"][gran];
      for (const char* v : kVariants) {
        const Json& r = g["ranking"][v];
        const Json& lat = e["latency_ms"].contains(std::string("region/") + v) ? e["latency_ms"][std::string("region/") + v] : Json();
        md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                          e["spec"].get<std::string>(), gran, v, number(g["localization_ratio"][v]),
                          number(r.value("recall@1", Json())), number(r.value("recall@5", Json())),
                          number(r.value("recall@10", Json())), number(r.value("precision@1", Json())),
                          number(r.value("precision@5", Json())), number(r.value("precision@10", Json())),
                          number(r.value("mAP@10", Json())), number(r.value("MRR", Json())),
                          lat.is_null() ? "n/a" : number(lat["p50"], 1), lat.is_null() ? "n/a" : number(lat["p95"], 1));
      }
    }
    const Json& idx = e["index"];
    index_lines += fmt::format("- Index of `{}`: {}{}; slice-level recall against exact search: {}.\n",
                               e["spec"].get<std::string>(), idx["spec"].get<std::string>(),
                               idx.value("reused", false) ? ", reused from an earlier run"
                                                          : fmt::format(", built in {:.1f} s", idx.value("build_s", 0.0)),
                               idx["ann_recall_vs_exact"].is_null() ? "exact index" : number(idx["ann_recall_vs_exact"]));
  }

  md += "\n" + index_lines;
  md += "\n## Per-class recall\n";
  for (const auto& gran : grans)
    for (const char* mode : kModes) per_class_table(report, gran, mode, md, tables);
  md += "\n## Plots\n";
  for (const auto& gran : grans) plots(report, gran, plot_dir, md);

  ReportFiles files{out / "report.json", out / "report.md"};
  write_text(files.json, report.dump(2) + "\n");
  write_text(files.markdown, md);
  return files;
}

}  // namespace voxir::eval
