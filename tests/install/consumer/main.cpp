// Writes a tiny index of hand-made vectors, searches it through the Query API and checks that a
// query cut from volume "b" finds "b" at the slices it came from. Exit 0 when all holds.
#include <voxir/error.h>
#include <voxir/index.h>
#include <voxir/search.h>
#include <voxir/version.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer <scratch-dir>\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  constexpr int kDim = 8;
  std::vector<voxir::VolumeVectors> volumes;
  for (const char* id : {"a", "b", "c"}) {
    voxir::VolumeVectors v;
    v.volume.id = id;
    v.volume.source = id;
    v.volume.num_slices = 12;
    for (int k = 0; k < 12; ++k) {
      std::vector<float> row(kDim);
      double norm = 0;
      for (int j = 0; j < kDim; ++j) {
        row[static_cast<std::size_t>(j)] = static_cast<float>(std::sin(1.7 * (id[0] - 'a' + 1) * (j + 1) + 0.3 * k));
        norm += row[static_cast<std::size_t>(j)] * row[static_cast<std::size_t>(j)];
      }
      for (float& x : row) x = static_cast<float>(x / std::sqrt(norm));
      v.vectors.insert(v.vectors.end(), row.begin(), row.end());
    }
    volumes.push_back(std::move(v));
  }
  const std::vector<float> query(volumes[1].vectors.begin() + 4 * kDim, volumes[1].vectors.begin() + 8 * kDim);
  try {
    voxir::write_generation(dir, true, voxir::IndexSpec::parse("Flat"), {"consumer", "consumer;v=1", kDim},
                            std::move(volumes), {}, {});
    const auto index = voxir::Index::open(dir);
    voxir::Query q;
    q.vectors = query;
    q.first_slice = 4;
    const voxir::SearchAnswer answer = voxir::search(*index, q);
    const auto& top = answer.results.at(0);
    std::printf("voxir %s (%s): top %s, slices %lld..%lld\n", std::string(voxir::version()).c_str(),
                std::string(voxir::build_commit()).c_str(), top.volume.c_str(),
                static_cast<long long>(top.location[0]), static_cast<long long>(top.location[1]));
    return top.volume == "b" && top.location[0] == 4 && top.location[1] == 7 ? 0 : 1;
  } catch (const voxir::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
