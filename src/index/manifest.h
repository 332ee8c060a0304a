// The manifest of an index generation (docs/index-format.md) and the folder's layout.
#pragma once

#include "voxir/index.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace voxir::index {

// Version 2 added per-slice content to the catalog; version 1 indexes still open (their slices
// all count as having content) and a write to them produces the current version. Version 3 added
// the anatomy predicted for volumes indexed without labels (tables `predicted`,
// `predicted_extents`); older indexes have none stored, so search predicts at query time. The
// same version added the labels source of each volume (catalog table labels_source); older
// indexes open with empty labels sources.
inline constexpr int kFormatVersion = 3;
inline constexpr int kOldestFormatVersion = 1;
inline constexpr const char* kCurrentFile = "CURRENT";
inline constexpr const char* kManifestFile = "manifest.json";
inline constexpr const char* kVectorsFile = "vectors.f32";
inline constexpr const char* kCatalogFile = "catalog.sqlite";
inline constexpr const char* kLockFile = "LOCK";
// In every generation folder: an open Index holds flock(LOCK_SH) on it; a writer deletes a
// generation only after taking flock(LOCK_EX | LOCK_NB) on it (docs/index-format.md, "Readers").
inline constexpr const char* kReadersFile = "READERS";
// Prefix of a generation folder being deleted: renamed first, so that no reader ever finds half of
// one, then removed (by the next write, when a crash interrupted the removal).
inline constexpr const char* kTrashPrefix = ".trash-";
// Largest embedding dimension a manifest may state (a sanity bound: real embedders stay far below).
inline constexpr int kMaxDim = 1 << 16;

struct FileEntry {
  std::string name;
  std::uint64_t bytes = 0;
  std::uint32_t crc32 = 0;
};

struct Manifest {
  int format_version = kFormatVersion;
  std::int64_t generation = 0;
  std::string created;  // UTC, ISO 8601
  EmbedderIdentity embedder;
  IndexSpec spec;
  std::string vector_dtype = "float32";
  std::int64_t num_volumes = 0;
  std::int64_t num_vectors = 0;
  std::vector<FileEntry> files;
};

// JSON text with a "checksum" member: the CRC-32 of the same JSON without that member.
[[nodiscard]] std::string manifest_to_json(const Manifest& manifest);
// Parses and checks the checksum, then that the content is usable: dimension in 1..kMaxDim,
// float32 vectors, at least one volume and no fewer vectors than volumes, and the listed size of
// vectors.f32 equal to vectors x dimension x 4. Throws Error(kInvalidInput) naming `file`
// otherwise (kUnsupported for a format version or dtype this build cannot read).
[[nodiscard]] Manifest manifest_from_json(const std::string& text,
                                          const std::filesystem::path& file);

[[nodiscard]] std::uint32_t crc32_of_file(const std::filesystem::path& path);
[[nodiscard]] std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t bytes);

[[nodiscard]] std::string generation_name(std::int64_t generation);
// The generation folder CURRENT points to; throws Error(kNotFound) when `dir` holds no index.
[[nodiscard]] std::filesystem::path current_generation(const std::filesystem::path& dir);

// A reader's registration on a generation: a shared flock on its READERS file, held while the
// object lives. Move-only.
class ReaderLock {
 public:
  ReaderLock() = default;
  ReaderLock(ReaderLock&& other) noexcept;
  ReaderLock& operator=(ReaderLock&& other) noexcept;
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;
  ~ReaderLock();

 private:
  friend ReaderLock lock_current_generation(const std::filesystem::path& dir,
                                            std::filesystem::path& gen_dir);
  int fd_ = -1;
};

// Reads CURRENT and registers as a reader of the generation it names (stored in `gen_dir`), so
// that no writer deletes it while the lock lives. When a writer switched and deleted that
// generation in between, reads CURRENT again. A generation without a READERS file (written
// by a voxir without reader registration) is returned unlocked. Throws like current_generation.
[[nodiscard]] ReaderLock lock_current_generation(const std::filesystem::path& dir,
                                                 std::filesystem::path& gen_dir);

// Creates the (empty) READERS file of a new generation folder.
void create_readers_file(const std::filesystem::path& gen_dir);

// Deletes every generation folder of `dir` except `keep` that no reader holds, and what earlier
// interrupted deletions left (trash folders, temporary files of CURRENT). Call under the write
// lock. A generation still held stays and is deleted by a later write. Never throws: a folder
// that cannot be deleted now is left for the next write.
void remove_unused_generations(const std::filesystem::path& dir, const std::string& keep);

}  // namespace voxir::index
