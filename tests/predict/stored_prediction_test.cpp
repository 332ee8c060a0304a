// Anatomy predicted at ingest and stored with volumes indexed without labels (format version 3):
// what is stored equals what a query would predict, search uses it, older indexes still work.
#include "index/manifest.h"
#include "testutil/fake_embedder.h"
#include "testutil/phantoms.h"
#include "testutil/old_formats.h"
#include "testutil/temp_dir.h"
#include "voxir/error.h"
#include "voxir/eval.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/labels.h"
#include "voxir/predict.h"
#include "voxir/search.h"
#include "voxir/volume.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

namespace voxir {
namespace {

using testing::TempDir;

// Phantoms on disk; the even ones get a liver mask on their organ block, the odd ones none and
// the image of the phantom before them (a twin: its nearest labelled slices are its twin's, so its
// anatomy is predicted clearly).
struct Archive {
  std::vector<std::filesystem::path> labelled, plain;
  std::vector<testing::Phantom> plain_truth;
};

Archive write_archive(const std::filesystem::path& dir, int count) {
  Archive out;
  for (int s = 0; s < count; ++s) {
    const auto folder = dir / fmt::format("p{:02d}", s);
    std::filesystem::create_directories(folder);
    const auto ph = testing::write_phantom(folder / "ct.nii.gz", s - s % 2);
    if (s % 2 == 1) {
      out.plain.push_back(ph.path);
      out.plain_truth.push_back(ph);
      continue;
    }
    const Volume ct = read_volume(ph.path);
    std::vector<float> mask(ct.hu().size(), 0.f);
    for (std::int64_t k = ph.organ0; k <= ph.organ1; ++k) {
      std::fill_n(mask.begin() + k * ct.slice_size(), ct.slice_size(), 1.f);
    }
    std::filesystem::create_directories(folder / "segmentations");
    write_nifti(Volume(ct.dims(), ct.spacing(), ct.affine(), std::move(mask), "RAS"),
                folder / "segmentations" / "liver.nii.gz");
    out.labelled.push_back(ph.path);
  }
  return out;
}

std::vector<VolumeSource> sources(const Archive& a, bool labelled) {
  std::vector<VolumeSource> out;
  for (const auto& p : labelled ? a.labelled : a.plain) {
    VolumeSource s;
    s.path = p;
    s.id = p.parent_path().filename().string();
    if (labelled) s.labels = p.parent_path() / "segmentations";
    out.push_back(std::move(s));
  }
  return out;
}

// The archive's labelled sources followed by its plain ones (all), and the plain ones alone.
struct ArchiveSources {
  std::vector<VolumeSource> all, plain;
};
ArchiveSources labelled_then_plain(const Archive& a) {
  ArchiveSources out{sources(a, true), sources(a, false)};
  out.all.insert(out.all.end(), out.plain.begin(), out.plain.end());
  return out;
}

BuildOptions flat() {
  BuildOptions o;
  o.index = IndexSpec::parse("faiss:Flat");
  o.embedding_cache.clear();
  return o;
}

std::size_t position(const Index& index, const std::string& id) {
  return static_cast<std::size_t>(index.find(id) - index.volumes().data());
}

TEST(StoredPrediction, IngestStoresWhatAQueryWouldPredict) {
  TempDir tmp;
  const auto archive = write_archive(tmp.path(), 10);
  const testing::FakeEmbedder embedder(8);
  const auto [all, plain] = labelled_then_plain(archive);
  const auto report = build_index(tmp / "index", all, embedder, flat());
  ASSERT_EQ(report.volumes_added, 10u);
  const auto index = Index::open(tmp / "index");
  EXPECT_EQ(index->num_predicted(), 5u);
  const AnatomyPredictor predictor(*index);
  EXPECT_EQ(predictor.labelled_volumes(), 5u);
  for (std::size_t v = 0; v < index->volumes().size(); ++v) {
    const auto& id = index->volumes()[v].id;
    SCOPED_TRACE(id);
    const auto stored = index->predicted(v);
    if (index->labels(v).presence_bytes > 0) {
      EXPECT_FALSE(stored.has_value()) << "a labelled volume keeps its labels only";
      continue;
    }
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->generation, index->generation());
    EXPECT_EQ(stored->labelled_volumes, 5);
    EXPECT_EQ(stored->options, PredictOptions{}.str());
    // Exactly the query-time prediction of the same volume in the same generation.
    const auto now = to_stored(predictor.predict_indexed(v), {}, index->generation(), 5);
    EXPECT_EQ(*stored, now);
    // The liver (organ block) is predicted where the twin has it, with its per-slice presence.
    const auto& truth = archive.plain_truth[static_cast<std::size_t>(std::stoi(id.substr(1)) / 2)];
    const auto liver = std::find_if(stored->extents.begin(), stored->extents.end(),
                                    [](const auto& e) { return e.name == "liver" && !e.coarse; });
    ASSERT_NE(liver, stored->extents.end());
    EXPECT_GE(eval::slice_iou(liver->slices, {truth.organ0, truth.organ1}), 0.6)
        << liver->slices[0] << ".." << liver->slices[1];
    EXPECT_GE(liver->confidence, 0.5);
    const int c = ClassCatalog::builtin().at("liver").index;
    const auto k = static_cast<std::size_t>(liver->slices[0]);
    EXPECT_TRUE((stored->classes[k * static_cast<std::size_t>(stored->class_bytes) + c / 8] >> (c % 8)) & 1);
  }

  // --no-predict stores nothing.
  BuildOptions none = flat();
  none.predict = false;
  (void)build_index(tmp / "plain", all, embedder, none);
  EXPECT_EQ(Index::open(tmp / "plain")->num_predicted(), 0u);
}

TEST(StoredPrediction, AddPredictsTheAddedVolumesAndPredictIndexRedoesAll) {
  TempDir tmp;
  const auto archive = write_archive(tmp.path(), 12);
  const testing::FakeEmbedder embedder(8);
  const auto labelled = sources(archive, true);
  const auto plain = sources(archive, false);
  // First 3 labelled and 3 plain volumes, then 3 more plain ones, then 3 more labelled ones.
  std::vector<VolumeSource> first(labelled.begin(), labelled.begin() + 3);
  first.insert(first.end(), plain.begin(), plain.begin() + 3);
  (void)build_index(tmp / "index", first, embedder, flat());
  const std::int64_t g1 = Index::open(tmp / "index")->generation();
  (void)add_to_index(tmp / "index", std::vector(plain.begin() + 3, plain.end()), embedder, flat());
  {
    const auto index = Index::open(tmp / "index");
    EXPECT_EQ(index->num_predicted(), 6u);
    EXPECT_EQ(index->predicted(position(*index, plain[0].id))->generation, g1);  // kept as it was
    EXPECT_EQ(index->predicted(position(*index, plain[4].id))->generation, index->generation());
  }
  (void)add_to_index(tmp / "index", std::vector(labelled.begin() + 3, labelled.end()), embedder,
                     flat());
  const auto before = Index::open(tmp / "index");
  // Adding labelled volumes leaves the stored predictions as they were (learnt from 3).
  EXPECT_EQ(before->predicted(position(*before, plain[5].id))->labelled_volumes, 3);
  const auto report = predict_index(tmp / "index");
  const auto after = Index::open(tmp / "index");
  EXPECT_EQ(report.generation, after->generation());
  EXPECT_EQ(after->num_predicted(), 6u);
  EXPECT_EQ(after->num_vectors(), before->num_vectors());
  const AnatomyPredictor predictor(*after);
  for (const auto& s : plain) {
    SCOPED_TRACE(s.id);
    const auto v = position(*after, s.id);
    const auto p = after->predicted(v);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->generation, after->generation());
    EXPECT_EQ(p->labelled_volumes, 6);
    EXPECT_EQ(*p, to_stored(predictor.predict_indexed(v), {}, after->generation(), 6));
  }
  // Removing a volume keeps the others' predictions.
  (void)remove_from_index(tmp / "index", plain[0].id);
  EXPECT_EQ(Index::open(tmp / "index")->num_predicted(), 5u);
}

TEST(StoredPrediction, AnIndexWithoutLabelsStoresNothingAndPredictIndexSaysWhy) {
  TempDir tmp;
  const auto archive = write_archive(tmp.path(), 4);
  const testing::FakeEmbedder embedder(8);
  (void)build_index(tmp / "index", sources(archive, false), embedder, flat());
  EXPECT_EQ(Index::open(tmp / "index")->num_predicted(), 0u);
  try {
    (void)predict_index(tmp / "index");
    FAIL() << "must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("has labels"), std::string::npos) << e.what();
  }
}

// A generation whose stored predictions are made up: search must answer from them, not predict.
PredictedAnatomy made_up(const IndexedVolume& v, std::string options,
                         std::vector<PredictedAnatomy::Extent> extents) {
  PredictedAnatomy p;
  p.generation = 1;
  p.labelled_volumes = 99;
  p.options = std::move(options);
  p.class_bytes = 1;
  p.classes.assign(static_cast<std::size_t>(v.num_slices), 0);
  p.region_bytes = 1;
  p.regions.assign(static_cast<std::size_t>(v.num_slices), 0);
  p.extents = std::move(extents);
  return p;
}

TEST(StoredPrediction, RequireAndResultRegionsUseTheStoredExtent) {
  TempDir tmp;
  const auto archive = write_archive(tmp.path(), 10);
  const testing::FakeEmbedder embedder(8);
  const auto [all, plain] = labelled_then_plain(archive);
  BuildOptions options = flat();
  options.predict = false;
  (void)build_index(tmp / "index", all, embedder, options);
  const std::string liar = plain[0].id, absent = plain[1].id, other = plain[2].id;
  WriteOptions write;
  write.predict = [&](const Index& index) {
    std::vector<std::pair<std::string, PredictedAnatomy>> out;
    out.emplace_back(liar, made_up(*index.find(liar), PredictOptions{}.str(),
                                   {{"liver", false, {1, 2}, 0.77}}));
    out.emplace_back(absent, made_up(*index.find(absent), PredictOptions{}.str(), {}));
    // Made with other knobs: not used by a default query, which predicts instead.
    out.emplace_back(other, made_up(*index.find(other), "k=3", {{"liver", false, {0, 0}, 0.6}}));
    return out;
  };
  (void)write_generation(tmp / "index", false, {}, {}, {}, {}, write);
  const auto index = Index::open(tmp / "index");
  ASSERT_EQ(index->num_predicted(), 3u);

  // Queried with the labelled twins of `liar` and of `other`, which then rank first.
  Query q;
  q.exclude_self = true;
  q.params.top = 20;
  q.params.require = "liver";
  std::vector<SearchResult> results;
  for (const std::size_t twin : {0u, 2u}) {
    q.indexed_id = archive.labelled[twin].parent_path().filename().string();
    const SearchAnswer a = search(*index, q);
    results.insert(results.end(), a.results.begin(), a.results.end());
  }
  bool saw_liar = false, saw_other = false;
  for (const auto& r : results) {
    SCOPED_TRACE(r.volume);
    EXPECT_NE(r.volume, absent) << "its stored prediction has no liver";
    if (r.volume == liar) {
      saw_liar = true;
      EXPECT_TRUE(r.region_predicted);
      EXPECT_EQ(r.region, (std::array<std::int64_t, 2>{1, 2}));
      EXPECT_DOUBLE_EQ(r.region_confidence, 0.77);
    }
    if (r.volume == other) {
      saw_other = true;
      EXPECT_TRUE(r.region_predicted);
      EXPECT_NE(r.region, (std::array<std::int64_t, 2>{0, 0})) << "predicted at query time";
    }
  }
  EXPECT_TRUE(saw_liar);
  EXPECT_TRUE(saw_other);

  // The region of an indexed query volume without labels comes from its stored prediction too.
  Query own;
  own.indexed_id = liar;
  own.region = "liver";
  const SearchAnswer b = search(*index, own);
  EXPECT_TRUE(b.query_region_predicted);
  EXPECT_EQ(b.query_slices, (std::array<std::int64_t, 2>{1, 2}));
  EXPECT_DOUBLE_EQ(b.query_region_confidence, 0.77);
  own.indexed_id = absent;
  try {
    (void)search(*index, own);
    FAIL() << "must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("predicted on no slice"), std::string::npos) << e.what();
  }
}

TEST(StoredPrediction, IndexesOfFormatVersion2PredictAtQueryTime) {
  TempDir tmp;
  const auto archive = write_archive(tmp.path(), 8);
  const testing::FakeEmbedder embedder(8);
  const auto [all, plain] = labelled_then_plain(archive);
  (void)build_index(tmp / "index", all, embedder, flat());
  Query q;
  q.indexed_id = all[0].id;
  q.exclude_self = true;
  q.params.top = 20;
  q.params.require = "liver";
  const SearchAnswer stored = search(*Index::open(tmp / "index"), q);
  // As format version 2 wrote it: no prediction tables.
  testing::rewrite_as_format(tmp / "index", 2, "DROP TABLE predicted; DROP TABLE predicted_extents");
  const auto old = Index::open(tmp / "index", {.verify_checksums = true});
  EXPECT_EQ(old->num_predicted(), 0u);
  EXPECT_FALSE(old->predicted(position(*old, plain[0].id)).has_value());
  // The same answer, predicted at query time.
  const SearchAnswer now = search(*old, q);
  ASSERT_EQ(now.results.size(), stored.results.size());
  for (std::size_t i = 0; i < now.results.size(); ++i) {
    EXPECT_EQ(now.results[i].volume, stored.results[i].volume);
    EXPECT_EQ(now.results[i].region, stored.results[i].region);
    EXPECT_EQ(now.results[i].region_predicted, stored.results[i].region_predicted);
  }
  // Re-predicting writes a version 3 generation with the predictions stored.
  (void)predict_index(tmp / "index");
  EXPECT_EQ(Index::open(tmp / "index")->num_predicted(), plain.size());
  std::ifstream in(index::current_generation(tmp / "index") / index::kManifestFile);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"format_version\": 3"), std::string::npos) << text;
}

TEST(StoredPrediction, AMalformedStoredPredictionIsReportedNamingTheCatalog) {
  TempDir tmp;
  const auto archive = write_archive(tmp.path(), 4);
  const testing::FakeEmbedder embedder(8);
  const auto [all, plain] = labelled_then_plain(archive);
  (void)build_index(tmp / "index", all, embedder, flat());
  const auto gen = index::current_generation(tmp / "index");
  const auto pristine = tmp / "pristine.sqlite";
  std::filesystem::copy_file(gen / index::kCatalogFile, pristine);
  struct Case {
    const char* sql;
    const char* says;
  };
  for (const Case& c : {Case{"UPDATE predicted SET classes = x'00'", "expected"},
                        Case{"UPDATE predicted_extents SET last = 100000", "slices"}}) {
    SCOPED_TRACE(c.sql);
    const auto broken = tmp / "broken.sqlite";
    std::filesystem::copy_file(pristine, broken, std::filesystem::copy_options::overwrite_existing);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(broken.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, c.sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    // Swapped into the generation with a manifest that vouches for it: only the rows are wrong.
    std::filesystem::copy_file(broken, gen / index::kCatalogFile,
                               std::filesystem::copy_options::overwrite_existing);
    const auto manifest_path = gen / index::kManifestFile;
    std::ifstream in(manifest_path);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto manifest = index::manifest_from_json(text, manifest_path);
    for (auto& f : manifest.files) {
      if (f.name != index::kCatalogFile) continue;
      f.bytes = std::filesystem::file_size(gen / f.name);
      f.crc32 = index::crc32_of_file(gen / f.name);
    }
    std::ofstream(manifest_path) << index::manifest_to_json(manifest);
    const auto index = Index::open(tmp / "index");
    try {
      (void)index->predicted(position(*index, plain[0].id));
      FAIL() << "must throw";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      EXPECT_NE(std::string(e.what()).find(index::kCatalogFile), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace voxir
