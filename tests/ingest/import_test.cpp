// voxir index import: vectors from .npy files become an index (or a new generation of one) that
// searches with precomputed query vectors; every bad file is refused before anything is written.
#include "testutil/npy_files.h"
#include "testutil/queries.h"
#include "testutil/temp_dir.h"
#include "testutil/vectors.h"
#include "voxir/error.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/search.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <random>

namespace voxir {
namespace {

using testing::TempDir;

constexpr int kDim = 16;

// A set of volumes as flat arrays, rows in a shuffled order (import must not depend on it).
struct Flat {
  std::vector<float> vectors;  // rows * kDim, not normalised (scaled by 3)
  std::vector<std::int64_t> volume_ids;
  std::vector<std::int32_t> slice_ids;
  std::vector<std::string> names;  // in increasing id order
};

// Volume v gets id 10 * (volumes - v) (so first appearance and id order differ) and name "p<v>".
Flat flatten(const std::vector<VolumeVectors>& set, std::uint32_t seed) {
  std::vector<std::pair<std::size_t, std::int64_t>> rows;  // (volume, slice)
  for (std::size_t v = 0; v < set.size(); ++v) {
    for (std::int64_t s = 0; s < set[v].volume.num_slices; ++s) rows.emplace_back(v, s);
  }
  std::shuffle(rows.begin(), rows.end(), std::mt19937(seed));
  Flat f;
  const auto id_of = [&](std::size_t v) {
    return static_cast<std::int64_t>(10 * (set.size() - v));
  };
  for (const auto& [v, s] : rows) {
    const auto* row = set[v].vectors.data() + s * kDim;
    for (int j = 0; j < kDim; ++j) f.vectors.push_back(3 * row[j]);
    f.volume_ids.push_back(id_of(v));
    f.slice_ids.push_back(static_cast<std::int32_t>(s));
  }
  for (std::size_t v = set.size(); v-- > 0;) f.names.push_back(fmt::format("p{}", v));
  return f;
}

ImportSource write_files(const TempDir& tmp, const Flat& f, const std::string& tag = "") {
  ImportSource s{tmp / ("vectors" + tag + ".npy"), tmp / ("ids" + tag + ".npy"),
                 tmp / ("slices" + tag + ".npy"), tmp / ("names" + tag + ".txt")};
  const auto rows = static_cast<std::int64_t>(f.volume_ids.size());
  testing::write_npy(s.vectors, testing::npy_f32(f.vectors, {rows, kDim}));
  testing::write_npy(s.volume_ids, testing::npy_i64(f.volume_ids));
  testing::write_npy(s.slice_ids, testing::npy_i32(f.slice_ids));
  std::ofstream names(s.names);
  for (const auto& n : f.names) names << n << '\n';
  return s;
}

ImportOptions flat_options() {
  return {.index = IndexSpec::parse("faiss:Flat")};
}

TEST(Import, BuildsAnIndexThatFindsTheRightVolumeFromQueryVectors) {
  TempDir tmp;
  const auto set = testing::clustered_set({.volumes = 8, .slices = 12, .dim = kDim});
  const Flat flat = flatten(set, 1);
  const ImportSource source = write_files(tmp, flat);
  const auto report = import_vectors(tmp / "index", source, flat_options());
  EXPECT_EQ(report.volumes_added, 8u);
  EXPECT_EQ(report.slices_added, 8 * 12);

  const auto index = Index::open(tmp / "index");
  EXPECT_EQ(index->embedder().spec, external_embedder_spec(kDim));
  EXPECT_EQ(index->embedder().spec, "external:16");
  EXPECT_EQ(index->dim(), kDim);
  EXPECT_EQ(index->spec(), IndexSpec::parse("faiss:Flat"));
  ASSERT_EQ(index->volumes().size(), 8u);
  // Increasing id order: id 10 is volume 7, named by the first line ("p7").
  EXPECT_EQ(index->volumes()[0].id, "p7");
  EXPECT_EQ(index->volumes()[7].id, "p0");
  for (std::size_t v = 0; v < set.size(); ++v) {
    const IndexedVolume* stored = index->find(fmt::format("p{}", v));
    ASSERT_NE(stored, nullptr) << v;
    EXPECT_EQ(stored->num_slices, 12);
    const auto position = static_cast<std::size_t>(stored - index->volumes().data());
    const auto got = index->volume_vectors(position);
    // The clustered set is L2-normalised; the file held 3x its rows, imported normalised again.
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], set[v].vectors[i], 1e-6) << "volume " << v << " value " << i;
    }
  }

  // Slices 3..8 of volume 5, perturbed, as a re-scan would give, through the .npy route.
  std::vector<float> q(set[5].vectors.begin() + 3 * kDim, set[5].vectors.begin() + 9 * kDim);
  testing::perturb(q, kDim, 0.2, 7);
  testing::write_npy(tmp / "q.npy", testing::npy_f32(q, {6, kDim}));
  const auto query_vectors = read_query_vectors(tmp / "q.npy", kDim);
  const auto answer = testing::search_vectors(*index, query_vectors, 0);
  ASSERT_FALSE(answer.results.empty());
  EXPECT_EQ(answer.results[0].volume, "p5");

  // An indexed volume works as a query; a volume path cannot be embedded for such an index.
  Query by_id;
  by_id.indexed_id = "p2";
  by_id.exclude_self = false;
  EXPECT_EQ(search(*index, by_id).results.at(0).volume, "p2");
  Query by_path;
  by_path.path = tmp / "some.nii.gz";
  try {
    (void)search(*index, by_path);
    FAIL() << "a path query on imported vectors ran";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("--query-vectors"), std::string::npos) << e.what();
  }
}

TEST(Import, WithoutNamesIdsAreTheNumbersAndFloat16Works) {
  TempDir tmp;
  const auto set = testing::clustered_set({.volumes = 3, .slices = 5, .dim = kDim});
  const Flat flat = flatten(set, 2);
  ImportSource source = write_files(tmp, flat);
  source.names.clear();
  // The same rows as float16 (exact for these values up to 2^-11 relative).
  std::vector<std::uint16_t> halves;
  for (const float x : flat.vectors) {
    // Round-to-nearest float -> half for normal values in range, enough for unit-scale data.
    const auto bits = std::bit_cast<std::uint32_t>(x);
    const std::uint32_t sign = (bits >> 16) & 0x8000u;
    const int exponent = static_cast<int>((bits >> 23) & 0xff) - 127 + 15;
    std::uint32_t h = sign;
    if (exponent > 0) h |= (static_cast<std::uint32_t>(exponent) << 10) | ((bits >> 13) & 0x3ffu);
    halves.push_back(static_cast<std::uint16_t>(h));
  }
  std::vector<std::uint8_t> data(halves.size() * 2);
  std::memcpy(data.data(), halves.data(), data.size());
  testing::write_npy(source.vectors,
                     {.descr = "<f2",
                      .shape = {static_cast<std::int64_t>(flat.volume_ids.size()), kDim},
                      .data = data});
  import_vectors(tmp / "index", source, flat_options());
  const auto index = Index::open(tmp / "index");
  ASSERT_EQ(index->volumes().size(), 3u);
  EXPECT_EQ(index->volumes()[0].id, "10");
  EXPECT_EQ(index->volumes()[2].id, "30");
  EXPECT_EQ(index->volumes()[2].metadata_json, "{\"external_id\":30}");
  const auto got = index->volume_vectors(2);  // id 30 is volume 0
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], set[0].vectors[i], 2e-3) << i;
}

TEST(Import, IntoAnExistingIndexAddsAGeneration) {
  TempDir tmp;
  const auto set = testing::clustered_set({.volumes = 6, .slices = 8, .dim = kDim});
  const std::vector<VolumeVectors> first(set.begin(), set.begin() + 4);
  const std::vector<VolumeVectors> second(set.begin() + 4, set.end());
  Flat a = flatten(first, 3);
  Flat b = flatten(second, 4);
  for (auto& id : b.volume_ids) id += 1000;
  for (auto& n : b.names) n = "more-" + n;
  import_vectors(tmp / "index", write_files(tmp, a, "a"), {});  // default spec
  const auto report = import_vectors(tmp / "index", write_files(tmp, b, "b"), {});
  EXPECT_EQ(report.generation, 2);
  const auto index = Index::open(tmp / "index");
  EXPECT_EQ(index->spec(), IndexSpec::parse(kDefaultIndexSpec));
  EXPECT_EQ(index->volumes().size(), 6u);
  EXPECT_EQ(index->num_vectors(), 6 * 8);
  EXPECT_NE(index->find("more-p1"), nullptr);
  EXPECT_NE(index->find("p3"), nullptr);
}

// What a must-fail case changes, and what its error must say.
struct BadCase {
  const char* what;
  std::function<void(const TempDir&, ImportSource&, ImportOptions&)> spoil;
  ErrorKind kind;
  std::string file;  // the file the message must name: "vectors", "ids", "slices", "names", "index"
  std::string says;
};

std::string named(const ImportSource& s, const TempDir& tmp, const std::string& which) {
  if (which == "vectors") return s.vectors.string();
  if (which == "ids") return s.volume_ids.string();
  if (which == "slices") return s.slice_ids.string();
  if (which == "names") return s.names.string();
  return (tmp / "index").string();
}

void write_vectors(const ImportSource& s, std::vector<float> values, std::int64_t rows) {
  testing::write_npy(s.vectors, testing::npy_f32(values, {rows, kDim}));
}

void run_bad_cases(bool into_existing) {
  const auto set = testing::clustered_set({.volumes = 3, .slices = 4, .dim = kDim});
  const Flat good = flatten(set, 5);
  const auto rows = static_cast<std::int64_t>(good.volume_ids.size());
  const std::vector<BadCase> cases = {
      {"vectors of int32",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         std::vector<std::int32_t> ints(static_cast<std::size_t>(rows * kDim), 1);
         auto raw = testing::npy_i32(ints);
         raw.shape = {rows, kDim};
         testing::write_npy(s.vectors, raw);
       },
       ErrorKind::kInvalidInput, "vectors", "dtype '<i4'"},
      {"vectors of float64",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         testing::write_npy(s.vectors, {.descr = "<f8",
                                        .shape = {rows, kDim},
                                        .data = std::vector<std::uint8_t>(rows * kDim * 8)});
       },
       ErrorKind::kUnsupported, "vectors", "'<f8'"},
      {"vectors in Fortran order",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         auto raw = testing::npy_f32(good.vectors, {rows, kDim});
         raw.fortran_order = true;
         testing::write_npy(s.vectors, raw);
       },
       ErrorKind::kUnsupported, "vectors", "Fortran"},
      {"vectors 1-d",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         testing::write_npy(s.vectors, testing::npy_f32(good.vectors, {rows * kDim}));
       },
       ErrorKind::kInvalidInput, "vectors", "2-d array"},
      {"vectors truncated",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         auto raw = testing::npy_f32(good.vectors, {rows, kDim});
         raw.data.resize(raw.data.size() - 4);
         testing::write_npy(s.vectors, raw);
       },
       ErrorKind::kInvalidInput, "vectors", "data bytes"},
      {"vectors with NaN",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         auto v = good.vectors;
         v[5 * kDim + 3] = std::numeric_limits<float>::quiet_NaN();
         write_vectors(s, v, rows);
       },
       ErrorKind::kInvalidInput, "vectors", "row 5"},
      {"vectors with infinity",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         auto v = good.vectors;
         v[2] = -std::numeric_limits<float>::infinity();
         write_vectors(s, v, rows);
       },
       ErrorKind::kInvalidInput, "vectors", "infinite"},
      {"a zero row",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         auto v = good.vectors;
         std::fill(v.begin() + kDim, v.begin() + 2 * kDim, 0.0f);
         write_vectors(s, v, rows);
       },
       ErrorKind::kInvalidInput, "vectors", "all zeros"},
      {"volume ids of float32",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         std::vector<float> ids(good.volume_ids.begin(), good.volume_ids.end());
         testing::write_npy(s.volume_ids, testing::npy_f32(ids, {rows}));
       },
       ErrorKind::kInvalidInput, "ids", "expected integers"},
      {"volume ids one short",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         std::vector<std::int64_t> ids(good.volume_ids.begin(), good.volume_ids.end() - 1);
         testing::write_npy(s.volume_ids, testing::npy_i64(ids));
       },
       ErrorKind::kInvalidInput, "ids", fmt::format("expected ({},)", rows)},
      {"slice numbers one long",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         auto slices = good.slice_ids;
         slices.push_back(0);
         testing::write_npy(s.slice_ids, testing::npy_i32(slices));
       },
       ErrorKind::kInvalidInput, "slices", "one per row"},
      {"duplicate (volume, slice)",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         auto slices = good.slice_ids;
         // Two rows of one volume with the same number; the volume then misses one.
         std::size_t other = 1;
         while (good.volume_ids[other] != good.volume_ids[0]) ++other;
         slices[other] = slices[0];
         testing::write_npy(s.slice_ids, testing::npy_i32(slices));
       },
       ErrorKind::kInvalidInput, "slices", "are both slice"},
      {"a gap in the slice numbers",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         auto slices = good.slice_ids;
         for (auto& x : slices) x *= 2;
         testing::write_npy(s.slice_ids, testing::npy_i32(slices));
       },
       ErrorKind::kInvalidInput, "slices", "numbered 0..3"},
      {"a negative slice number",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         auto slices = good.slice_ids;
         slices[4] = -1;
         testing::write_npy(s.slice_ids, testing::npy_i32(slices));
       },
       ErrorKind::kInvalidInput, "slices", "row 4: slice -1"},
      {"names one short",
       [&](const TempDir&, ImportSource& s, ImportOptions&) { std::ofstream(s.names) << "a\nb\n"; },
       ErrorKind::kInvalidInput, "names", "2 lines (expected 3"},
      {"a name twice",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         std::ofstream(s.names) << "a\nb\na\n";
       },
       ErrorKind::kInvalidInput, "names", "appears twice"},
      {"an empty name",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         std::ofstream(s.names) << "a\n\nc\n";
       },
       ErrorKind::kInvalidInput, "names", "line 2 is empty"},
      {"a missing file",
       [&](const TempDir&, ImportSource& s, ImportOptions&) {
         std::filesystem::remove(s.slice_ids);
       },
       ErrorKind::kNotFound, "slices", "no such file"},
      {"a spec that cannot hold the dimension",
       [&](const TempDir&, ImportSource&, ImportOptions& o) {
         o.index = IndexSpec::parse("faiss:IVF4,PQ5");
       },
       ErrorKind::kUsage, "vectors", "not divisible"},
  };
  for (const auto& c : cases) {
    TempDir tmp;
    ImportSource source = write_files(tmp, good);
    ImportOptions options = flat_options();
    std::int64_t generation = 0;
    if (into_existing) {
      // An index of other volumes (ids 1000+, other names) to import into.
      Flat other = good;
      for (auto& id : other.volume_ids) id += 1000;
      for (auto& n : other.names) n = "other-" + n;
      generation = import_vectors(tmp / "index", write_files(tmp, other, "0"), {}).generation;
      options = {};
      if (std::string(c.what).find("spec") != std::string::npos) continue;  // kept from the index
    }
    c.spoil(tmp, source, options);
    try {
      (void)import_vectors(tmp / "index", source, options);
      ADD_FAILURE() << c.what << ": imported";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_EQ(e.kind(), c.kind) << c.what << ": " << message;
      EXPECT_NE(message.find(named(source, tmp, c.file)), std::string::npos)
          << c.what << ": " << message;
      EXPECT_NE(message.find(c.says), std::string::npos) << c.what << ": " << message;
    }
    if (into_existing) {
      EXPECT_EQ(Index::open(tmp / "index")->generation(), generation) << c.what;
    } else {
      EXPECT_FALSE(std::filesystem::exists(tmp / "index")) << c.what << ": wrote something";
    }
  }
}

TEST(Import, MustFailIntoANewIndexAndWriteNothing) {
  run_bad_cases(false);
}
TEST(Import, MustFailIntoAnExistingIndexAndKeepIt) {
  run_bad_cases(true);
}

TEST(Import, MustFailWhenTheIndexDiffers) {
  TempDir tmp;
  const auto set = testing::clustered_set({.volumes = 3, .slices = 4, .dim = kDim});
  const ImportSource source = write_files(tmp, flatten(set, 6));
  const auto expect_refused = [&](const std::filesystem::path& dir, const ImportOptions& options,
                                  ErrorKind kind, const std::string& names,
                                  const std::string& says) {
    const auto before = Index::open(dir)->generation();
    try {
      (void)import_vectors(dir, source, options);
      ADD_FAILURE() << says << ": imported";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), kind) << e.what();
      EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
    EXPECT_EQ(Index::open(dir)->generation(), before);
  };

  // Another dimension.
  const auto narrow = testing::clustered_set({.volumes = 2, .slices = 4, .dim = 8});
  std::vector<float> rows = testing::all_rows(narrow);
  std::vector<std::int64_t> ids = {0, 0, 0, 0, 1, 1, 1, 1};
  std::vector<std::int32_t> slices = {0, 1, 2, 3, 0, 1, 2, 3};
  testing::write_npy(tmp / "v8.npy", testing::npy_f32(rows, {8, 8}));
  testing::write_npy(tmp / "i8.npy", testing::npy_i64(ids));
  testing::write_npy(tmp / "s8.npy", testing::npy_i32(slices));
  import_vectors(tmp / "narrow", {tmp / "v8.npy", tmp / "i8.npy", tmp / "s8.npy", {}}, {});
  expect_refused(tmp / "narrow", {}, ErrorKind::kInvalidInput, source.vectors.string(),
                 "16-d vectors, but the index holds 8-d");

  // An index of another embedder.
  write_generation(tmp / "builtin", true, IndexSpec::parse("faiss:Flat"),
                   {"builtin:tissue", "x", kDim},
                   testing::clustered_set({.volumes = 2, .dim = kDim}), {}, {});
  expect_refused(tmp / "builtin", {}, ErrorKind::kInvalidInput, (tmp / "builtin").string(),
                 "\"builtin:tissue\"");

  // Another spec, and ids already present.
  import_vectors(tmp / "flat", source, flat_options());
  expect_refused(tmp / "flat", {.index = IndexSpec::parse("hnswlib:M16")}, ErrorKind::kUsage,
                 (tmp / "flat").string(), "keeps that spec");
  expect_refused(tmp / "flat", {}, ErrorKind::kInvalidInput, source.names.string(),
                 "already in the index");
}

TEST(Import, QueryVectorsAreCheckedAndNormalised) {
  TempDir tmp;
  const std::vector<float> q = {3, 4, 0, 0, 0, 0, 0, 2};
  testing::write_npy(tmp / "q.npy", testing::npy_f32(q, {2, 4}));
  const auto got = read_query_vectors(tmp / "q.npy", 4);
  EXPECT_EQ(got, (std::vector<float>{0.6f, 0.8f, 0, 0, 0, 0, 0, 1}));
  const auto refused = [&](int dim, const char* says) {
    try {
      (void)read_query_vectors(tmp / "q.npy", dim);
      ADD_FAILURE() << says;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
      EXPECT_NE(std::string(e.what()).find((tmp / "q.npy").string()), std::string::npos);
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  };
  refused(8, "4-d query vectors, but the index holds 8-d");
  testing::write_npy(tmp / "q.npy", testing::npy_f32(q, {8}));
  refused(8, "2-d array");
}

}  // namespace
}  // namespace voxir
