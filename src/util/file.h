// Whole-file reading and crash-safe writing, with errors that name the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace voxir {

// Reads a whole file. Throws Error(kNotFound) when it does not exist, kInvalidInput when it is a
// directory, kIo when reading fails.
[[nodiscard]] std::vector<std::uint8_t> read_file(const std::filesystem::path& path);

// Reads at most `max_bytes` from the start of a file (fewer when it is shorter).
[[nodiscard]] std::vector<std::uint8_t> read_file_prefix(const std::filesystem::path& path,
                                                         std::size_t max_bytes);

[[nodiscard]] std::string read_text_file(const std::filesystem::path& path);

// Writes `bytes` to a temporary file beside `path`, flushes it and renames it over `path`, so
// readers see the old file or the new one, never a partial one. With `sync` the data is flushed
// to disk before the rename (durable across power loss; costs a few ms per file). Throws
// Error(kIo).
void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                       bool sync = true);

}  // namespace voxir
