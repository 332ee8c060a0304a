#include "eval/report.h"

#include "util/file.h"
#include "util/json_text.h"

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

constexpr std::array<const char*, 8> kColors{"#4c78a8", "#f58518", "#54a24b", "#e45756",
                                             "#72b7b2", "#b279a2", "#9d755d", "#333333"};

// Horizontal grouped bars: one group per class, one bar per column.
std::string bar_plot(const std::string& title, const std::vector<Column>& cols,
                     bool legend_mean = true) {
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
    svg += fmt::format(
        "<rect x=\"{:.0f}\" y=\"{:.0f}\" width=\"10\" height=\"10\" fill=\"{}\"/><text "
        "x=\"{:.0f}\" "
        "y=\"{:.0f}\">{}{}</text>\n",
        left, ly - 9, kColors[c % kColors.size()], left + 15, ly, escape(cols[c].title),
        legend_mean ? " — mean " + mean_std(*cols[c].data) : std::string());
  }
  return svg + "</svg>\n";
}

struct Point {
  double x;
  double y;
  std::string label;
  int series = 0;
};

struct Axes {
  double x_min = 0;
  double x_max = 1;
  bool log_x = false;               // decades; x_min > 0
  bool diagonal = false;            // y = x (for x in [0, 1])
  bool lines = false;               // join each series' points in x order
  std::vector<std::string> series;  // legend; empty: one unnamed series
};

std::string scatter_plot(const std::string& title, const std::string& x_label,
                         const std::string& y_label, std::vector<Point> points, const Axes& axes) {
  const double left = 60;
  const double top = 40;
  const double size = 360;
  const double legend_h = 14 * static_cast<double>(axes.series.size());
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "font-family=\"sans-serif\" "
      "font-size=\"10\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"10\" y=\"20\" font-size=\"14\">{}</text>\n",
      left + size + 30, top + size + 50 + legend_h, escape(title));
  const auto fx = [&](double x) {
    if (!axes.log_x) return (x - axes.x_min) / (axes.x_max - axes.x_min);
    return (std::log10(std::max(x, axes.x_min)) - std::log10(axes.x_min)) /
           (std::log10(axes.x_max) - std::log10(axes.x_min));
  };
  const auto px = [&](double x) { return left + size * fx(x); };
  const auto py = [&](double y) { return top + size * (1 - y); };
  svg += fmt::format("<rect x=\"{:.0f}\" y=\"{:.0f}\" width=\"{:.0f}\" height=\"{:.0f}\" fill=\"none\" stroke=\"#888\"/>\n",
                     left, top, size, size);
  for (int t = 0; t <= 4; ++t) {
    svg += fmt::format("<text x=\"{:.0f}\" y=\"{:.1f}\" text-anchor=\"end\">{:.2f}</text>\n",
                       left - 4, py(t / 4.0) + 3, t / 4.0);
  }
  std::vector<double> ticks;
  if (axes.log_x) {
    for (double d = std::pow(10, std::ceil(std::log10(axes.x_min))); d <= axes.x_max * 1.0001;
         d *= 10)
      ticks.push_back(d);
  } else {
    for (int t = 0; t <= 4; ++t) ticks.push_back(axes.x_min + (axes.x_max - axes.x_min) * t / 4.0);
  }
  for (const double x : ticks) {
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.0f}\" text-anchor=\"middle\">{}</text>\n", px(x),
                       top + size + 14,
                       axes.log_x ? fmt::format("{:g}", x) : fmt::format("{:.3g}", x));
  }
  if (axes.diagonal) {
    svg += fmt::format(
        "<line x1=\"{:.0f}\" y1=\"{:.0f}\" x2=\"{:.0f}\" y2=\"{:.0f}\" stroke=\"#bbb\" "
        "stroke-dasharray=\"4\"/>\n",
        px(axes.x_min), py(0), px(axes.x_max), py(1));
  }
  if (axes.lines) {
    std::stable_sort(points.begin(), points.end(),
                     [](const Point& a, const Point& b) { return a.x < b.x; });
    for (std::size_t sidx = 0; sidx < std::max<std::size_t>(1, axes.series.size()); ++sidx) {
      std::string path;
      for (const auto& p : points) {
        if (p.series != static_cast<int>(sidx)) continue;
        path += fmt::format("{:.1f},{:.1f} ", px(p.x), py(p.y));
      }
      svg += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\"/>\n", path,
                         kColors[sidx % kColors.size()]);
    }
  }
  for (const auto& p : points) {
    svg += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\" fill-opacity=\"0.7\">"
        "<title>{}: ({:.3f}, {:.3f})</title></circle>\n",
        px(p.x), py(p.y), kColors[static_cast<std::size_t>(p.series) % kColors.size()],
        escape(p.label), p.x, p.y);
  }
  svg += fmt::format("<text x=\"{:.0f}\" y=\"{:.0f}\" text-anchor=\"middle\">{}</text>\n", left + size / 2,
                     top + size + 32, escape(x_label));
  svg += fmt::format("<text transform=\"translate(14,{:.0f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                     top + size / 2, escape(y_label));
  double ly = top + size + 50;
  for (std::size_t i = 0; i < axes.series.size(); ++i, ly += 14) {
    svg += fmt::format(
        "<rect x=\"{:.0f}\" y=\"{:.0f}\" width=\"10\" height=\"10\" fill=\"{}\"/><text "
        "x=\"{:.0f}\" "
        "y=\"{:.0f}\">{}</text>\n",
        left, ly - 9, kColors[i % kColors.size()], left + 15, ly, escape(axes.series[i]));
  }
  return svg + "</svg>\n";
}

// The columns (mode x ranking) of one embedder at one granularity, in table order.
std::vector<std::pair<std::string, const Json*>> mode_columns(const Json& g) {
  std::vector<std::pair<std::string, const Json*>> out;
  for (const char* mode : kModes) {
    if (!g["modes"].contains(mode)) continue;
    for (const char* v : kVariants) {
      if (g["modes"][mode].contains(v))
        out.emplace_back(fmt::format("{} ({})", mode, v), &g["modes"][mode][v]);
    }
  }
  return out;
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
  // Fig. 6 of the paper: how often each class occurs in the database and in the queries.
  const Json& classes = report["classes"][gran];
  Json db_col = {{"per_class", Json::object()}};
  Json q_col = {{"per_class", Json::object()}};
  const double n_db = std::max(1, report["database_volumes"].get<int>());
  const double n_q = std::max(1, report["query_volumes"].get<int>());
  for (const auto& [name, c] : classes.items()) {
    db_col["per_class"][name]["recall"] = c["db_volumes"].get<double>() / n_db;
    q_col["per_class"][name]["recall"] = c["query_volumes"].get<double>() / n_q;
  }
  const std::vector<Column> freq{{"database: share of volumes containing the class", &db_col},
                                 {"queries: share of volumes containing the class", &q_col}};
  write_text(dir / fmt::format("class_frequency_{}.svg", gran),
             bar_plot(fmt::format("Class frequency, database vs queries ({} classes)", gran), freq,
                      false));
  md += fmt::format("![class frequency](plots/class_frequency_{}.svg)\n", gran);

  for (const auto& e : report["embedders"]) {
    const Json& g = e["granularities"][gran];
    const std::string tag = fmt::format("{}_{}", gran, &e - &report["embedders"][0]);
    const std::string spec = e["spec"].get<std::string>();
    std::vector<Point> with_without;
    // No region column when no query volume contains any class of the map.
    const Json none = Json::object();
    const bool has_region = g["modes"].contains("region") &&
                            g["modes"]["region"].contains("count") &&
                            g["modes"]["region"].contains("rerank");
    const Json& count_pc = has_region ? g["modes"]["region"]["count"]["per_class"] : none;
    const Json& rerank_pc = has_region ? g["modes"]["region"]["rerank"]["per_class"] : none;
    for (const auto& [name, row] : count_pc.items()) {
      if (!rerank_pc.contains(name) || row["recall"].is_null() ||
          rerank_pc[name]["recall"].is_null())
        continue;
      with_without.push_back(
          {row["recall"].get<double>(), rerank_pc[name]["recall"].get<double>(), name});
    }
    write_text(dir / ("rerank_vs_count_" + tag + ".svg"),
               scatter_plot(
                   fmt::format("Region recall per class: re-ranked vs count ({}, {})", spec, gran),
                   "recall, count-based ranking", "recall, MaxSim re-ranking", with_without,
                   {.x_min = 0, .x_max = 1, .diagonal = true, .series = {}}));
    // Figs. 7-10 of the paper: recall against organ size, every mode.
    std::vector<Point> by_size;
    Axes size_axes{.x_min = 1e9, .x_max = 0, .log_x = true, .series = {}};
    const auto cols = mode_columns(g);
    for (std::size_t c = 0; c < cols.size(); ++c) {
      size_axes.series.push_back(cols[c].first);
      for (const auto& [name, row] : (*cols[c].second)["per_class"].items()) {
        if (row["recall"].is_null() || !classes.contains(name) ||
            classes[name]["mean_ml"].is_null())
          continue;
        const double ml = std::max(1e-3, classes[name]["mean_ml"].get<double>());
        by_size.push_back({ml, row["recall"].get<double>(), name, static_cast<int>(c)});
        size_axes.x_min = std::min(size_axes.x_min, ml);
        size_axes.x_max = std::max(size_axes.x_max, ml);
      }
    }
    if (by_size.empty()) {
      size_axes.x_min = 0.1;
      size_axes.x_max = 1000;
    }
    size_axes.x_min = std::pow(10, std::floor(std::log10(size_axes.x_min)));
    size_axes.x_max = std::pow(10, std::ceil(std::log10(size_axes.x_max * 1.0001)));
    write_text(
        dir / ("recall_vs_size_" + tag + ".svg"),
        scatter_plot(
            fmt::format("Per-class recall against organ size, every mode ({}, {})", spec, gran),
            "mean organ volume in the queries (ml, log scale)", "recall", by_size, size_axes));
    // Localization ratio against L.
    std::vector<Point> by_l;
    Axes l_axes{.x_min = 0, .x_max = 1, .lines = true, .series = {"count", "rerank"}};
    for (std::size_t v = 0; v < kVariants.size(); ++v) {
      for (const auto& [L, r] : g["localization_ratio"][kVariants[v]].items()) {
        if (r["classes"].get<int>() == 0) continue;
        const double l = std::stod(L);
        by_l.push_back({l, r["mean"].get<double>(), fmt::format("L = {}", L), static_cast<int>(v)});
        l_axes.x_max = std::max(l_axes.x_max, l * 1.1);
      }
    }
    write_text(
        dir / ("localization_ratio_vs_L_" + tag + ".svg"),
        scatter_plot(
            fmt::format("Localization ratio (mean over classes) against L ({}, {})", spec, gran),
            "L (top slices of the winning volume)", "localization ratio", by_l, l_axes));
    md += fmt::format(
        "![re-ranked vs count](plots/rerank_vs_count_{0}.svg) ![recall vs "
        "size](plots/recall_vs_size_{0}.svg) "
        "![localization ratio vs L](plots/localization_ratio_vs_L_{0}.svg)\n",
        tag);
  }
}

}  // namespace

// Region queries with predicted instead of true slices (BenchmarkOptions::predicted_regions):
// extent accuracy and recall side by side, and one CSV per granularity.
void predicted_section(const Json& report, const std::vector<std::string>& grans,
                       const std::filesystem::path& tables, const std::filesystem::path& plot_dir,
                       std::string& md) {
  const Json& cfg = report["config"]["predicted_regions"];
  if (!cfg.is_object()) return;
  md += fmt::format(
      "\n## Predicted query regions\n\nEach query's region slices predicted from the database's "
      "labelled slices (k = {}, tau = {}, smoothing ±{} slices, threshold {}; "
      "docs/predicted-anatomy.md) instead of read from its labels. Slice IoU: predicted vs true "
      "extent per query, 0 when not predicted, averaged per class then over classes. Recall: the "
      "same region queries with true and with predicted slices (a region not predicted is a "
      "miss).\n\n| embedder | granularity | slice IoU | ranking | region true | region predicted | "
      "localized true | localized predicted |\n|---|---|---|---|---|---|---|---|\n",
      cfg["k"].get<int>(), cfg["tau"].get<double>(), cfg["smooth"].get<int>(),
      cfg["threshold"].get<double>());
  std::string images;  // after the table, which they would otherwise cut
  for (std::size_t ei = 0; ei < report["embedders"].size(); ++ei) {
    const Json& e = report["embedders"][ei];
    for (const auto& gran : grans) {
      const Json& g = e["granularities"][gran];
      if (!g.contains("predicted_regions")) continue;
      const Json& p = g["predicted_regions"];
      for (const char* v : kVariants) {
        const auto col = [&](const Json& modes, const char* mode) {
          return modes.contains(mode) && modes[mode].contains(v) ? mean_std(modes[mode][v])
                                                                  : std::string("n/a");
        };
        md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", e["spec"].get<std::string>(),
                          gran, mean_std(p["slice_iou"]), v, col(g["modes"], "region"),
                          col(p["modes"], "region"), col(g["modes"], "localized"),
                          col(p["modes"], "localized"));
      }
      std::string csv = "class,queries,slice_iou";
      for (const char* mode : {"region", "localized"})
        for (const char* v : kVariants) csv += fmt::format(",{0}_{1}_true,{0}_{1}_predicted", mode, v);
      csv += "\n";
      for (const auto& [name, row] : p["slice_iou"]["per_class"].items()) {
        csv += fmt::format("{},{},{:.4f}", csv_field(name), row["queries"].get<int>(),
                           row["mean"].get<double>());
        for (const char* mode : {"region", "localized"}) {
          for (const char* v : kVariants) {
            for (const Json* modes : {&g["modes"], &p["modes"]}) {
              const Json recall = modes->contains(mode) && (*modes)[mode].contains(v) &&
                                          (*modes)[mode][v]["per_class"].contains(name)
                                      ? (*modes)[mode][v]["per_class"][name]["recall"]
                                      : Json();
              csv += recall.is_null() ? "," : fmt::format(",{:.4f}", recall.get<double>());
            }
          }
        }
        csv += "\n";
      }
      write_text(tables / fmt::format("predicted_{}_{}.csv", gran, ei), csv);
      // bar_plot draws per_class[name]["recall"]: the IoU column is reshaped to that layout.
      Json iou = p["slice_iou"];
      for (auto& [name, row] : iou["per_class"].items()) row["recall"] = row["mean"];
      std::vector<Column> cols{{"slice IoU, predicted vs true extent", &iou}};
      if (g["modes"].contains("region") && g["modes"]["region"].contains("rerank"))
        cols.push_back({"region recall, true slices (rerank)", &g["modes"]["region"]["rerank"]});
      if (p.contains("modes") && p["modes"].contains("region") && p["modes"]["region"].contains("rerank"))
        cols.push_back({"region recall, predicted slices (rerank)", &p["modes"]["region"]["rerank"]});
      const std::string file = fmt::format("predicted_{}_{}.svg", gran, ei);
      write_text(plot_dir / file,
                 bar_plot(fmt::format("Predicted regions, {} classes, {}", gran,
                                      e["spec"].get<std::string>()),
                          cols));
      images += fmt::format("![predicted {}](plots/{})\n", gran, file);
    }
  }
  md += "\nPer class: `tables/predicted_<granularity>_<embedder #>.csv`.\n\n" + images;
}

ReportFiles write_report(const Json& report, const std::filesystem::path& out) {
  const auto tables = out / "tables";
  const auto plot_dir = out / "plots";
  std::filesystem::create_directories(tables);
  std::filesystem::create_directories(plot_dir);
  const Json& config = report["config"];
  const Json& loc_cfg = config["localized"];
  const std::string rule = loc_cfg["rule"].get<std::string>();
  const std::string rule_text =
      rule == "overlap" ? "predicted location overlaps the class extent (lenient)"
      : rule == "ratio"
          ? fmt::format("localization ratio at L = {} >= {}", loc_cfg["L"].get<int>(),
                        loc_cfg["threshold"].get<double>())
          : fmt::format("share of all slices that carried the win showing the class >= {}",
                        loc_cfg["threshold"].get<double>());
  std::string md = "# voxir benchmark\n\n";
  md += fmt::format("Dataset `{}`: {} database volumes (split `{}`), {} query volumes (split `{}`). ",
                    report["dataset"].get<std::string>(), report["database_volumes"].get<int>(),
                    config["db_split"].get<std::string>(), report["query_volumes"].get<int>(),
                    config["query_split"].get<std::string>());
  md += fmt::format("voxir {} ({}), {:.0f} s.\n\n", report["voxir_version"].get<std::string>(),
                    report["git_commit"].get<std::string>(), report["seconds"].get<double>());
  md += fmt::format(
      "Protocol: index `{}`, k = {}, stage-1 vote `{}`, re-rank N = {}, L = {}, localized = `{}` "
      "({}), "
      "min voxels = {}, central fraction = {}, class map `{}`.\n\n",
      config["index"].get<std::string>(), config["k"].get<int>(), config["vote"].get<std::string>(),
      config["rerank_n"].get<int>(), fmt::join(config["L"].get<std::vector<int>>(), ", "), rule,
      rule_text, config["min_voxels"].get<int>(), config["central_fraction"].get<double>(),
      config["class_map"].get<std::string>());
  md +=
      "Recall is top-1 per class (hits / trials; the paper's recall, hit@1 of each query), mean ± "
      "std over "
      "classes that have trials and occur in the database; std is the population std over those C "
      "classes, "
      "sqrt(Σ_c (r_c − mean)² / C). Numbers measure this dataset only: recall on synthetic "
      "phantoms is not "
      "comparable with the paper's real-data figures.\n";
  const Json& warnings = report["label_set"]["warnings"];
  if (!warnings.empty()) {
    md += "\n## Warnings: label set\n\n";
    for (const auto& w : warnings) md += fmt::format("- {}\n", w.get<std::string>());
  }

  const std::vector<std::string> grans = config["granularities"].get<std::vector<std::string>>();
  md += "\n## Summary: mean ± std of per-class recall\n\n| granularity | mode | ranking |";
  for (const auto& e : report["embedders"]) md += fmt::format(" {} |", e["spec"].get<std::string>());
  md += "\n|---|---|---|";
  for (std::size_t i = 0; i < report["embedders"].size(); ++i) md += "---|";
  md += "\n";
  std::string summary_csv = "granularity,mode,ranking,embedder,mean,std,classes\n";
  const auto summary_row = [&](const std::string& gran, const std::string& label, const char* v,
                               const auto& column_of) {
    bool any = false;
    std::string row = fmt::format("| {} | {} | {} |", gran, label, v);
    for (const auto& e : report["embedders"]) {
      const Json* c = column_of(e["granularities"][gran]);
      if (c == nullptr) {
        row += " |";
        continue;
      }
      any = true;
      row += fmt::format(" {} |", mean_std(*c));
      summary_csv +=
          fmt::format("{},{},{},{},{:.6f},{:.6f},{}\n", gran, csv_field(label), v,
                      csv_field(e["spec"].get<std::string>()), (*c)["mean"].get<double>(),
                      (*c)["std"].get<double>(), (*c)["classes"].get<int>());
    }
    if (any) md += row + "\n";
  };
  for (const auto& gran : grans) {
    for (const char* mode : kModes) {
      for (const char* v : kVariants) {
        const std::string label =
            std::string(mode) == "localized" ? fmt::format("localized ({})", rule) : mode;
        summary_row(gran, label, v, [&](const Json& g) -> const Json* {
          const Json& modes = g["modes"];
          return modes.contains(mode) && modes[mode].contains(v) ? &modes[mode][v] : nullptr;
        });
      }
    }
  }
  write_text(tables / "summary.csv", summary_csv);

  md +=
      "\n## Localized recall under each rule\n\nThe same region queries judged by each rule "
      "(`--localized` picks the one reported as \"localized\" above); region recall is the upper "
      "bound of all.\n\n"
      "| granularity | rule | ranking |";
  for (const auto& e : report["embedders"])
    md += fmt::format(" {} |", e["spec"].get<std::string>());
  md += "\n|---|---|---|";
  for (std::size_t i = 0; i < report["embedders"].size(); ++i) md += "---|";
  md += "\n";
  for (const auto& gran : grans) {
    for (const char* r : {"ratio", "majority", "overlap"}) {
      for (const char* v : kVariants) {
        md += fmt::format("| {} | {} | {} |", gran, r, v);
        for (const auto& e : report["embedders"]) {
          const Json& br = e["granularities"][gran]["localized_by_rule"];
          md += fmt::format(" {} |",
                            br.contains(r) && br[r].contains(v) ? mean_std(br[r][v]) : "n/a");
        }
        md += "\n";
      }
    }
  }

  md +=
      "\n## Average over modes (the paper's Tables 20/21)\n\nUnweighted mean of the mean recalls "
      "of the "
      "columns above: count = slice-wise + volume + region + localized with vote ranking; rerank = "
      "volume + "
      "region + localized re-ranked; all = all seven columns.\n\n| embedder | granularity | count "
      "| rerank | all |\n"
      "|---|---|---|---|---|\n";
  for (const auto& e : report["embedders"]) {
    for (const auto& gran : grans) {
      const Json& a = e["granularities"][gran]["average_over_modes"];
      md += fmt::format("| {} | {} | {} | {} | {} |\n", e["spec"].get<std::string>(), gran,
                        number(a["count"]["mean"]), number(a["rerank"]["mean"]),
                        number(a["all"]["mean"]));
    }
  }

  md +=
      "\n## Localization ratio\n\nOf the top-L slices that carried the winning volume (retrieved "
      "slices by "
      "similarity; with re-ranking, aligned slices), the share that show the class; mean ± std "
      "over classes of "
      "each class's mean over its hit queries. Misses (region queries whose top-1 volume lacks the "
      "class) are "
      "counted apart, not as 0; the last column pools all queries with misses as 0 (the old single "
      "figure). Per "
      "class: `tables/localization_<granularity>.csv`.\n\n"
      "| embedder | granularity | ranking | L | ratio mean ± std (classes) | queries | misses | "
      "pooled, misses as 0 |\n"
      "|---|---|---|---|---|---|---|---|\n";
  for (const auto& gran : grans) {
    std::string csv = "embedder,ranking,L,class,queries,misses,mean,std\n";
    for (const auto& e : report["embedders"]) {
      const Json& lr = e["granularities"][gran]["localization_ratio"];
      for (const char* v : kVariants) {
        if (!lr.contains(v)) continue;
        for (const auto& [L, r] : lr[v].items()) {
          md += fmt::format("| {} | {} | {} | {} | {} ({}) | {} | {} | {} |\n",
                            e["spec"].get<std::string>(), gran, v, L, mean_std(r),
                            r["classes"].get<int>(), r["queries"].get<std::int64_t>(),
                            r["misses"].get<std::int64_t>(), number(r["pooled_misses_as_zero"]));
          for (const auto& [name, row] : r["per_class"].items()) {
            csv += fmt::format(
                "{},{},{},{},{},{},{},{}\n", csv_field(e["spec"].get<std::string>()), v, L,
                csv_field(name), row["queries"].get<std::int64_t>(),
                row["misses"].get<std::int64_t>(),
                row["mean"].is_null() ? "" : fmt::format("{:.6f}", row["mean"].get<double>()),
                row["std"].is_null() ? "" : fmt::format("{:.6f}", row["std"].get<double>()));
          }
        }
      }
    }
    write_text(tables / fmt::format("localization_{}.csv", gran), csv);
  }

  md +=
      "\n## Ranking and speed (region queries)\n\nhit@k: a volume containing the class among the "
      "first k "
      "(hit@1 is the paper's recall, per query); coverage@k: the share of all database volumes "
      "containing the "
      "class found in the first k (IR's recall@k, at most k / that number); precision@k, mAP@10 "
      "and MRR as in "
      "3D-MIR.\n\n| embedder | granularity | ranking | hit@1 | hit@5 | hit@10 | coverage@1 | "
      "coverage@10 | "
      "precision@1 | precision@10 | mAP@10 | MRR | p50 ms | p95 ms |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  std::string index_lines;
  for (const auto& e : report["embedders"]) {
    for (const auto& gran : grans) {
      const Json& g = e["granularities"][gran];
      for (const char* v : kVariants) {
        const Json& r = g["ranking"][v];
        const Json& lat = e["latency_ms"].contains(std::string("region/") + v) ? e["latency_ms"][std::string("region/") + v] : Json();
        md += fmt::format(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            e["spec"].get<std::string>(), gran, v, number(r.value("hit@1", Json())),
            number(r.value("hit@5", Json())), number(r.value("hit@10", Json())),
            number(r.value("coverage@1", Json())), number(r.value("coverage@10", Json())),
            number(r.value("precision@1", Json())), number(r.value("precision@10", Json())),
            number(r.value("mAP@10", Json())), number(r.value("MRR", Json())),
            lat.is_null() ? "n/a" : number(lat["p50"], 1),
            lat.is_null() ? "n/a" : number(lat["p95"], 1));
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
  predicted_section(report, grans, tables, plot_dir, md);

  // Class frequency (Fig. 6) and recall against organ size (Figs. 7-10), one CSV per granularity.
  for (const auto& gran : grans) {
    std::string csv = "class,db_volumes,query_volumes,mean_slices,mean_ml";
    for (const auto& e : report["embedders"]) {
      for (const auto& [title, col] : mode_columns(e["granularities"][gran])) {
        csv += "," + csv_field(fmt::format("{} {}", e["spec"].get<std::string>(), title));
      }
    }
    csv += "\n";
    for (const auto& [name, c] : report["classes"][gran].items()) {
      csv += fmt::format(
          "{},{},{},{},{}", csv_field(name), c["db_volumes"].get<int>(),
          c["query_volumes"].get<int>(),
          c["mean_slices"].is_null() ? "" : fmt::format("{:.2f}", c["mean_slices"].get<double>()),
          c["mean_ml"].is_null() ? "" : fmt::format("{:.3f}", c["mean_ml"].get<double>()));
      for (const auto& e : report["embedders"]) {
        for (const auto& [title, col] : mode_columns(e["granularities"][gran])) {
          const Json& pc = (*col)["per_class"];
          const Json recall = pc.contains(name) ? pc[name]["recall"] : Json();
          csv += "," +
                 (recall.is_null() ? std::string() : fmt::format("{:.6f}", recall.get<double>()));
        }
      }
      csv += "\n";
    }
    write_text(tables / fmt::format("classes_{}.csv", gran), csv);
  }
  md +=
      "\nClass frequency in database and queries, organ size and every mode's recall per class: "
      "`tables/classes_<granularity>.csv`.\n";

  md += "\n## Per-class recall\n";
  for (const auto& gran : grans)
    for (const char* mode : kModes) per_class_table(report, gran, mode, md, tables);
  md += "\n## Plots\n";
  for (const auto& gran : grans) plots(report, gran, plot_dir, md);

  ReportFiles files{out / "report.json", out / "report.md"};
  write_text(files.json, json_text(report, 2) + "\n");
  write_text(files.markdown, md);
  return files;
}

}  // namespace voxir::eval
