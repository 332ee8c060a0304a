#include "testutil/old_formats.h"

#include "index/manifest.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <iterator>

namespace voxir::testing {

void rewrite_as_format(const std::filesystem::path& dir, int version, const std::string& drop_sql) {
  const auto gen = index::current_generation(dir);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((gen / index::kCatalogFile).c_str(), &db), SQLITE_OK);
  const int rc = sqlite3_exec(db, drop_sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << drop_sql;
  const auto manifest_path = gen / index::kManifestFile;
  std::ifstream in(manifest_path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto manifest = index::manifest_from_json(text, manifest_path);
  manifest.format_version = version;
  for (auto& f : manifest.files) {
    if (f.name != index::kCatalogFile) continue;
    f.bytes = std::filesystem::file_size(gen / f.name);
    f.crc32 = index::crc32_of_file(gen / f.name);
  }
  std::ofstream(manifest_path) << index::manifest_to_json(manifest);
}

}  // namespace voxir::testing
