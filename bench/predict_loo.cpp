// Benchmark: predicted anatomy as leave-one-out over the real labelled CTs (bench/predict_loo.h).
// Each real CT is held out in turn; the others (plus N labelled synthetic phantoms) form a Flat
// index with the built-in embedder; the held-out CT's classes and coarse regions are predicted and
// compared with its true extents: slice IoU per class (0 when not predicted), and the same for a
// trivial baseline that takes the whole volume as every present class's extent.
//
// Usage: voxir_bench_predict_loo <ct-data-dir> <work-dir> [--phantoms N | --phantom-dir DIR]
//                                [--embedder SPEC] [--json FILE]
//   <ct-data-dir>: the folder holding ts-mini/, ts-dicom-abdomen/, ts-thorax-cta/
//   (docs/predicted-anatomy.md); <work-dir> keeps the indexes, phantoms and embedding cache.
#include "predict_loo.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>

int main(int argc, char** argv) {
  using voxir::bench::LooOptions;
  std::vector<std::string> positional;
  LooOptions options;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&] {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return std::string(argv[++i]);
    };
    if (a == "--phantoms") {
      options.phantoms = std::stoi(value());
    } else if (a == "--phantom-dir") {
      options.phantom_dir = value();
    } else if (a == "--embedder") {
      options.embedder = value();
    } else if (a == "--json") {
      json_path = value();
    } else if (a.rfind("--", 0) == 0) {
      fmt::print(stderr, "unknown option {}\n", a);
      return 2;
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) {
    fmt::print(stderr,
               "usage: voxir_bench_predict_loo <ct-data-dir> <work-dir> [--phantoms N | --phantom-dir "
               "DIR] [--embedder SPEC] [--json FILE]\n");
    return 2;
  }
  options.work = positional[1];
  const auto cases = voxir::bench::real_labelled_cts(positional[0]);
  if (cases.size() < 2) {
    fmt::print(stderr, "{}: fewer than 2 real labelled CTs found\n", positional[0]);
    return 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<voxir::bench::LooFold> folds;
  try {
    folds = voxir::bench::run_leave_one_out(cases, options);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json out;
  out["embedder"] = options.embedder;
  out["phantoms"] = options.phantom_dir.empty() ? nlohmann::json(options.phantoms)
                                                 : nlohmann::json(options.phantom_dir.string());
  out["seconds"] = seconds;
  fmt::print("leave-one-out over {} real labelled CTs, phantoms {}, {} ({:.0f} s)\n", cases.size(),
             options.phantom_dir.empty() ? std::to_string(options.phantoms)
                                         : options.phantom_dir.string(),
             options.embedder, seconds);
  fmt::print("{:<18} {:>6} {:>9} {:>8} {:>10} {:>9} {:>8} {:>10}\n", "held out", "slices",
             "labelled", "classes", "IoU", "baseline", "regions", "IoU/base");
  double sum = 0, base = 0;
  int n = 0;
  for (const auto& f : folds) {
    int classes = 0, regions = 0;
    for (const auto& u : f.units) (u.coarse ? regions : classes)++;
    const double ci = f.mean(false, false), cb = f.mean(false, true);
    fmt::print("{:<18} {:>6} {:>9} {:>8} {:>10.3f} {:>9.3f} {:>8} {:>10}\n", f.held_out, f.slices,
               f.labelled_volumes, classes, ci, cb, regions,
               regions > 0 ? fmt::format("{:.3f}/{:.3f}", f.mean(true, false), f.mean(true, true))
                           : "-");
    nlohmann::json units = nlohmann::json::array();
    for (const auto& u : f.units) {
      units.push_back({{"name", u.name},
                       {"coarse", u.coarse},
                       {"truth", u.truth},
                       {"predicted", u.predicted ? nlohmann::json(*u.predicted) : nlohmann::json()},
                       {"confidence", u.confidence},
                       {"iou", u.iou},
                       {"baseline_iou", u.baseline_iou}});
      if (!u.coarse) {
        sum += u.iou;
        base += u.baseline_iou;
        ++n;
      }
    }
    out["folds"].push_back({{"held_out", f.held_out},
                            {"slices", f.slices},
                            {"labelled_volumes", f.labelled_volumes},
                            {"class_iou", ci},
                            {"class_baseline_iou", cb},
                            {"region_iou", f.mean(true, false)},
                            {"region_baseline_iou", f.mean(true, true)},
                            {"units", units}});
  }
  if (n > 0) {
    fmt::print("all {} present classes: IoU {:.3f}, baseline {:.3f}\n", n, sum / n, base / n);
    out["class_iou"] = sum / n;
    out["class_baseline_iou"] = base / n;
  }
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  return 0;
}
