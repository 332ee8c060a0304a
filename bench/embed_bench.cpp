// Benchmark: slice embedding throughput.
//   * builtin:tissue on 512x512 slices (a synthetic CT-like volume, or a file given with
//     --volume), preprocessing included, on 1 thread and on all cores: slices/s;
//   * model preprocessing alone (512x512 -> 224x224x3), one thread: ms/slice;
//   * each TorchScript model given with --model: voxir's embed() per slice (preprocessing from
//     512x512 slices, forward, pooling, normalisation) against libtorch's bare forward on the
//     same batch size, and voxir's overhead in %.
//
// Usage: voxir_bench_embed [--volume ct.nii.gz] [--slices N] [--batch B] [--threads T] [--repeats
// R] [--model m.pt]...
//   Random-weight models: /usr/bin/python3 tools/export_models.py --out /tmp/m --random-weights
//   vit_s14 resnet50
#include "ct_like.h"
#include "embed/torchscript_embedder.h"
#include "slicing/preprocess.h"
#include "voxir/embed.h"

#include <fmt/core.h>

#include <algorithm>
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
  int threads = 0;  // TorchScript threads (0 = all cores)
  int repeats = 5;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (a + 1 < argc && arg == "--volume")
      volume_path = argv[++a];
    else if (a + 1 < argc && arg == "--model")
      models.emplace_back(argv[++a]);
    else if (a + 1 < argc && arg == "--slices")
      slices = std::atoll(argv[++a]);
    else if (a + 1 < argc && arg == "--batch")
      batch = std::atoi(argv[++a]);
    else if (a + 1 < argc && arg == "--threads")
      threads = std::atoi(argv[++a]);
    else if (a + 1 < argc && arg == "--repeats")
      repeats = std::atoi(argv[++a]);
    else {
      fmt::print(stderr,
                 "usage: {} [--volume f] [--slices N] [--batch B] [--threads T] [--repeats R] "
                 "[--model m.pt]...\n",
                 argv[0]);
      return 2;
    }
  }
  const unsigned cores = std::thread::hardware_concurrency();
  fmt::print("cores {}; OPENBLAS_CORETYPE {}; OPENBLAS_L2_SIZE {}\n", cores,
             std::getenv("OPENBLAS_CORETYPE") ? "set" : "unset",
             std::getenv("OPENBLAS_L2_SIZE") ? "set" : "unset");
  const voxir::Volume volume = volume_path.empty() ? voxir::bench::make_ct_like(512, slices)
                                                   : voxir::read_volume(volume_path);
  slices = std::min<std::int64_t>(slices, volume.nz());
  fmt::print("volume {}x{}x{} ({}), {} slices timed\n", volume.nx(), volume.ny(), volume.nz(),
             volume_path.empty() ? "synthetic" : volume_path, slices);

  for (int builtin_threads : {1, 0}) {
    const auto e = voxir::make_embedder("builtin:tissue", {.threads = builtin_threads});
    const double s = seconds_of(*e, volume, slices, 3);
    fmt::print("builtin:tissue  threads {}: {:.0f} slices/s ({:.3f} ms/slice)\n",
               builtin_threads == 0 ? static_cast<int>(cores) : builtin_threads,
               static_cast<double>(slices) / s, 1e3 * s / static_cast<double>(slices));
  }
  {
    // Model preprocessing alone: 512x512 slice -> 224x224x3 normalised tensor, one thread.
    const voxir::Preprocessing p;
    std::vector<float> tensor(p.tensor_size());
    voxir::slicing::Scratch scratch;
    double best = 1e30;
    for (int r = 0; r < 3; ++r) {
      const auto t0 = Clock::now();
      for (std::int64_t k = 0; k < slices; ++k)
        voxir::slicing::preprocess_slice(volume, k, p, tensor, scratch);
      best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    fmt::print("preprocess to 224x224x3, threads 1: {:.3f} ms/slice\n",
               1e3 * best / static_cast<double>(slices));
  }
  for (const auto& m : models) {
    const auto e = voxir::make_embedder("torchscript:" + m, {.threads = threads, .batch = batch});
    // Alternate voxir's embed() of one batch of real-size slices with a bare forward pass of one
    // batch, best of `repeats` each, so both see the same machine load.
    const std::int64_t n = std::min<std::int64_t>(volume.nz(), batch);
    std::vector<float> out(static_cast<std::size_t>(n) * static_cast<std::size_t>(e->dim()));
    double voxir_best = 1e30;
    const auto bare =
        voxir::embed::bare_forward_seconds(m, static_cast<int>(n), repeats, threads, [&] {
          const auto t0 = Clock::now();
          e->embed(volume, 0, n, out);
          voxir_best =
              std::min(voxir_best, std::chrono::duration<double>(Clock::now() - t0).count());
        });
    const double voxir_s = voxir_best / static_cast<double>(n);
    const double bare_s = *std::min_element(bare.begin(), bare.end()) / static_cast<double>(n);
    fmt::print(
        "{}: voxir {:.1f} ms/slice ({:.1f} slices/s), bare forward {:.1f} ms/slice, overhead "
        "{:+.1f}% (batch {}, threads {})\n",
        m, 1e3 * voxir_s, 1.0 / voxir_s, 1e3 * bare_s, 100.0 * (voxir_s / bare_s - 1.0), batch,
        threads == 0 ? static_cast<int>(cores) : threads);
  }
  return 0;
}
