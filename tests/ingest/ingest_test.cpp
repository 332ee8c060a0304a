// Ingest records where each volume's labels came from (index format 3), so that they can be read
// again (the server's label maps).
#include "testutil/fake_embedder.h"
#include "testutil/temp_dir.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/labels.h"
#include "voxir/synth.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace voxir {
namespace {

TEST(Ingest, RecordsTheLabelsSourceOfEachVolume) {
  testing::TempDir tmp;
  synth::SynthOptions synth;
  synth.subjects = 2;
  synth.seed = 5;
  synth.subject.region = synth::Region::kAbdomen;
  synth.subject.slice_spacing_mm = 5;
  synth.subject.matrix = 64;
  synth::write_dataset(tmp / "ds", synth);
  // A loose CT without labels beside the dataset.
  std::filesystem::create_directories(tmp / "loose");
  std::filesystem::copy_file(tmp / "ds" / "s0001" / "ct.nii.gz", tmp / "loose" / "plain.nii.gz");

  const testing::FakeEmbedder embedder(8);
  BuildOptions options;
  options.embedding_cache.clear();
  options.index = IndexSpec::parse("faiss:Flat");
  const std::vector<std::filesystem::path> paths{tmp / "ds", tmp / "loose" / "plain.nii.gz"};
  const auto report = build_index(tmp / "index", sources_from_paths(paths), embedder, options);
  ASSERT_EQ(report.volumes_added, 3u);

  const auto index = Index::open(tmp / "index");
  for (const char* id : {"s0001", "s0002"}) {
    const IndexedVolume* v = index->find(id);
    ASSERT_NE(v, nullptr) << id;
    const auto expected = std::filesystem::absolute(tmp / "ds" / id / "segmentations").lexically_normal();
    EXPECT_EQ(v->labels_source, expected.string()) << id;
    // What was recorded reads back as the labels of the volume.
    const Volume ct = read_volume(v->source);
    const Volume map = read_label_map(v->labels_source, ct);
    EXPECT_EQ(map.dims(), ct.dims());
    EXPECT_GT(std::count_if(map.hu().begin(), map.hu().end(), [](float x) { return x > 0; }), 0) << id;
  }
  EXPECT_EQ(index->find("plain")->labels_source, "") << "indexed without labels";
}

}  // namespace
}  // namespace voxir
