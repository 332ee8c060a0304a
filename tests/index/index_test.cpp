// The index folder: exact and approximate search, add/remove, crash safety, corruption.
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "index/manifest.h"
#include "testutil/old_formats.h"
#include "testutil/temp_dir.h"
#include "testutil/vectors.h"
#include "voxir/error.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <set>

namespace voxir {
namespace {

using testing::ClusteredSetOptions;
using testing::TempDir;

const EmbedderIdentity kIdentity{"fake:vectors", "fake-vectors;v=1", 32};

BuildReport write_new(const std::filesystem::path& dir, const std::string& spec,
                      std::vector<VolumeVectors> set, const WriteOptions& options = {}) {
  return write_generation(dir, true, IndexSpec::parse(spec), kIdentity, std::move(set), {},
                          options);
}

// Queries: slice vectors of some volumes with noise, as a re-scanned patient would give.
std::vector<float> make_queries(const std::vector<VolumeVectors>& set, int count,
                                std::uint32_t seed) {
  std::vector<float> q;
  for (int i = 0; i < count; ++i) {
    const auto& v = set[static_cast<std::size_t>(i * 7) % set.size()];
    const auto s = static_cast<std::size_t>(i * 3) % static_cast<std::size_t>(v.volume.num_slices);
    q.insert(q.end(), v.vectors.begin() + static_cast<std::ptrdiff_t>(s * 32),
             v.vectors.begin() + static_cast<std::ptrdiff_t>((s + 1) * 32));
  }
  testing::perturb(q, 32, 0.3, seed);
  return q;
}

TEST(Index, ExactSearchEqualsBruteForce) {
  TempDir tmp;
  const auto set = testing::clustered_set({.volumes = 60, .slices = 40});
  write_new(tmp.path(), "Flat", set);
  const auto index = Index::open(tmp.path());
  ASSERT_EQ(index->num_vectors(), 60 * 40);
  const auto queries = make_queries(set, 50, 1);
  const int k = 10;
  std::vector<std::int64_t> ids(50 * k), want_ids;
  std::vector<float> sims(50 * k), want_sims;
  index->search(queries, 50, k, {}, ids, sims);
  testing::brute_force_knn(queries, testing::all_rows(set), 32, k, want_ids, want_sims);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_NEAR(sims[i], want_sims[i], 1e-5) << "hit " << i;
    if (i % k == 0 || std::abs(want_sims[i] - want_sims[i - 1]) > 1e-5) {
      EXPECT_EQ(ids[i], want_ids[i]) << "hit " << i;
    }
  }
}

struct RecallCase {
  const char* spec;
  AnnParams params;
  double min_recall;  // the recall@10 against exact search each spec is stated to reach
};

TEST(Index, ApproximateIndexesReachTheirRecall) {
  const auto set = testing::clustered_set({.volumes = 120, .slices = 40});
  const auto queries = make_queries(set, 200, 2);
  const int k = 10;
  std::vector<std::int64_t> exact_ids;
  std::vector<float> exact_sims;
  testing::brute_force_knn(queries, testing::all_rows(set), 32, k, exact_ids, exact_sims);
  const RecallCase cases[] = {
      {"hnswlib:M16,efc100", {.ef_search = 64}, 0.95},
      {"hnswlib:M32,efc100", {}, 0.97},
      {"faiss:IVF32,PQ8", {.nprobe = 8, .refine = 10}, 0.90},
      {"faiss:IVF32,PQ8", {.nprobe = 32, .refine = 1}, 0.30},  // PQ codes alone: coarse, but far above chance
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.spec);
    TempDir tmp;
    write_new(tmp.path(), c.spec, set);
    const auto index = Index::open(tmp.path(), {.verify_checksums = true});
    EXPECT_EQ(index->spec(), IndexSpec::parse(c.spec));
    std::vector<std::int64_t> ids(200 * k);
    std::vector<float> sims(200 * k);
    index->search(queries, 200, k, c.params, ids, sims);
    std::size_t found = 0;
    for (std::size_t i = 0; i < 200; ++i) {
      const std::set<std::int64_t> truth(
          exact_ids.begin() + static_cast<std::ptrdiff_t>(i * k),
          exact_ids.begin() + static_cast<std::ptrdiff_t>((i + 1) * k));
      for (int r = 0; r < k; ++r) found += truth.count(ids[i * k + static_cast<std::size_t>(r)]);
    }
    const double recall = double(found) / double(exact_ids.size());
    EXPECT_GE(recall, c.min_recall);
    RecordProperty(fmt::format("{} nprobe{} refine{}", c.spec, c.params.nprobe, c.params.refine),
                   std::to_string(recall));
  }
}

TEST(Index, HnswSearchBreadthIsPerQuery) {
  TempDir tmp;
  const auto set = testing::clustered_set({.volumes = 100, .slices = 40});
  // One building thread: the graph, hence the recall, is then the same on every machine (threads
  // inserting at once make it depend on timing; under ThreadSanitizer recall at ef 400 fell to .97).
  write_new(tmp.path(), "hnswlib:M8,efc40", set, {.threads = 1, .progress = {}, .predict = {}});
  const auto index = Index::open(tmp.path());
  const auto queries = make_queries(set, 100, 3);
  std::vector<std::int64_t> exact_ids, ids(100 * 10), wide_ids(100 * 10);
  std::vector<float> exact_sims, sims(100 * 10);
  testing::brute_force_knn(queries, testing::all_rows(set), 32, 10, exact_ids, exact_sims);
  index->search(queries, 100, 10, {.ef_search = 10}, ids, sims);
  index->search(queries, 100, 10, {.ef_search = 400}, wide_ids, sims);
  auto recall = [&](const std::vector<std::int64_t>& got) {
    std::size_t found = 0;
    for (std::size_t i = 0; i < 100; ++i) {
      const std::set<std::int64_t> truth(
          exact_ids.begin() + static_cast<std::ptrdiff_t>(i * 10),
          exact_ids.begin() + static_cast<std::ptrdiff_t>(i * 10 + 10));
      for (std::size_t r = 0; r < 10; ++r) found += truth.count(got[i * 10 + r]);
    }
    return double(found) / 1000.0;
  };
  EXPECT_GE(recall(wide_ids), recall(ids));
  EXPECT_GE(recall(wide_ids), 0.98);
}

class IndexKinds : public ::testing::TestWithParam<const char*> {};

TEST_P(IndexKinds, AddAndRemoveKeepSearchConsistent) {
  TempDir tmp;
  auto set = testing::clustered_set({.volumes = 40, .slices = 30});
  std::vector<VolumeVectors> first(set.begin(), set.begin() + 30),
      more(set.begin() + 30, set.end());
  write_new(tmp.path(), GetParam(), first);
  write_generation(tmp.path(), false, {}, {}, more, {}, {});
  auto index = Index::open(tmp.path(), {.verify_checksums = true});
  EXPECT_EQ(index->generation(), 2);
  ASSERT_EQ(index->volumes().size(), 40u);
  EXPECT_EQ(index->num_vectors(), 40 * 30);
  // Each volume's own slices find themselves (similarity 1) after the add.
  for (const std::size_t v : {0u, 29u, 30u, 39u}) {
    const auto rows = index->volume_vectors(v);
    std::vector<std::int64_t> ids(30);
    std::vector<float> sims(30);
    index->search(rows, 30, 1, {.refine = 50}, ids, sims);  // PQ alone confuses neighbouring slices
    std::size_t own = 0;
    for (std::size_t s = 0; s < 30; ++s)
      own += ids[s] == index->volumes()[v].first_row + static_cast<std::int64_t>(s);
    EXPECT_GE(own, 27u) << "volume " << v;
  }
  const std::vector<std::string> gone{"v0005"};
  index.reset();  // an open Index keeps its generation on disk (docs/index-format.md, "Readers")
  write_generation(tmp.path(), false, {}, {}, {}, gone, {});
  index = Index::open(tmp.path(), {.verify_checksums = true});
  EXPECT_EQ(index->generation(), 3);
  EXPECT_EQ(index->find("v0005"), nullptr);
  ASSERT_NE(index->find("v0006"), nullptr);
  EXPECT_EQ(index->volumes().size(), 39u);
  // Rows were compacted: v0006's vectors are the same as before.
  const auto* v6 = index->find("v0006");
  const auto got = index->volume_vectors(static_cast<std::size_t>(v6 - index->volumes().data()));
  EXPECT_TRUE(std::equal(got.begin(), got.end(), set[6].vectors.begin()));
  std::vector<std::int64_t> ids(30);
  std::vector<float> sims(30);
  index->search(set[5].vectors, 30, 1, {}, ids, sims);
  for (const auto id : ids) EXPECT_NE(index->volumes()[index->volume_of_row(id)].id, "v0005");
  // Only the current generation stays on disk.
  std::size_t generations = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
    generations += e.path().filename().string().rfind("gen-", 0) == 0;
  }
  EXPECT_EQ(generations, 1u);
  EXPECT_THROW(write_generation(tmp.path(), false, {}, {}, {}, gone, {}), Error);  // already gone
}

INSTANTIATE_TEST_SUITE_P(Specs, IndexKinds,
                         ::testing::Values("Flat", "HNSW16", "faiss:IVF16,PQ8"));

TEST(Index, FailedWriteLeavesPreviousIndexIntact) {
  const char* stages[] = {"writing vectors", "building index", "writing catalog", "switching"};
  for (const char* stage : stages) {
    SCOPED_TRACE(stage);
    TempDir tmp;
    const auto set = testing::clustered_set({.volumes = 20, .slices = 20});
    write_new(tmp.path(), "HNSW16", {set.begin(), set.begin() + 10});
    WriteOptions abort_at;
    abort_at.progress = [&](const BuildProgress& p) {
      if (p.stage == stage) throw Error(ErrorKind::kIo, "injected failure");
    };
    EXPECT_THROW(
        write_generation(tmp.path(), false, {}, {}, {set.begin() + 10, set.end()}, {}, abort_at),
        Error);
    EXPECT_THROW(write_new(tmp.path(), "HNSW8", set, abort_at), Error);  // a rebuild, too
    const auto index = Index::open(tmp.path(), {.verify_checksums = true});
    EXPECT_EQ(index->generation(), 1);
    EXPECT_EQ(index->volumes().size(), 10u);
    EXPECT_EQ(index->spec().str(), "hnswlib:M16,efc200");
    EXPECT_FALSE(std::filesystem::exists(tmp / "gen-000002"));
  }
}

TEST(Index, LeftoverOfACrashedWriteIsIgnoredThenRemoved) {
  TempDir tmp;
  const auto set = testing::clustered_set({.volumes = 10, .slices = 10});
  write_new(tmp.path(), "Flat", {set.begin(), set.begin() + 5});
  // A writer killed before switching CURRENT leaves a half-written generation behind.
  std::filesystem::create_directory(tmp / "gen-000002");
  std::ofstream(tmp / "gen-000002" / "vectors.f32") << "partial";
  EXPECT_EQ(Index::open(tmp.path())->generation(), 1);
  write_generation(tmp.path(), false, {}, {}, {set.begin() + 5, set.end()}, {}, {});
  const auto index = Index::open(tmp.path(), {.verify_checksums = true});
  EXPECT_EQ(index->generation(), 3);
  EXPECT_EQ(index->volumes().size(), 10u);
  EXPECT_FALSE(std::filesystem::exists(tmp / "gen-000002"));
}

std::string open_error(const std::filesystem::path& dir, bool verify = false) {
  try {
    (void)Index::open(dir, {.verify_checksums = verify});
  } catch (const Error& e) {
    return fmt::format("{}: {}", to_string(e.kind()), e.what());
  }
  return "opened";
}

TEST(Index, CorruptIndexesFailWithClearErrors) {
  const auto set = testing::clustered_set({.volumes = 10, .slices = 10});
  {
    TempDir tmp;
    write_new(tmp.path(), "Flat", set);
    const auto vectors = tmp / "gen-000001" / "vectors.f32";
    std::filesystem::resize_file(vectors, std::filesystem::file_size(vectors) - 100);
    const auto error = open_error(tmp.path());
    EXPECT_NE(error.find("vectors.f32"), std::string::npos) << error;
    EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  }
  {
    TempDir tmp;
    write_new(tmp.path(), "Flat", set);
    const auto manifest = tmp / "gen-000001" / "manifest.json";
    std::string text;
    {
      std::ifstream in(manifest);
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    const auto at = text.find("\"volumes\": 10");
    ASSERT_NE(at, std::string::npos) << text;
    text.replace(at, 13, "\"volumes\": 11");
    std::ofstream(manifest, std::ios::trunc) << text;
    const auto error = open_error(tmp.path());
    EXPECT_NE(error.find("manifest.json"), std::string::npos) << error;
    EXPECT_NE(error.find("checksum mismatch"), std::string::npos) << error;
  }
  {
    TempDir tmp;
    write_new(tmp.path(), "HNSW8", set);
    const auto ann = tmp / "gen-000001" / "ann.hnsw";
    {
      std::fstream f(ann, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(200);
      f.put('\x7f');
    }
    // Same size, but the graph is read whole at open and so checksummed at every open.
    const auto error = open_error(tmp.path());
    EXPECT_NE(error.find("ann.hnsw"), std::string::npos) << error;
    EXPECT_NE(error.find("checksum"), std::string::npos) << error;
  }
  {
    TempDir tmp;
    const auto error = open_error(tmp.path());
    EXPECT_NE(error.find("not found: "), std::string::npos) << error;
    std::ofstream(tmp / "CURRENT") << "gen-000009\n";
    EXPECT_NE(open_error(tmp.path()).find("does not exist"), std::string::npos);
  }
}

TEST(Index, RefusesToWriteIntoAForeignFolder) {
  TempDir tmp;
  std::ofstream(tmp / "notes.txt") << "mine";
  const auto set = testing::clustered_set({.volumes = 2, .slices = 5});
  EXPECT_THROW(write_new(tmp.path(), "Flat", set), Error);
  EXPECT_TRUE(std::filesystem::exists(tmp / "notes.txt"));
}

TEST(Index, DuplicateIdsAreRefused) {
  TempDir tmp;
  auto set = testing::clustered_set({.volumes = 3, .slices = 5});
  write_new(tmp.path(), "Flat", set);
  EXPECT_THROW(write_generation(tmp.path(), false, {}, {}, {set[1]}, {}, {}), Error);
  EXPECT_EQ(Index::open(tmp.path())->volumes().size(), 3u);
}

TEST(Index, CatalogKeepsVolumesAndSliceLabels) {
  TempDir tmp;
  auto set = testing::clustered_set({.volumes = 3, .slices = 6});
  set[1].presence_bytes = 2;
  set[1].presence.assign(12, 0);
  set[1].presence[2 * 2] = 0x05;      // slice 2: classes 0 and 2
  set[1].presence[5 * 2 + 1] = 0x80;  // slice 5: class 15
  set[1].volume.metadata_json = R"({"age":"63"})";
  set[1].volume.spacing = {0.8, 0.8, 3};
  write_new(tmp.path(), "Flat", set);
  write_generation(tmp.path(), false, {}, {}, {}, std::vector<std::string>{"v0000"},
                   {});  // labels survive a rewrite
  const auto index = Index::open(tmp.path());
  const auto* v = index->find("v0001");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->metadata_json, R"({"age":"63"})");
  EXPECT_DOUBLE_EQ(v->spacing[2], 3);
  EXPECT_EQ(v->first_row, 0);
  const auto labels = index->labels(0);
  EXPECT_EQ(labels.presence_bytes, 2);
  EXPECT_EQ(labels.presence, set[1].presence);
  EXPECT_EQ(index->labels(1).presence_bytes, 0);
}

TEST(Index, CatalogKeepsLabelsSources) {
  TempDir tmp;
  auto set = testing::clustered_set({.volumes = 3, .slices = 4});
  set[1].volume.labels_source = "/data/s0002/segmentations";
  set[2].volume.labels_source = "/data/s0003/multilabel.nii.gz";
  write_new(tmp.path(), "Flat", set);
  write_generation(tmp.path(), false, {}, {}, {}, std::vector<std::string>{"v0000"},
                   {});  // labels sources survive a rewrite
  const auto index = Index::open(tmp.path(), {.verify_checksums = true});
  ASSERT_EQ(index->volumes().size(), 2u);
  EXPECT_EQ(index->find("v0001")->labels_source, "/data/s0002/segmentations");
  EXPECT_EQ(index->find("v0002")->labels_source, "/data/s0003/multilabel.nii.gz");
  write_generation(tmp.path(), false, {}, {}, {set[0]}, {}, {});
  EXPECT_EQ(Index::open(tmp.path())->find("v0000")->labels_source, "") << "a volume without labels";
}

// Format version 2 recorded no labels sources: such an index opens with them empty, and the next
// write makes version 3 keeping everything else.
TEST(Index, IndexesOfFormatVersion2OpenWithoutLabelsSources) {
  TempDir tmp;
  auto set = testing::clustered_set({.volumes = 2, .slices = 4});
  set[0].volume.labels_source = "/data/s0001/segmentations";
  write_new(tmp.path(), "Flat", set);
  {
    std::ifstream in(index::current_generation(tmp.path()) / index::kManifestFile);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("\"format_version\": 3"), std::string::npos) << text;
  }
  testing::rewrite_as_format(tmp.path(), 2, "DROP TABLE labels_source");

  auto index = Index::open(tmp.path(), {.verify_checksums = true});
  ASSERT_EQ(index->volumes().size(), 2u);
  EXPECT_EQ(index->volumes()[0].labels_source, "");
  set[1].volume.id = "v-new";
  set[1].volume.labels_source = "/data/new/segmentations";
  write_generation(tmp.path(), false, {}, {}, {set[1]}, {}, {});
  index = Index::open(tmp.path());
  EXPECT_EQ(index->find("v-new")->labels_source, "/data/new/segmentations");
  EXPECT_EQ(index->find("v0000")->labels_source, "");
  std::ifstream again(index::current_generation(tmp.path()) / index::kManifestFile);
  const std::string text3((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
  EXPECT_EQ(index::manifest_from_json(text3, "manifest.json").format_version, 3);
}

TEST(Index, EmbedderMismatchSaysWhichPartDiffers) {
  const EmbedderIdentity a{"builtin:x", "model=x;window=-1000..1000;size=224", 384};
  EXPECT_NO_THROW(check_same_embedder(a, a));
  auto b = a;
  b.fingerprint = "model=x;window=-500..500;size=224";
  try {
    check_same_embedder(a, b);
    ADD_FAILURE();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("window=-1000..1000"), std::string::npos) << m;
    EXPECT_NE(m.find("window=-500..500"), std::string::npos) << m;
    EXPECT_EQ(m.find("size=224"), std::string::npos) << m;
  }
  b = a;
  b.spec = "builtin:y";
  EXPECT_THROW(check_same_embedder(a, b), Error);
  b = a;
  b.dim = 768;
  EXPECT_THROW(check_same_embedder(a, b), Error);
}

TEST(Index, VolumeIdsAreReadableAndUnique) {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "s0001");
  std::filesystem::create_directories(tmp / "b" / "s0001");
  std::filesystem::create_directories(tmp / "dicom_series");
  EXPECT_EQ(volume_id_for_path(tmp / "s0001" / "ct.nii.gz"), "s0001");
  EXPECT_EQ(volume_id_for_path(tmp / "scan7.nii"), "scan7");
  EXPECT_EQ(volume_id_for_path(tmp / "liver_case.nii.gz"), "liver_case");
  EXPECT_EQ(volume_id_for_path(tmp / "dicom_series"), "dicom_series");
  EXPECT_EQ(volume_id_for_path(tmp / "dicom_series/"), "dicom_series");
  const std::vector<std::filesystem::path> paths{
      tmp / "s0001" / "ct.nii.gz", tmp / "b" / "s0001" / "ct.nii.gz", tmp / "x.nii.gz"};
  const std::vector<std::string> taken{"x"};
  const auto sources = sources_from_paths(paths, taken);
  ASSERT_EQ(sources.size(), 3u);
  EXPECT_EQ(sources[0].id, "s0001");
  EXPECT_EQ(sources[1].id, "s0001-2");
  EXPECT_EQ(sources[2].id, "x-2");
}

}  // namespace
}  // namespace voxir
