// Benchmark: generation speed of synthetic phantoms (voxir synth). Prints volumes/min and slices/s
// for generating in memory only and for writing the full dataset (CT + 104 masks per subject,
// gzip-compressed NIfTI), both with the given number of threads.
//
// Usage: voxir_bench_synth [--subjects N] [--spacing MM] [--threads T] [--out DIR] [--keep]
//   defaults: 100 subjects at 3 mm, all cores, a temporary folder removed afterwards.
#include "voxir/synth.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  voxir::synth::SynthOptions options;
  options.subjects = 100;
  options.subject.slice_spacing_mm = 3.0;
  std::filesystem::path out = std::filesystem::temp_directory_path() / "voxir_bench_synth";
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return std::string(argv[++i]);
    };
    if (a == "--subjects") options.subjects = std::stoi(value());
    else if (a == "--spacing") options.subject.slice_spacing_mm = std::stod(value());
    else if (a == "--threads") options.threads = std::stoi(value());
    else if (a == "--out") out = value();
    else if (a == "--keep") keep = true;
    else {
      fmt::print(stderr, "usage: voxir_bench_synth [--subjects N] [--spacing MM] [--threads T] [--out DIR] [--keep]\n");
      return 2;
    }
  }
  const int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  fmt::print("synth benchmark: {} subjects, slice spacing {} mm, {} threads\n", options.subjects,
             options.subject.slice_spacing_mm, threads);

  // 1. Generation in memory only (anatomy, HU, noise), same seeds as the dataset.
  {
    std::atomic<int> next{0};
    std::atomic<long long> slices{0};
    const auto t0 = Clock::now();
    auto work = [&] {
      for (int i = next++; i < options.subjects; i = next++) {
        // Seeds as write_dataset draws them are internal; any distinct seeds measure the same work.
        const auto p = voxir::synth::generate_subject(options.seed * 1000003ULL + static_cast<unsigned>(i), options.subject);
        slices += p.ct.nz();
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    const double s = seconds_since(t0);
    fmt::print("generate only : {:6.1f} s  {:7.1f} volumes/min  {:7.0f} slices/s\n", s, options.subjects * 60.0 / s,
               static_cast<double>(slices.load()) / s);
  }
  // 2. The whole dataset on disk, as `voxir synth` writes it.
  std::filesystem::remove_all(out);
  const auto t0 = Clock::now();
  const auto summary = voxir::synth::write_dataset(out, options);
  const double s = seconds_since(t0);
  std::uintmax_t bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(out))
    if (e.is_regular_file()) bytes += e.file_size();
  fmt::print("write dataset : {:6.1f} s  {:7.1f} volumes/min  {:7.0f} slices/s  ({} slices, {:.0f} MB on disk)\n", s,
             summary.subjects * 60.0 / s, static_cast<double>(summary.slices) / s, summary.slices, bytes / 1e6);
  if (!keep) std::filesystem::remove_all(out);
  return 0;
}
