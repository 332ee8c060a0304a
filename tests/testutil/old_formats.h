// Indexes as older format versions wrote them, for the tests that check those still open.
#pragma once

#include <filesystem>
#include <string>

namespace voxir::testing {

// Rewrites the current generation of the index in `dir` as format version `version` wrote it:
// runs `drop_sql` on its catalog (e.g. "DROP TABLE content", removing the tables that version
// lacked), sets the manifest's format_version and records the catalog's new size and checksum,
// so the manifest's own checks still pass. Fails the running test (gtest) when SQLite does.
void rewrite_as_format(const std::filesystem::path& dir, int version, const std::string& drop_sql);

}  // namespace voxir::testing
