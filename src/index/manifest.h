// The manifest of an index generation (docs/index-format.md) and the folder's layout.
#pragma once

#include "voxir/index.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace voxir::index {

// Version 2 added per-slice content to the catalog; version 1 indexes still open (their slices
// all count as having content) and a write to them produces version 2.
inline constexpr int kFormatVersion = 2;
inline constexpr int kOldestFormatVersion = 1;
inline constexpr const char* kCurrentFile = "CURRENT";
inline constexpr const char* kManifestFile = "manifest.json";
inline constexpr const char* kVectorsFile = "vectors.f32";
inline constexpr const char* kCatalogFile = "catalog.sqlite";
inline constexpr const char* kLockFile = "LOCK";
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

}  // namespace voxir::index
