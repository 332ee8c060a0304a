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

// Writes `bytes` to a new temporary file beside `path` (".<name>.XXXXXX", a unique name made by
// mkstemp, so threads and processes writing the same path never share one), then renames it over
// `path`: readers see the old file or the new one, never a partial one, and the last rename wins.
// With `sync` (durable across a crash or power loss): the file is fsynced before the rename and
// the folder after it, so once this returns the new content survives a crash; costs a few ms.
// Without it the rename is still atomic for readers, but a crash may lose the new file (a cache
// can afford that). A crash before the rename can leave the temporary file behind (see
// atomic_temp_prefix). Throws Error(kIo) naming the file; the temporary file is then removed.
void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                       bool sync = true);

// The prefix of the temporary names write_file_atomic uses for `path` (".<name>."): whoever
// owns the folder may delete such leftovers when no write can be running (e.g. under a lock).
[[nodiscard]] std::string atomic_temp_prefix(const std::filesystem::path& path);

// fsync of a file or of a folder (the folder's entries: files created, renamed or removed in it).
// Throws Error(kIo) naming the path.
void sync_file(const std::filesystem::path& path);
void sync_directory(const std::filesystem::path& dir);

}  // namespace voxir
