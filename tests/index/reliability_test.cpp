// Issue 13, items 3 and 4. Item 3: exceptions of the libraries voxir calls (Faiss, nlohmann-json,
// std::filesystem, libtorch, std::bad_alloc) arrive as voxir::Error naming the file and the
// cause, and an index build skips (or, strict, fails on) a volume that fails. Item 4: atomic
// writes with unique temporary names, a concurrent embedding cache, and generations deleted only
// when no reader holds them. The kill -9 test of whole writes is tests/crash/crash_test.sh.
#include "embed/model_sidecar.h"
#include "index/manifest.h"
#include "testutil/fake_embedder.h"
#include "testutil/phantoms.h"
#include "testutil/temp_dir.h"
#include "testutil/vectors.h"
#include "util/exceptions.h"
#include "util/file.h"
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/index.h"
#include "voxir/ingest.h"

#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace voxir {
namespace {

using testing::TempDir;

const EmbedderIdentity kIdentity{"fake:vectors", "fake-vectors;v=1", 32};

// Kind and message of the Error `fn` throws; fails the test when it throws something else.
struct Thrown {
  bool threw = false;
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
};

Thrown error_of(const std::function<void()>& fn) {
  Thrown t;
  try {
    fn();
  } catch (const Error& e) {
    t = {true, e.kind(), e.what()};
  } catch (const std::exception& e) {
    ADD_FAILURE() << "escaped as " << typeid(e).name() << ": " << e.what();
  }
  return t;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// --- Item 3: translation --------------------------------------------------------------------

TEST(TranslateExceptions, EachLibraryExceptionBecomesAnErrorNamingFileAndCause) {
  const std::filesystem::path file = "/data/x/ann.faiss";
  struct Case {
    const char* name;
    std::function<void()> thrower;
    ErrorKind kind;
    std::string cause;  // part of the message besides the file and "doing"
  };
  const std::vector<Case> cases = {
      {"faiss", [] { throw faiss::FaissException("Index type 0x46 not recognized"); },
       ErrorKind::kInvalidInput, "Index type 0x46 not recognized"},
      {"json parse",
       [] { [[maybe_unused]] const auto j = nlohmann::json::parse("{\"a\": "); },
       ErrorKind::kInvalidInput, "parse error"},
      {"json type", [] { (void)nlohmann::json::parse("{\"a\": 1}").at("a").get<std::string>(); },
       ErrorKind::kInvalidInput, "type must be string"},
      {"filesystem ENOENT",
       [] { std::filesystem::directory_iterator it("/nonexistent/voxir/labels"); },
       ErrorKind::kNotFound, "/nonexistent/voxir/labels"},
      {"filesystem EACCES",
       [] {
         throw std::filesystem::filesystem_error(
             "cannot open", "/data/x/segmentations",
             std::make_error_code(std::errc::permission_denied));
       },
       ErrorKind::kIo, "Permission denied (/data/x/segmentations)"},
      {"bad_alloc", [] { throw std::bad_alloc(); }, ErrorKind::kIo, "out of memory"},
      {"multi-line (libtorch's backtrace)",
       [] { throw std::runtime_error("shape mismatch\nException raised from at::foo"); },
       ErrorKind::kInvalidInput, "shape mismatch"},
      {"voxir::Error passes unchanged",
       [] { fail(ErrorKind::kUnsupported, "kept as it is"); }, ErrorKind::kUnsupported,
       "kept as it is"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Thrown t = error_of(
        [&] { translate_exceptions(file, "reading", ErrorKind::kInvalidInput, c.thrower); });
    ASSERT_TRUE(t.threw);
    EXPECT_EQ(t.kind, c.kind);
    EXPECT_TRUE(contains(t.message, c.cause)) << t.message;
    EXPECT_FALSE(contains(t.message, "Exception raised from")) << t.message;
    if (c.kind != ErrorKind::kUnsupported) {
      EXPECT_TRUE(contains(t.message, file.string() + ": reading: ")) << t.message;
    }
  }
}

// A sidecar whose fields have the wrong JSON type made nlohmann throw type_error past the parser.
TEST(TranslateExceptions, SidecarWithWrongFieldTypesIsInvalidInput) {
  for (const std::string text :
       {R"({"format": 5})", R"({"format": "voxir-model/1", "name": 3})", "{\"format\": ",
        R"([1, 2])"}) {
    SCOPED_TRACE(text);
    const Thrown t = error_of([&] { (void)embed::parse_sidecar(text, "/m/model.pt.json"); });
    ASSERT_TRUE(t.threw);
    EXPECT_EQ(t.kind, ErrorKind::kInvalidInput);
    EXPECT_TRUE(contains(t.message, "/m/model.pt.json")) << t.message;
  }
}

// A Flat generation whose manifest is rewritten to say IVF-PQ, listing `ann.faiss` with the
// size and CRC of whatever file is put there: only the file's content is wrong. (No IVF-PQ is
// trained: that takes seconds.)
void claim_ivfpq(const std::filesystem::path& gen) {
  const auto path = gen / index::kManifestFile;
  auto m = index::manifest_from_json(read_text_file(path), path);
  m.spec = IndexSpec::parse("faiss:IVF16,PQ8");
  m.files.push_back({"ann.faiss", std::filesystem::file_size(gen / "ann.faiss"),
                     index::crc32_of_file(gen / "ann.faiss")});
  const auto text = index::manifest_to_json(m);
  write_file_atomic(path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

TEST(TranslateExceptions, FaissFileOfTheWrongTypeNamesTheFile) {
  for (const bool other_type : {true, false}) {
    SCOPED_TRACE(other_type ? "a Flat Faiss index" : "not a Faiss file");
    TempDir tmp;
    const auto dir = tmp / "index";
    write_generation(dir, true, IndexSpec::parse("faiss:Flat"), kIdentity,
                     testing::clustered_set({.volumes = 4, .slices = 10}), {}, {});
    const auto gen = index::current_generation(dir);
    if (other_type) {
      faiss::IndexFlatIP flat(kIdentity.dim);
      faiss::write_index(&flat, (gen / "ann.faiss").c_str());
    } else {
      const std::string junk = "this is not a faiss index";
      write_file_atomic(gen / "ann.faiss",
                        {reinterpret_cast<const std::uint8_t*>(junk.data()), junk.size()});
    }
    claim_ivfpq(gen);
    const Thrown t = error_of([&] { (void)Index::open(dir); });
    ASSERT_TRUE(t.threw);
    EXPECT_EQ(t.kind, ErrorKind::kInvalidInput);
    EXPECT_TRUE(contains(t.message, (gen / "ann.faiss").string())) << t.message;
  }
}

// The fake embedder, failing as a library would for some volumes.
class FailingEmbedder final : public Embedder {
 public:
  explicit FailingEmbedder(std::function<void(const Volume&)> fail_for)
      : fail_for_(std::move(fail_for)) {}
  [[nodiscard]] std::string spec() const override { return inner_.spec(); }
  [[nodiscard]] std::string fingerprint() const override { return inner_.fingerprint(); }
  [[nodiscard]] int dim() const override { return inner_.dim(); }
  void embed(const Volume& volume, std::int64_t k0, std::int64_t k1,
             std::span<float> out) const override {
    fail_for_(volume);
    inner_.embed(volume, k0, k1, out);
  }

 private:
  testing::FakeEmbedder inner_{8};
  std::function<void(const Volume&)> fail_for_;
};

struct Collection {
  std::vector<std::filesystem::path> paths;
  std::vector<std::uint64_t> hashes;  // volume_content_hash of each
};

Collection write_collection(const TempDir& tmp, int n) {
  Collection c;
  for (int s = 0; s < n; ++s) {
    c.paths.push_back(tmp / fmt::format("p{}.nii.gz", s));
    testing::write_phantom(c.paths.back(), s);
    c.hashes.push_back(volume_content_hash(read_volume(c.paths.back())));
  }
  return c;
}

TEST(BuildSkips, VolumesThatFailToReadOrEmbedAreListedWithTheirCause) {
  TempDir tmp;
  auto c = write_collection(tmp, 4);
  // p1: the embedder throws like libtorch; p2: runs out of memory; p4: not a volume at all.
  const FailingEmbedder embedder([&](const Volume& volume) {
    const auto hash = volume_content_hash(volume);
    if (hash == c.hashes[1]) throw std::runtime_error("c10::Error: CUDA out of memory\nbacktrace");
    if (hash == c.hashes[2]) throw std::bad_alloc();
  });
  c.paths.push_back(tmp / "p4.nii.gz");
  write_file_atomic(c.paths.back(), std::vector<std::uint8_t>(100, 7));

  BuildOptions options;
  options.embedding_cache.clear();
  options.index = IndexSpec::parse("faiss:Flat");
  const auto sources = sources_from_paths(c.paths);
  const auto report = build_index(tmp / "index", sources, embedder, options);
  EXPECT_EQ(report.volumes_added, 2u);
  ASSERT_EQ(report.skipped.size(), 3u);
  EXPECT_EQ(report.skipped[0].first, c.paths[1].string());
  EXPECT_TRUE(contains(report.skipped[0].second, "CUDA out of memory")) << report.skipped[0].second;
  EXPECT_TRUE(contains(report.skipped[1].second, "out of memory")) << report.skipped[1].second;
  EXPECT_TRUE(contains(report.skipped[1].second, c.paths[2].string())) << report.skipped[1].second;
  EXPECT_EQ(report.skipped[2].first, c.paths[4].string());
  const auto index = Index::open(tmp / "index");
  ASSERT_EQ(index->volumes().size(), 2u);
  EXPECT_EQ(index->volumes()[0].id, "p0");
  EXPECT_EQ(index->volumes()[1].id, "p3");

  // Strict: the first failure fails the call, with its kind and path, and nothing is written.
  options.strict = true;
  const Thrown strict = error_of([&] { (void)add_to_index(tmp / "index", sources, embedder, options); });
  ASSERT_TRUE(strict.threw);
  EXPECT_EQ(strict.kind, ErrorKind::kInvalidInput);
  EXPECT_TRUE(contains(strict.message, c.paths[1].string())) << strict.message;
  EXPECT_EQ(Index::open(tmp / "index")->generation(), index->generation());

  // Nothing indexable: fails with the kind of the first failure.
  options.strict = false;
  const std::vector<VolumeSource> bad(sources.begin() + 1, sources.begin() + 3);
  const Thrown none = error_of([&] { (void)build_index(tmp / "other", bad, embedder, options); });
  ASSERT_TRUE(none.threw);
  EXPECT_EQ(none.kind, ErrorKind::kInvalidInput);
  EXPECT_TRUE(contains(none.message, "no volume could be indexed")) << none.message;
}

// nlohmann-json's dump() throws on invalid UTF-8: a meta.csv in Latin-1 made naming the sources
// of a dataset escape as an internal error.
TEST(BuildSkips, DatasetMetadataInLatin1IsKept) {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "ds" / "s0001");
  testing::write_phantom(tmp / "ds" / "s0001" / "ct.nii.gz", 1);
  const std::string meta = "image_id;institute;split\ns0001;H\xf4pital Nord;train\n";
  write_file_atomic(tmp / "ds" / "meta.csv",
                    {reinterpret_cast<const std::uint8_t*>(meta.data()), meta.size()});
  const std::vector<std::filesystem::path> paths{tmp / "ds"};
  const auto sources = sources_from_paths(paths);
  ASSERT_EQ(sources.size(), 1u);
  const auto j = nlohmann::json::parse(sources[0].metadata_json);
  EXPECT_TRUE(contains(j.at("institute").get<std::string>(), "pital Nord")) << j.dump();
}

// --- Item 4: crash and concurrency safety -------------------------------------------------

// Threads of one process replacing one file: with a temporary name per process (round 1) they
// wrote into each other's temporary file and renamed torn or missing files.
TEST(WriteFileAtomic, ConcurrentWritersAndReadersSeeWholeFilesOnly) {
  TempDir tmp;
  const auto path = tmp / "shared.bin";
  constexpr int kWriters = 6, kRounds = 40;
  constexpr std::size_t kBytes = 256 * 1024;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, failures{0}, reads{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int r = 0; r < kRounds; ++r) {
        const std::vector<std::uint8_t> bytes(kBytes, static_cast<std::uint8_t>(w * kRounds + r));
        try {
          write_file_atomic(path, bytes, /*sync=*/false);
        } catch (const Error&) {
          ++failures;
        }
      }
    });
  }
  std::thread reader([&] {
    while (!done) {
      std::vector<std::uint8_t> bytes;
      try {
        bytes = read_file(path);
      } catch (const Error&) {
        continue;  // not written yet
      }
      ++reads;
      if (bytes.size() != kBytes ||
          std::count(bytes.begin(), bytes.end(), bytes.front()) != static_cast<long>(kBytes)) {
        ++torn;
      }
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(torn, 0) << "of " << reads << " reads";
  // No temporary file is left behind.
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path()))
    names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"shared.bin"});
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::others_read);
}

TEST(EmbeddingCache, ConcurrentWritersOfOneEntryAgree) {
  TempDir tmp;
  const auto ct = tmp / "p.nii.gz";
  testing::write_phantom(ct, 3);
  const Volume volume = read_volume(ct);
  const testing::FakeEmbedder embedder(8);
  const auto expected = embedder.embed_all(volume);
  std::atomic<int> wrong{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int r = 0; r < 5; ++r) {
        EmbeddingCache cache(tmp / "cache");  // one object per writer, as separate processes
        try {
          if (cache.embed_all(embedder, volume) != expected) ++wrong;
        } catch (const Error&) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(failures, 0);
  EmbeddingCache cache(tmp / "cache");
  EXPECT_EQ(cache.embed_all(embedder, volume), expected);
  EXPECT_EQ(cache.stats().hits, 1);
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp / "cache")) {
    EXPECT_EQ(e.path().extension(), ".emb") << e.path();  // no temporary file left
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

std::vector<std::string> generations(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.rfind("gen-", 0) == 0) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> ids_of(const Index& index) {
  std::vector<std::string> ids;
  for (const auto& v : index.volumes()) ids.push_back(v.id);
  return ids;
}

// An open Index keeps its generation on disk (so its catalog and files stay readable) until it is
// closed; the first write after that deletes it.
TEST(Generations, AreDeletedOnlyWhenNoReaderHoldsThem) {
  TempDir tmp;
  const auto dir = tmp / "index";
  auto set = testing::clustered_set({.volumes = 6, .slices = 10});
  const std::vector<VolumeVectors> first(set.begin(), set.begin() + 4);
  write_generation(dir, true, IndexSpec::parse("hnswlib:M8"), kIdentity, first, {}, {});
  auto reader = Index::open(dir);
  ASSERT_EQ(reader->generation(), 1);

  write_generation(dir, false, {}, {}, {set[4]}, {}, {});
  EXPECT_EQ(generations(dir), (std::vector<std::string>{"gen-000001", "gen-000002"}));
  // The old reader still reads its generation (catalog rows, labels) and searches it.
  EXPECT_EQ(ids_of(*reader), (std::vector<std::string>{"v0000", "v0001", "v0002", "v0003"}));
  EXPECT_NO_THROW((void)reader->labels(3));
  std::vector<std::int64_t> ids(1);
  std::vector<float> sims(1);
  reader->search(reader->volume_vectors(2).subspan(0, 32), 1, 1, {}, ids, sims);
  EXPECT_EQ(ids[0], reader->volumes()[2].first_row);
  // A new reader sees the new generation.
  EXPECT_EQ(Index::open(dir)->generation(), 2);

  reader.reset();
  write_generation(dir, false, {}, {}, {set[5]}, {}, {});
  EXPECT_EQ(generations(dir), std::vector<std::string>{"gen-000003"});
}

// Readers opening while a writer switches and deletes generations: each open finds a whole
// generation (the old or the new one), never one deleted under it.
TEST(Generations, OpensDuringWritesAlwaysFindAWholeGeneration) {
  TempDir tmp;
  const auto dir = tmp / "index";
  auto set = testing::clustered_set({.volumes = 5, .slices = 10});
  write_generation(dir, true, IndexSpec::parse("faiss:Flat"), kIdentity,
                   {set.begin(), set.begin() + 4}, {}, {});
  std::atomic<bool> done{false};
  std::atomic<int> opens{0};
  std::vector<std::string> failures;
  std::thread reader([&] {
    while (!done) {
      try {
        const auto index = Index::open(dir, {.verify_checksums = true});
        const auto n = index->volumes().size();
        if (n != 4 && n != 5) failures.push_back(fmt::format("{} volumes", n));
        ++opens;
      } catch (const Error& e) {
        failures.emplace_back(e.what());
      }
    }
  });
  const std::vector<std::string> last{set[4].volume.id};
  for (int round = 0; round < 25; ++round) {
    write_generation(dir, false, {}, {}, {set[4]}, {}, {});
    write_generation(dir, false, {}, {}, {}, last, {});
  }
  done = true;
  reader.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << opens + failures.size()
                                << " opens failed, first: " << failures.front();
  EXPECT_GT(opens, 0);
}

// What a kill can leave: a temporary CURRENT, a half-deleted generation, a half-written one.
TEST(Generations, LeftoversOfAnInterruptedWriteAreRemovedByTheNextOne) {
  TempDir tmp;
  const auto dir = tmp / "index";
  auto set = testing::clustered_set({.volumes = 3, .slices = 10});
  // Before the first generation exists: the build must still accept the folder.
  std::filesystem::create_directories(dir / ".trash-gen-000007");
  std::filesystem::create_directories(dir / "gen-000009");
  write_file_atomic(dir / ".CURRENT.a1b2c3", std::vector<std::uint8_t>{'x'});
  write_file_atomic(dir / index::kLockFile, {});
  write_generation(dir, true, IndexSpec::parse("faiss:Flat"), kIdentity, {set[0], set[1]}, {}, {});
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"CURRENT", "LOCK", "gen-000010"}));
  const auto index = Index::open(dir, {.verify_checksums = true});
  EXPECT_EQ(ids_of(*index), (std::vector<std::string>{"v0000", "v0001"}));
}

}  // namespace
}  // namespace voxir
