#include "index/catalog.h"

#include "voxir/error.h"

#include <sqlite3.h>

#include <cstring>

namespace voxir::index {
namespace {

class Statement {
 public:
  Statement(sqlite3* db, const char* sql, const std::filesystem::path& file) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      fail(ErrorKind::kInvalidInput, "{}: catalog query failed: {}", file.string(),
           sqlite3_errmsg(db));
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  [[nodiscard]] sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

void exec(sqlite3* db, const char* sql, const std::filesystem::path& file) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    fail(ErrorKind::kIo, "{}: writing the catalog failed: {}", file.string(), text);
  }
}

std::string column_text(sqlite3_stmt* s, int col) {
  const auto* text = sqlite3_column_text(s, col);
  return text != nullptr ? reinterpret_cast<const char*>(text) : "";
}

constexpr const char* kSchema = R"sql(
CREATE TABLE volumes(
  pos INTEGER PRIMARY KEY,       -- order of the volume's rows in vectors.f32
  id TEXT UNIQUE NOT NULL,
  source TEXT NOT NULL,
  nx INTEGER, ny INTEGER, nz INTEGER,
  sx REAL, sy REAL, sz REAL,     -- spacing in mm
  split TEXT NOT NULL,
  metadata TEXT NOT NULL,        -- JSON object
  first_row INTEGER NOT NULL,
  num_slices INTEGER NOT NULL);
CREATE TABLE slices(
  volume INTEGER NOT NULL,       -- volumes.pos
  slice INTEGER NOT NULL,        -- canonical slice index, 0 = most inferior
  classes BLOB NOT NULL,         -- class-presence bitset, bit c = ClassCatalog index c
  PRIMARY KEY(volume, slice)) WITHOUT ROWID;
CREATE TABLE content(
  volume INTEGER PRIMARY KEY,    -- volumes.pos
  body_mm2 BLOB NOT NULL);       -- float32 per slice: body area in mm² (format version 2)
)sql";

// Format version 3: anatomy predicted for volumes indexed without labels (voxir/predict.h). Kept
// apart from the labels (`slices`): a prediction must never be learnt from as if it were a label.
constexpr const char* kPredictedSchema = R"sql(
CREATE TABLE predicted(
  volume INTEGER PRIMARY KEY,         -- volumes.pos
  generation INTEGER NOT NULL,        -- the generation in which it was predicted
  labelled_volumes INTEGER NOT NULL,  -- labelled volumes it was predicted from
  options TEXT NOT NULL,              -- PredictOptions::str(): k, tau, smoothing, threshold, ...
  class_bytes INTEGER NOT NULL,
  classes BLOB NOT NULL,              -- per slice, class bitset (probability >= threshold)
  region_bytes INTEGER NOT NULL,
  regions BLOB NOT NULL);             -- per slice, coarse-region bitset
CREATE TABLE predicted_extents(
  volume INTEGER NOT NULL,            -- volumes.pos
  coarse INTEGER NOT NULL,            -- 1: a coarse region, 0: a class
  name TEXT NOT NULL,
  first INTEGER NOT NULL,             -- slices first..last, inclusive
  last INTEGER NOT NULL,
  confidence REAL NOT NULL,           -- mean probability over them
  PRIMARY KEY(volume, coarse, name)) WITHOUT ROWID;
)sql";

bool has_table(sqlite3* db, const char* name, const std::filesystem::path& file) {
  Statement has(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", file);
  sqlite3_bind_text(has.get(), 1, name, -1, SQLITE_STATIC);
  return sqlite3_step(has.get()) == SQLITE_ROW;
}

void insert_prediction(sqlite3* db, Statement& head, Statement& extent, std::size_t pos,
                       const PredictedAnatomy& p, const std::filesystem::path& file) {
  sqlite3_stmt* s = head.get();
  sqlite3_reset(s);
  sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(pos));
  sqlite3_bind_int64(s, 2, p.generation);
  sqlite3_bind_int64(s, 3, p.labelled_volumes);
  sqlite3_bind_text(s, 4, p.options.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(s, 5, p.class_bytes);
  sqlite3_bind_blob(s, 6, p.classes.data(), static_cast<int>(p.classes.size()), SQLITE_STATIC);
  sqlite3_bind_int(s, 7, p.region_bytes);
  sqlite3_bind_blob(s, 8, p.regions.data(), static_cast<int>(p.regions.size()), SQLITE_STATIC);
  if (sqlite3_step(s) != SQLITE_DONE) {
    fail(ErrorKind::kIo, "{}: inserting the prediction of volume {} failed: {}", file.string(),
         pos, sqlite3_errmsg(db));
  }
  for (const auto& e : p.extents) {
    sqlite3_stmt* t = extent.get();
    sqlite3_reset(t);
    sqlite3_bind_int64(t, 1, static_cast<sqlite3_int64>(pos));
    sqlite3_bind_int(t, 2, e.coarse ? 1 : 0);
    sqlite3_bind_text(t, 3, e.name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(t, 4, e.slices[0]);
    sqlite3_bind_int64(t, 5, e.slices[1]);
    sqlite3_bind_double(t, 6, e.confidence);
    if (sqlite3_step(t) != SQLITE_DONE) {
      fail(ErrorKind::kIo, "{}: inserting predicted extent {} of volume {} failed: {}",
           file.string(), e.name, pos, sqlite3_errmsg(db));
    }
  }
}

constexpr const char* kInsertPredicted = "INSERT OR REPLACE INTO predicted VALUES(?1,?2,?3,?4,?5,?6,?7,?8)";
constexpr const char* kInsertExtent = "INSERT INTO predicted_extents VALUES(?1,?2,?3,?4,?5,?6)";

// Format version 3: where each labelled volume's labels were read from at ingest.
constexpr const char* kLabelsSourceSchema = R"sql(
CREATE TABLE labels_source(
  volume INTEGER PRIMARY KEY,    -- volumes.pos
  path TEXT NOT NULL);           -- folder of per-class masks or multilabel file, absolute
)sql";

}  // namespace

Catalog::Catalog(const std::filesystem::path& file) : file_(file) {
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    fail(ErrorKind::kInvalidInput, "{}: cannot open the catalog: {}", file.string(), message);
  }
}

Catalog::~Catalog() {
  sqlite3_close(db_);
}

std::vector<IndexedVolume> Catalog::volumes() const {
  const std::lock_guard guard(lock_);
  Statement s(db_,
              "SELECT id, source, nx, ny, nz, sx, sy, sz, split, metadata, first_row, num_slices "
              "FROM volumes ORDER BY first_row",
              file_);
  std::vector<IndexedVolume> out;
  int rc = 0;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    IndexedVolume v;
    v.id = column_text(s.get(), 0);
    v.source = column_text(s.get(), 1);
    for (int a = 0; a < 3; ++a) {
      v.dims[static_cast<std::size_t>(a)] = sqlite3_column_int64(s.get(), 2 + a);
      v.spacing[static_cast<std::size_t>(a)] = sqlite3_column_double(s.get(), 5 + a);
    }
    v.split = column_text(s.get(), 8);
    v.metadata_json = column_text(s.get(), 9);
    v.first_row = sqlite3_column_int64(s.get(), 10);
    v.num_slices = sqlite3_column_int64(s.get(), 11);
    out.push_back(std::move(v));
  }
  if (rc != SQLITE_DONE)
    fail(ErrorKind::kInvalidInput, "{}: reading volumes failed: {}", file_.string(),
         sqlite3_errmsg(db_));
  read_labels_sources(out);
  return out;
}

void Catalog::read_labels_sources(std::vector<IndexedVolume>& volumes) const {
  if (!has_table(db_, "labels_source", file_)) return;  // format version 1 or 2
  std::unordered_map<std::string, IndexedVolume*> by_id;
  for (auto& v : volumes) by_id.emplace(v.id, &v);
  Statement s(db_,
              "SELECT volumes.id, labels_source.path FROM labels_source JOIN volumes ON "
              "volumes.pos = labels_source.volume",
              file_);
  int rc = 0;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    const auto it = by_id.find(column_text(s.get(), 0));
    if (it != by_id.end()) it->second->labels_source = column_text(s.get(), 1);
  }
  if (rc != SQLITE_DONE)
    fail(ErrorKind::kInvalidInput, "{}: reading labels sources failed: {}", file_.string(),
         sqlite3_errmsg(db_));
}

VolumeVectors Catalog::labels(const IndexedVolume& volume) const {
  const std::lock_guard guard(lock_);
  Statement s(
      db_,
      "SELECT slices.slice, slices.classes FROM slices JOIN volumes ON volumes.pos = slices.volume "
      "WHERE volumes.id = ?1 ORDER BY slices.slice",
      file_);
  sqlite3_bind_text(s.get(), 1, volume.id.c_str(), -1, SQLITE_TRANSIENT);
  VolumeVectors out;
  out.volume = volume;
  int rc = 0;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    const auto k = sqlite3_column_int64(s.get(), 0);
    const int bytes = sqlite3_column_bytes(s.get(), 1);
    if (out.presence_bytes == 0) {
      out.presence_bytes = bytes;
      out.presence.assign(static_cast<std::size_t>(volume.num_slices * bytes), 0);
    }
    if (bytes != out.presence_bytes || k < 0 || k >= volume.num_slices) {
      fail(ErrorKind::kInvalidInput, "{}: slice {} of {} has a malformed class bitset",
           file_.string(), k, volume.id);
    }
    const auto* blob = static_cast<const std::uint8_t*>(sqlite3_column_blob(s.get(), 1));
    std::copy_n(blob, bytes, out.presence.begin() + k * bytes);
  }
  if (rc != SQLITE_DONE)
    fail(ErrorKind::kInvalidInput, "{}: reading slices failed: {}", file_.string(),
         sqlite3_errmsg(db_));
  return out;
}

std::unordered_map<std::string, std::vector<float>> Catalog::contents(
    std::span<const IndexedVolume> volumes) const {
  const std::lock_guard guard(lock_);
  std::unordered_map<std::string, std::vector<float>> out;
  if (!has_table(db_, "content", file_)) return out;  // format version 1
  std::unordered_map<std::string, std::int64_t> slices;
  for (const auto& v : volumes) slices.emplace(v.id, v.num_slices);
  Statement s(db_,
              "SELECT volumes.id, content.body_mm2 FROM content JOIN volumes ON volumes.pos = "
              "content.volume",
              file_);
  int rc = 0;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    std::string id = column_text(s.get(), 0);
    const auto bytes = static_cast<std::size_t>(sqlite3_column_bytes(s.get(), 1));
    const auto it = slices.find(id);
    if (it == slices.end() || bytes != static_cast<std::size_t>(it->second) * sizeof(float)) {
      fail(ErrorKind::kInvalidInput, "{}: the content of {} has {} bytes, expected {} slices",
           file_.string(), id, bytes, it == slices.end() ? 0 : it->second);
    }
    std::vector<float> values(static_cast<std::size_t>(it->second));
    if (bytes > 0) std::memcpy(values.data(), sqlite3_column_blob(s.get(), 1), bytes);
    out.emplace(std::move(id), std::move(values));
  }
  if (rc != SQLITE_DONE)
    fail(ErrorKind::kInvalidInput, "{}: reading slice content failed: {}", file_.string(),
         sqlite3_errmsg(db_));
  return out;
}

std::vector<std::size_t> Catalog::predicted_volumes() const {
  const std::lock_guard guard(lock_);
  std::vector<std::size_t> out;
  if (!has_table(db_, "predicted", file_)) return out;  // format versions 1 and 2
  Statement s(db_, "SELECT volume FROM predicted ORDER BY volume", file_);
  int rc = 0;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW)
    out.push_back(static_cast<std::size_t>(sqlite3_column_int64(s.get(), 0)));
  if (rc != SQLITE_DONE)
    fail(ErrorKind::kInvalidInput, "{}: reading predictions failed: {}", file_.string(),
         sqlite3_errmsg(db_));
  return out;
}

std::optional<PredictedAnatomy> Catalog::predicted(std::size_t pos,
                                                   const IndexedVolume& volume) const {
  const std::lock_guard guard(lock_);
  if (!has_table(db_, "predicted", file_)) return std::nullopt;
  Statement s(db_,
              "SELECT generation, labelled_volumes, options, class_bytes, classes, region_bytes, "
              "regions FROM predicted WHERE volume = ?1",
              file_);
  sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(pos));
  if (sqlite3_step(s.get()) != SQLITE_ROW) return std::nullopt;
  PredictedAnatomy p;
  p.generation = sqlite3_column_int64(s.get(), 0);
  p.labelled_volumes = sqlite3_column_int64(s.get(), 1);
  p.options = column_text(s.get(), 2);
  const auto blob = [&](int bytes_col, int blob_col, int& bytes, std::vector<std::uint8_t>& out,
                        const char* what) {
    bytes = sqlite3_column_int(s.get(), bytes_col);
    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(s.get(), blob_col));
    if (bytes < 0 || bytes > 64 || size != static_cast<std::size_t>(bytes * volume.num_slices)) {
      fail(ErrorKind::kInvalidInput,
           "{}: the predicted {} of {} hold {} bytes, expected {} slices of {} bytes",
           file_.string(), what, volume.id, size, volume.num_slices, bytes);
    }
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(s.get(), blob_col));
    out.assign(data, data + size);
  };
  blob(3, 4, p.class_bytes, p.classes, "classes");
  blob(5, 6, p.region_bytes, p.regions, "regions");
  Statement e(db_,
              "SELECT coarse, name, first, last, confidence FROM predicted_extents WHERE volume = "
              "?1 ORDER BY coarse, name",
              file_);
  sqlite3_bind_int64(e.get(), 1, static_cast<sqlite3_int64>(pos));
  int rc = 0;
  while ((rc = sqlite3_step(e.get())) == SQLITE_ROW) {
    PredictedAnatomy::Extent x;
    x.coarse = sqlite3_column_int(e.get(), 0) != 0;
    x.name = column_text(e.get(), 1);
    x.slices = {sqlite3_column_int64(e.get(), 2), sqlite3_column_int64(e.get(), 3)};
    x.confidence = sqlite3_column_double(e.get(), 4);
    if (x.slices[0] < 0 || x.slices[0] > x.slices[1] || x.slices[1] >= volume.num_slices) {
      fail(ErrorKind::kInvalidInput, "{}: predicted extent {} of {} is slices {}..{} of 0..{}",
           file_.string(), x.name, volume.id, x.slices[0], x.slices[1], volume.num_slices - 1);
    }
    p.extents.push_back(std::move(x));
  }
  if (rc != SQLITE_DONE)
    fail(ErrorKind::kInvalidInput, "{}: reading predicted extents failed: {}", file_.string(),
         sqlite3_errmsg(db_));
  return p;
}

void write_catalog(const std::filesystem::path& file, const std::vector<IndexedVolume>& volumes,
                   const std::function<VolumeVectors(std::size_t)>& labels_of,
                   const std::function<std::optional<PredictedAnatomy>(std::size_t)>& predicted_of) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    fail(ErrorKind::kIo, "{}: cannot create the catalog: {}", file.string(), message);
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> guard(db, &sqlite3_close);
  // The generation is not visible until CURRENT switches, and the writer fsyncs the finished
  // file itself: no journal is needed while filling it.
  exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;", file);
  exec(db, kSchema, file);
  exec(db, kPredictedSchema, file);
  exec(db, kLabelsSourceSchema, file);
  exec(db, "BEGIN", file);
  Statement head(db, kInsertPredicted, file);
  Statement extent(db, kInsertExtent, file);
  Statement vol(db, "INSERT INTO volumes VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)", file);
  Statement sl(db, "INSERT INTO slices VALUES(?1,?2,?3)", file);
  Statement ct(db, "INSERT INTO content VALUES(?1,?2)", file);
  Statement ls(db, "INSERT INTO labels_source VALUES(?1,?2)", file);
  for (std::size_t i = 0; i < volumes.size(); ++i) {
    const auto& v = volumes[i];
    sqlite3_stmt* s = vol.get();
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(i));
    sqlite3_bind_text(s, 2, v.id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, v.source.c_str(), -1, SQLITE_TRANSIENT);
    for (int a = 0; a < 3; ++a) {
      sqlite3_bind_int64(s, 4 + a, v.dims[static_cast<std::size_t>(a)]);
      sqlite3_bind_double(s, 7 + a, v.spacing[static_cast<std::size_t>(a)]);
    }
    sqlite3_bind_text(s, 10, v.split.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 11, v.metadata_json.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 12, v.first_row);
    sqlite3_bind_int64(s, 13, v.num_slices);
    if (sqlite3_step(s) != SQLITE_DONE) {
      fail(ErrorKind::kIo, "{}: inserting volume {} failed: {}", file.string(), v.id,
           sqlite3_errmsg(db));
    }
    if (predicted_of) {
      if (const auto p = predicted_of(i)) insert_prediction(db, head, extent, i, *p, file);
    }
    if (!v.labels_source.empty()) {
      sqlite3_stmt* l = ls.get();
      sqlite3_reset(l);
      sqlite3_bind_int64(l, 1, static_cast<sqlite3_int64>(i));
      sqlite3_bind_text(l, 2, v.labels_source.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(l) != SQLITE_DONE) {
        fail(ErrorKind::kIo, "{}: inserting the labels source of {} failed: {}", file.string(),
             v.id, sqlite3_errmsg(db));
      }
    }
    const VolumeVectors labels = labels_of(i);
    if (!labels.content.empty()) {
      sqlite3_stmt* c = ct.get();
      sqlite3_reset(c);
      sqlite3_bind_int64(c, 1, static_cast<sqlite3_int64>(i));
      sqlite3_bind_blob(c, 2, labels.content.data(),
                        static_cast<int>(labels.content.size() * sizeof(float)), SQLITE_STATIC);
      if (sqlite3_step(c) != SQLITE_DONE) {
        fail(ErrorKind::kIo, "{}: inserting the content of {} failed: {}", file.string(), v.id,
             sqlite3_errmsg(db));
      }
    }
    if (labels.presence_bytes == 0) continue;
    for (std::int64_t k = 0; k < v.num_slices; ++k) {
      sqlite3_stmt* t = sl.get();
      sqlite3_reset(t);
      sqlite3_bind_int64(t, 1, static_cast<sqlite3_int64>(i));
      sqlite3_bind_int64(t, 2, k);
      sqlite3_bind_blob(t, 3, labels.presence.data() + k * labels.presence_bytes,
                        labels.presence_bytes, SQLITE_STATIC);
      if (sqlite3_step(t) != SQLITE_DONE) {
        fail(ErrorKind::kIo, "{}: inserting slices of {} failed: {}", file.string(), v.id,
             sqlite3_errmsg(db));
      }
    }
  }
  exec(db, "COMMIT", file);
}

void write_predictions(const std::filesystem::path& file,
                       const std::vector<std::pair<std::size_t, PredictedAnatomy>>& predictions) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    const std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    fail(ErrorKind::kIo, "{}: cannot open the catalog for writing: {}", file.string(), message);
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> guard(db, &sqlite3_close);
  // As in write_catalog: the generation is not current yet and the writer fsyncs the file.
  exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;", file);
  exec(db, "BEGIN", file);
  Statement drop(db, "DELETE FROM predicted_extents WHERE volume = ?1", file);
  Statement head(db, kInsertPredicted, file);
  Statement extent(db, kInsertExtent, file);
  for (const auto& [pos, p] : predictions) {
    sqlite3_reset(drop.get());
    sqlite3_bind_int64(drop.get(), 1, static_cast<sqlite3_int64>(pos));
    if (sqlite3_step(drop.get()) != SQLITE_DONE) {
      fail(ErrorKind::kIo, "{}: replacing the prediction of volume {} failed: {}", file.string(),
           pos, sqlite3_errmsg(db));
    }
    insert_prediction(db, head, extent, pos, p, file);
  }
  exec(db, "COMMIT", file);
}

}  // namespace voxir::index
