// Benchmark: slice embedding throughput.
//   * builtin:tissue on 512x512 slices (a synthetic CT-like volume, or a file given with
//     --volume), preprocessing included, on 1 thread and on all cores: slices/s;
//   * each TorchScript model given with --model: voxir's embed() per slice (preprocessing from
//     512x512 slices, forward, pooling, normalisation) against libtorch's bare forward on the
//     same batch size, and voxir's overhead in %.
//
// Usage: voxir_bench_embed [--volume ct.nii.gz] [--slices N] [--batch B] [--model m.pt]...
//   Random-weight models: /usr/bin/python3 tools/export_models.py --out /tmp/m --random-weights vit_s14 resnet50
#include "ct_like.h"
#include "embed/torchscript_embedder.h"
#include "voxir/embed.h"

#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_of(const voxir::Embedder& e, const voxir::Volume& v, std::int64_t n, int repeats) {
  std::vector<float> out(static_cast<std::size_t>(n) * static_cast<std::size_t>(e.dim()));
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    e.embed(v, 0, n, out);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string volume_path;
  std::vector<std::string> models;
  std::int64_t slices = 200;
  int batch = 8;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (a + 1 < argc && arg == "--volume") volume_path = argv[++a];
    else if (a + 1 < argc && arg == "--model") models.emplace_back(argv[++a]);
    else if (a + 1 < argc && arg == "--slices") slices = std::atoll(argv[++a]);
    else if (a + 1 < argc && arg == "--batch") batch = std::atoi(argv[++a]);
    else {
      fmt::print(stderr, "usage: {} [--volume f] [--slices N] [--batch B] [--model m.pt]...\n", argv[0]);
      return 2;
    }
  }
  const unsigned cores = std::thread::hardware_concurrency();
  fmt::print("cores {}; OPENBLAS_CORETYPE {}; OPENBLAS_L2_SIZE {}\n", cores,
             std::getenv("OPENBLAS_CORETYPE") ? "set" : "unset", std::getenv("OPENBLAS_L2_SIZE") ? "set" : "unset");
  const voxir::Volume volume =
      volume_path.empty() ? voxir::bench::make_ct_like(512, slices) : voxir::read_volume(volume_path);
  slices = std::min<std::int64_t>(slices, volume.nz());
  fmt::print("volume {}x{}x{} ({}), {} slices timed\n", volume.nx(), volume.ny(), volume.nz(),
             volume_path.empty() ? "synthetic" : volume_path, slices);

  for (int threads : {1, 0}) {
    const auto e = voxir::make_embedder("builtin:tissue", {.threads = threads});
    const double s = seconds_of(*e, volume, slices, 3);
    fmt::print("builtin:tissue  threads {}: {:.0f} slices/s ({:.3f} ms/slice)\n", threads == 0 ? static_cast<int>(cores) : threads,
               static_cast<double>(slices) / s, 1e3 * s / static_cast<double>(slices));
  }
  for (const auto& m : models) {
    const auto e = voxir::make_embedder("torchscript:" + m, {.threads = 0, .batch = batch});
    const std::int64_t n = std::min<std::int64_t>(slices, 4 * batch);
    const double voxir_s = seconds_of(*e, volume, n, 2) / static_cast<double>(n);
    const double bare_s = voxir::embed::bare_forward_seconds(m, batch, 3, 0) / batch;
    fmt::print("{}: voxir {:.1f} ms/slice ({:.1f} slices/s), bare forward {:.1f} ms/slice, overhead {:+.1f}% (batch {})\n",
               m, 1e3 * voxir_s, 1.0 / voxir_s, 1e3 * bare_s, 100.0 * (voxir_s / bare_s - 1.0), batch);
  }
  return 0;
}
