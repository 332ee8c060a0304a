#include "testutil/temp_dir.h"
#include "util/file.h"
#include "voxir/embed.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

namespace voxir {
namespace {

Volume ramp_volume(float offset) {
  std::vector<float> hu(static_cast<std::size_t>(48 * 40 * 5));
  for (std::size_t i = 0; i < hu.size(); ++i) {
    const auto x = static_cast<float>(i % 48), y = static_cast<float>((i / 48) % 40);
    hu[i] = ((x - 24) * (x - 24) / 400 + (y - 20) * (y - 20) / 300 < 1) ? 40 + offset + x : -1000;
  }
  const Affine a{{{4, 0, 0, 0}, {0, 4, 0, 0}, {0, 0, 5, 0}, {0, 0, 0, 1}}};
  return Volume({48, 40, 5}, {4, 4, 5}, a, std::move(hu), "RAS");
}

TEST(VolumeContentHash, EqualContentEqualHash) {
  const Volume a = ramp_volume(0), b = ramp_volume(0);
  EXPECT_EQ(volume_content_hash(a), volume_content_hash(b));
  Volume c = ramp_volume(0);
  c.hu()[777] += 1;
  EXPECT_NE(volume_content_hash(a), volume_content_hash(c));
  EXPECT_NE(volume_content_hash(a), volume_content_hash(ramp_volume(1)));
}

TEST(EmbeddingCache, StoresHitsAndRecomputesDamagedEntries) {
  testing::TempDir dir;
  EmbeddingCache cache(dir / "cache");
  const auto e = make_embedder("builtin");
  const Volume v = ramp_volume(0);
  const std::vector<float> expect = e->embed_all(v);

  EXPECT_EQ(cache.embed_all(*e, v), expect);
  EXPECT_EQ(cache.stats().misses, 1);
  const auto path = cache.entry_path(*e, v);
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(cache.embed_all(*e, v), expect);
  EXPECT_EQ(cache.stats().hits, 1);

  // Damage: a flipped byte in the vectors, a truncated file, a wrong header.
  const std::vector<std::uint8_t> good = read_file(path);
  ASSERT_GT(good.size(), 100u);
  struct Damage {
    const char* what;
    std::vector<std::uint8_t> bytes;
  };
  std::vector<Damage> damages;
  auto flipped = good;
  flipped.at(good.size() - 5) = static_cast<std::uint8_t>(good.at(good.size() - 5) ^ 0x40);
  damages.push_back({"flipped byte", flipped});
  damages.push_back({"truncated", std::vector<std::uint8_t>(
                                      good.begin(), good.begin() + static_cast<std::ptrdiff_t>(
                                                                       good.size() / 2))});
  std::vector<std::uint8_t> magic{'X'};
  magic.insert(magic.end(), good.begin() + 1, good.end());
  damages.push_back({"bad magic", magic});
  damages.push_back({"empty", {}});
  std::int64_t rejected = 0;
  for (const auto& d : damages) {
    write_file_atomic(path, d.bytes, false);
    EXPECT_EQ(cache.embed_all(*e, v), expect) << d.what;
    EXPECT_EQ(cache.stats().rejected, ++rejected) << d.what;
    EXPECT_EQ(read_file(path), good) << d.what << ": entry not rewritten";
  }

  // Another embedder configuration or another volume: separate entries.
  const auto other = make_embedder("builtin:tissue,cell=20");
  EXPECT_NE(cache.entry_path(*other, v), path);
  EXPECT_EQ(cache.embed_all(*other, v).size(), static_cast<std::size_t>(5 * other->dim()));
  EXPECT_NE(cache.entry_path(*e, ramp_volume(3)), path);
  EXPECT_EQ(cache.stats().misses, 2);
}

}  // namespace
}  // namespace voxir
