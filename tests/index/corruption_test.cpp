// Issue 13, item 0: a damaged index generation is refused with kInvalidInput naming the file,
// never a crash and never a search over damaged data. What is found when (docs/index-format.md):
// manifest.json, the search structure and catalog.sqlite at every open; vectors.f32 (memory-
// mapped, for O(1) open) by its size at open and by its checksum only with verify_checksums
// (`voxir index info --verify`) and before any write copies it.
#include "index/manifest.h"
#include "testutil/temp_dir.h"
#include "testutil/vectors.h"
#include "voxir/error.h"
#include "voxir/index.h"

#include <faiss/IndexIVF.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedLists.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace voxir {
namespace {

using testing::TempDir;

const EmbedderIdentity kIdentity{"fake:vectors", "fake-vectors;v=1", 32};
constexpr int kVolumes = 40;
constexpr int kSlices = 20;  // 800 rows: enough to train IVF16 without Faiss's warning

std::vector<VolumeVectors> sample_set() {
  return testing::clustered_set({.volumes = kVolumes, .slices = kSlices});
}

// A generation of `spec` in `dir`; returns its folder.
std::filesystem::path write_index(const std::filesystem::path& dir, const std::string& spec) {
  write_generation(dir, true, IndexSpec::parse(spec), kIdentity, sample_set(), {}, {});
  return index::current_generation(dir);
}

std::string read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}

// Error kind and message of Index::open, or "opened".
struct Outcome {
  bool opened = false;
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
};

Outcome try_open(const std::filesystem::path& dir, bool verify) {
  try {
    (void)Index::open(dir, {.verify_checksums = verify});
    return {.opened = true, .kind = ErrorKind::kInternal, .message = "opened"};
  } catch (const Error& e) {
    return {.opened = false, .kind = e.kind(), .message = e.what()};
  }
}

// Asserts that `outcome` is a refusal of kind kInvalidInput that names `file`.
void expect_refused(const Outcome& outcome, const std::string& file) {
  EXPECT_FALSE(outcome.opened) << "a damaged " << file << " opened";
  EXPECT_EQ(outcome.kind, ErrorKind::kInvalidInput) << outcome.message;
  EXPECT_NE(outcome.message.find(file), std::string::npos) << outcome.message;
}

// Where in a file to damage: the offset of `length` bytes in a file of `size` bytes.
struct Place {
  const char* name;
  std::size_t (*at)(std::size_t size, std::size_t length);
};
const Place kPlaces[] = {
    {"start", [](std::size_t, std::size_t) -> std::size_t { return 0; }},
    {"header",
     [](std::size_t size, std::size_t length) { return std::min<std::size_t>(50, size - length); }},
    {"middle", [](std::size_t size, std::size_t length) { return (size - length) / 2; }},
    {"end", [](std::size_t size, std::size_t length) { return size - length; }},
};

// XORs `length` bytes (fewer if the file is shorter) with `mask`, so every one of them changes.
void damage(const std::filesystem::path& file, const Place& place, std::size_t length,
            std::uint8_t mask) {
  std::string bytes = read_bytes(file);
  ASSERT_FALSE(bytes.empty()) << file;
  length = std::min(length, bytes.size());
  const std::size_t at = place.at(bytes.size(), length);
  for (std::size_t i = at; i < at + length; ++i) bytes[i] = static_cast<char>(bytes[i] ^ mask);
  write_bytes(file, bytes);
}

TEST(Corruption, EveryFileOfAGenerationAtEveryOffset) {
  struct Damage {
    std::size_t length;
    std::uint8_t mask;
  };
  const Damage damages[] = {{1, 0xff}, {100, 0xa5}};
  for (const char* spec : {"hnswlib:M8,efc40", "faiss:IVF16,PQ8", "faiss:Flat"}) {
    TempDir pristine;
    const auto gen = write_index(pristine / "index", spec);
    const auto gen_name = gen.filename();
    std::vector<std::string> files{index::kManifestFile, index::kVectorsFile, index::kCatalogFile};
    for (const auto& entry : std::filesystem::directory_iterator(gen)) {
      const auto f = entry.path().filename().string();
      if (f.rfind("ann.", 0) == 0) files.push_back(f);
    }
    ASSERT_EQ(files.size(), std::string(spec) == "faiss:Flat" ? 3u : 4u) << spec;
    for (const auto& file : files) {
      for (const auto& place : kPlaces) {
        for (const auto& d : damages) {
          SCOPED_TRACE(fmt::format("{}: {} x{:02x} over {} bytes at its {}", spec, file, d.mask,
                                   d.length, place.name));
          TempDir tmp;
          std::filesystem::copy(pristine / "index", tmp / "index",
                                std::filesystem::copy_options::recursive);
          damage(tmp / "index" / gen_name / file, place, d.length, d.mask);
          if (file != index::kVectorsFile) {
            expect_refused(try_open(tmp / "index", /*verify=*/false), file);
            continue;
          }
          // vectors.f32 is mapped, not read, at open (O(1) open, by design): a same-size
          // change opens and is searched as stored. The full check finds it, and so does
          // any write, before it would copy the damage into a new generation.
          EXPECT_TRUE(try_open(tmp / "index", /*verify=*/false).opened);
          expect_refused(try_open(tmp / "index", /*verify=*/true), file);
          try {
            const auto more = testing::clustered_set({.volumes = 1, .slices = 5, .seed = 9});
            auto added = more;
            added[0].volume.id = "added";
            write_generation(tmp / "index", false, {}, {}, added, {}, {});
            ADD_FAILURE() << "a write copied damaged vectors";
          } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
            EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
          }
          EXPECT_EQ(index::current_generation(tmp / "index").filename(), gen_name);
        }
      }
    }
  }
}

TEST(Corruption, TruncatedOrExtendedFilesAreRefusedAtOpen) {
  for (const char* spec : {"hnswlib:M8,efc40", "faiss:IVF16,PQ8"}) {
    TempDir pristine;
    const auto gen = write_index(pristine / "index", spec);
    const bool hnsw = IndexSpec::parse(spec).type == IndexSpec::Type::kHnsw;
    for (const std::string file :
         {index::kVectorsFile, index::kCatalogFile, hnsw ? "ann.hnsw" : "ann.faiss"}) {
      for (const long delta : {-1L, -100L, 1L}) {
        SCOPED_TRACE(fmt::format("{}: {} {:+} bytes", spec, file, delta));
        TempDir tmp;
        std::filesystem::copy(pristine / "index", tmp / "index",
                              std::filesystem::copy_options::recursive);
        const auto path = tmp / "index" / gen.filename() / file;
        std::filesystem::resize_file(
            path, static_cast<std::uintmax_t>(static_cast<long>(std::filesystem::file_size(path)) +
                                              delta));
        expect_refused(try_open(tmp / "index", false), file);
      }
    }
  }
}

// Rewrites the manifest of `gen` after `edit`, with every file's size and checksum recomputed:
// a file that is wrong although its checksum matches (another writer, a bug, a crafted file).
void reseal(const std::filesystem::path& gen,
            const std::function<void(index::Manifest&)>& edit = {}) {
  const auto path = gen / index::kManifestFile;
  auto manifest = index::manifest_from_json(read_bytes(path), path);
  for (auto& f : manifest.files) {
    f.bytes = std::filesystem::file_size(gen / f.name);
    f.crc32 = index::crc32_of_file(gen / f.name);
  }
  if (edit) edit(manifest);
  write_bytes(path, index::manifest_to_json(manifest));
}

template <typename T>
void poke(const std::filesystem::path& file, std::size_t offset, T value) {
  std::string bytes = read_bytes(file);
  ASSERT_LE(offset + sizeof(T), bytes.size());
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
  write_bytes(file, bytes);
}

template <typename T>
T peek(const std::filesystem::path& file, std::size_t offset) {
  const std::string bytes = read_bytes(file);
  T value{};
  if (offset + sizeof(T) <= bytes.size()) std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// hnswlib 0.6's layout (src/index/hnsw_ann.cpp): a 96-byte header, then per element a level-0
// block of 4 + 2M * 4 link bytes, the vector and an 8-byte label.
constexpr std::size_t kHnswHeader = 96;
constexpr std::size_t kM = 8;
constexpr std::size_t kLevel0 = 4 + 2 * kM * 4;
constexpr std::size_t kElement = kLevel0 + 32 * 4 + 8;

struct ConsistentCase {
  const char* what;
  const char* spec;
  const char* file;     // the file the error must name
  const char* message;  // and a part of what it must say
  std::function<void(const std::filesystem::path& gen)> make;
};

TEST(Corruption, FilesWithMatchingChecksumsAreCheckedAgainstTheManifest) {
  const std::uint64_t rows = kVolumes * kSlices;
  const ConsistentCase cases[] = {
      {"graph counts one element less", "hnswlib:M8,efc40", "ann.hnsw", "holds 799 vectors",
       [](const auto& gen) { poke<std::uint64_t>(gen / "ann.hnsw", 16, rows - 1); }},
      {"graph element size", "hnswlib:M8,efc40", "ann.hnsw", "element layout",
       [](const auto& gen) { poke<std::uint64_t>(gen / "ann.hnsw", 24, kElement + 4); }},
      {"graph entry point out of range", "hnswlib:M8,efc40", "ann.hnsw", "entry point",
       [](const auto& gen) { poke<std::uint32_t>(gen / "ann.hnsw", 52, 5000); }},
      {"graph link to a missing element", "hnswlib:M8,efc40", "ann.hnsw", "links to element",
       [](const auto& gen) {
         const auto file = gen / "ann.hnsw";
         ASSERT_GT(peek<std::uint32_t>(file, kHnswHeader), 0u);  // element 0 has links
         poke<std::uint32_t>(file, kHnswHeader + 4, 1000000);
       }},
      {"graph link count above 2M", "hnswlib:M8,efc40", "ann.hnsw", "link header",
       [](const auto& gen) { poke<std::uint32_t>(gen / "ann.hnsw", kHnswHeader + kElement, 17); }},
      {"graph label outside the rows", "hnswlib:M8,efc40", "ann.hnsw", "label",
       [](const auto& gen) {
         poke<std::uint64_t>(gen / "ann.hnsw", kHnswHeader + 3 * kElement + kElement - 8, rows);
       }},
      {"graph with a byte appended", "hnswlib:M8,efc40", "ann.hnsw", "ends at byte",
       [](const auto& gen) { write_bytes(gen / "ann.hnsw", read_bytes(gen / "ann.hnsw") + "x"); }},
      {"graph of another M", "hnswlib:M8,efc40", "ann.hnsw", "M 16",
       [](const auto& gen) {
         TempDir other;
         const auto source = write_index(other / "index", "hnswlib:M16,efc40");
         std::filesystem::copy_file(source / "ann.hnsw", gen / "ann.hnsw",
                                    std::filesystem::copy_options::overwrite_existing);
       }},
      {"IVF file of another spec", "faiss:IVF16,PQ8", "ann.faiss", "IVF8",
       [](const auto& gen) {
         TempDir other;
         const auto source = write_index(other / "index", "faiss:IVF8,PQ8");
         std::filesystem::copy_file(source / "ann.faiss", gen / "ann.faiss",
                                    std::filesystem::copy_options::overwrite_existing);
       }},
      {"IVF list holding a row outside the index", "faiss:IVF16,PQ8", "ann.faiss", "holds row",
       [](const auto& gen) {
         const auto file = gen / "ann.faiss";
         std::unique_ptr<faiss::Index> index(faiss::read_index(file.c_str()));
         auto* ivf = dynamic_cast<faiss::IndexIVF*>(index.get());
         ASSERT_NE(ivf, nullptr);
         auto* lists = dynamic_cast<faiss::ArrayInvertedLists*>(ivf->invlists);
         ASSERT_NE(lists, nullptr);
         std::size_t l = 0;
         while (lists->ids[l].empty()) ++l;
         lists->ids[l][0] = 123456;
         faiss::write_index(index.get(), file.c_str());
       }},
      {"catalog volume one slice longer", "faiss:Flat", "catalog.sqlite", "volume v0004",
       [](const auto& gen) {
         sqlite3* db = nullptr;
         ASSERT_EQ(sqlite3_open((gen / "catalog.sqlite").c_str(), &db), SQLITE_OK);
         EXPECT_EQ(sqlite3_exec(db, "UPDATE volumes SET num_slices = num_slices + 1 WHERE pos = 3",
                                nullptr, nullptr, nullptr),
                   SQLITE_OK);
         sqlite3_close(db);
       }},
      {"catalog that is not SQLite", "faiss:Flat", "catalog.sqlite", "catalog",
       [](const auto& gen) { write_bytes(gen / "catalog.sqlite", std::string(4096, 'x')); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    TempDir tmp;
    const auto gen = write_index(tmp / "index", c.spec);
    c.make(gen);
    reseal(gen);
    const auto outcome = try_open(tmp / "index", false);
    expect_refused(outcome, c.file);
    EXPECT_NE(outcome.message.find(c.message), std::string::npos) << outcome.message;
  }
}

TEST(Corruption, ManifestsWithMatchingChecksumsAreCheckedToo) {
  struct Case {
    const char* what;
    const char* file;  // the file the error names
    const char* message;
    std::function<void(index::Manifest&)> edit;
  };
  const Case cases[] = {
      {"one vector more", "manifest.json", "vectors.f32 is listed with",
       [](index::Manifest& m) { m.num_vectors += 1; }},
      {"one volume more", "catalog.sqlite", "holds 40 volumes, the manifest says 41",
       [](index::Manifest& m) { m.num_volumes += 1; }},
      {"no volumes", "manifest.json", "counts 0 volumes",
       [](index::Manifest& m) { m.num_volumes = 0; }},
      {"dimension 0", "manifest.json", "dimension 0",
       [](index::Manifest& m) { m.embedder.dim = 0; }},
      {"the graph not listed", "manifest.json", "lists the files",
       [](index::Manifest& m) {
         std::erase_if(m.files, [](auto& f) { return f.name == "ann.hnsw"; });
       }},
      {"a file outside the generation", "manifest.json", "lists the files",
       [](index::Manifest& m) {
         m.files.push_back({"../../etc/passwd", 1, 0});
       }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    TempDir tmp;
    const auto gen = write_index(tmp / "index", "hnswlib:M8,efc40");
    reseal(gen, c.edit);
    const auto outcome = try_open(tmp / "index", false);
    expect_refused(outcome, c.file);
    EXPECT_NE(outcome.message.find(c.message), std::string::npos) << outcome.message;
  }
}

}  // namespace
}  // namespace voxir
