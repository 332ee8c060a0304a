// Benchmark: reading a 512x512x300 int16 .nii.gz into a canonical float volume, against
// `gzip -dc` of the same file on the same machine. Prints MB/s (uncompressed image bytes per
// second) and the ratio; the aim is read time <= 1.25x decompression alone.
//
// Usage: voxir_bench_read [file.nii.gz]   (without a file, writes a CT-like one to /tmp)
#include "ct_like.h"
#include "voxir/volume.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

namespace {

using Clock = std::chrono::steady_clock;

template <typename Fn>
double best_seconds(int repeats, Fn&& fn) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path file;
  if (argc > 1) {
    file = argv[1];
  } else {
    file = std::filesystem::temp_directory_path() / "voxir_bench_512x512x300.nii.gz";
    if (!std::filesystem::exists(file)) {
      fmt::print("writing {} ...\n", file.string());
      voxir::write_nifti(voxir::bench::make_ct_like(512, 300), file, voxir::NiftiDatatype::kInt16);
    }
  }
  const double compressed_mb = static_cast<double>(std::filesystem::file_size(file)) / 1e6;
  voxir::Dims dims{};
  const double t_read = best_seconds(3, [&] { dims = voxir::read_volume(file).dims(); });
  const double image_mb = static_cast<double>(dims[0] * dims[1] * dims[2]) * 2.0 / 1e6;
  const std::string cmd = "gzip -dc '" + file.string() + "' > /dev/null";
  const double t_gzip = best_seconds(3, [&] {
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "gzip -dc failed\n");
  });
  fmt::print("file            {} ({:.1f} MB compressed, {}x{}x{} int16 = {:.1f} MB)\n", file.string(),
             compressed_mb, dims[0], dims[1], dims[2], image_mb);
  fmt::print("voxir read      {:.3f} s  {:.0f} MB/s  (to canonical float32 HU, best of 3)\n", t_read,
             image_mb / t_read);
  fmt::print("gzip -dc        {:.3f} s  {:.0f} MB/s  (best of 3)\n", t_gzip, image_mb / t_gzip);
  fmt::print("ratio           {:.2f}x decompression time (aim <= 1.25x)\n", t_read / t_gzip);
  return 0;
}
