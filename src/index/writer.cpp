// Writing a new index generation and switching to it. Crash safety comes from the order: every
// file of gen-N+1 is written and fsynced, then its manifest (fsynced, renamed, folder fsynced),
// then the index folder is fsynced (the generation's own entry), and only then CURRENT is
// replaced atomically (write_file_atomic). Until that rename, readers and a crash see generation
// N only; an aborted write removes its folder, and a crash leaves a folder that the next write
// removes. Older generations are deleted only when no open Index holds them (manifest.h).
#include "index/ann.h"
#include "index/catalog.h"
#include "index/manifest.h"
#include "index/mapped_file.h"
#include "index/staging.h"
#include "util/exceptions.h"
#include "util/file.h"
#include "voxir/error.h"
#include "voxir/index.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <set>
#include <unordered_set>

namespace voxir {
namespace {

// An exclusive lock on <dir>/LOCK for the duration of a write: two writers would both pick
// generation N+1.
class WriteLock {
 public:
  explicit WriteLock(const std::filesystem::path& dir) {
    const auto path = dir / index::kLockFile;
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(ErrorKind::kIo, "{}: cannot create: {}", path.string(), std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fail(ErrorKind::kUsage, "{}: another voxir process is writing this index", dir.string());
    }
  }
  ~WriteLock() { ::close(fd_); }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

 private:
  int fd_ = -1;
};

// Streams float rows to a file, keeping the CRC as it goes.
class VectorFileWriter {
 public:
  explicit VectorFileWriter(std::filesystem::path path) : path_(std::move(path)) {
    file_ = std::fopen(path_.c_str(), "wb");
    if (file_ == nullptr)
      fail(ErrorKind::kIo, "{}: cannot create: {}", path_.string(), std::strerror(errno));
  }
  ~VectorFileWriter() {
    if (file_ != nullptr) std::fclose(file_);
  }
  VectorFileWriter(const VectorFileWriter&) = delete;
  VectorFileWriter& operator=(const VectorFileWriter&) = delete;
  void write(std::span<const float> values) {
    const auto bytes = values.size() * sizeof(float);
    if (std::fwrite(values.data(), 1, bytes, file_) != bytes) {
      fail(ErrorKind::kIo, "{}: write failed: {}", path_.string(), std::strerror(errno));
    }
    crc_ = index::crc32_update(crc_, values.data(), bytes);
    bytes_ += bytes;
  }
  index::FileEntry close() {
    const bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
    const int err = errno;
    std::fclose(file_);
    file_ = nullptr;
    if (!ok) fail(ErrorKind::kIo, "{}: flushing failed: {}", path_.string(), std::strerror(err));
    return {path_.filename().string(), bytes_, crc_};
  }

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  std::uint32_t crc_ = 0;
  std::uint64_t bytes_ = 0;
};

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Highest generation number among gen-* folders (complete or not).
std::int64_t highest_generation(const std::filesystem::path& dir) {
  std::int64_t best = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (name.rfind("gen-", 0) == 0) {
      try {
        best = std::max<std::int64_t>(best, std::stoll(name.substr(4)));
      } catch (const std::exception&) {
      }
    }
  }
  return best;
}

// What may be in an index folder besides CURRENT: the lock, generations, and leftovers of an
// interrupted write (a temporary CURRENT, a generation half deleted).
bool belongs_to_an_index(const std::filesystem::path& dir, const std::string& name) {
  return name == index::kLockFile || name.rfind("gen-", 0) == 0 ||
         name.rfind(index::kTrashPrefix, 0) == 0 ||
         name.rfind(atomic_temp_prefix(dir / index::kCurrentFile), 0) == 0;
}

void report(const WriteOptions& options, BuildProgress progress, const char* stage,
            std::chrono::steady_clock::time_point start) {
  if (!options.progress) return;
  progress.stage = stage;
  progress.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  options.progress(progress);
}

BuildReport write_new_generation(const std::filesystem::path& dir, bool create,
                                 const IndexSpec& spec_in, const EmbedderIdentity& identity_in,
                                 std::vector<VolumeVectors> add,
                                 std::span<const std::string> remove,
                                 const WriteOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  if (create) {
    std::filesystem::create_directories(dir, ec);
    if (ec)
      fail(ErrorKind::kIo, "{}: cannot create the index folder: {}", dir.string(), ec.message());
    if (!std::filesystem::exists(dir / index::kCurrentFile)) {
      for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const auto name = entry.path().filename().string();
        if (!belongs_to_an_index(dir, name)) {
          fail(ErrorKind::kUsage,
               "{}: exists and is not a voxir index (holds {}); refusing to write into it",
               dir.string(), name);
        }
      }
    }
  }
  const WriteLock lock(dir);
  std::unique_ptr<Index> old;
  // The kept vectors are copied into the new generation under a fresh checksum: verify the old
  // ones first (they are read whole for the copy anyway), or damage would become "valid".
  if (!create) old = Index::open(dir, {.verify_checksums = true});
  const IndexSpec spec = old ? old->spec() : spec_in;
  const EmbedderIdentity identity = old ? old->embedder() : identity_in;
  spec.validate(identity.dim);

  // Which old volumes stay, and are the new ids free?
  const std::set<std::string> removed(remove.begin(), remove.end());
  for (const auto& id : removed) {
    if (old == nullptr || old->find(id) == nullptr) {
      fail(ErrorKind::kNotFound, "{}: the index has no volume \"{}\"", dir.string(), id);
    }
  }
  std::vector<IndexedVolume> volumes;
  std::vector<std::size_t> kept;  // positions in old->volumes()
  std::unordered_set<std::string> ids;
  if (old) {
    for (std::size_t i = 0; i < old->volumes().size(); ++i) {
      if (removed.count(old->volumes()[i].id) != 0) continue;
      kept.push_back(i);
      volumes.push_back(old->volumes()[i]);
      ids.insert(old->volumes()[i].id);
    }
  }
  for (const auto& v : add) {
    if (v.volume.id.empty() || !ids.insert(v.volume.id).second) {
      fail(ErrorKind::kInvalidInput, "volume id \"{}\" is empty or already in the index",
           v.volume.id);
    }
    if (v.vectors.size() != static_cast<std::size_t>(v.volume.num_slices * identity.dim) ||
        v.volume.num_slices <= 0) {
      fail(ErrorKind::kInternal, "volume {}: {} floats for {} slices of dimension {}", v.volume.id,
           v.vectors.size(), v.volume.num_slices, identity.dim);
    }
    with_context(dir.string(), [&] { check_volume_vectors(v, identity.dim); });
    volumes.push_back(v.volume);
  }
  if (volumes.empty())
    fail(ErrorKind::kUsage, "{}: an index needs at least one volume", dir.string());

  const std::int64_t generation =
      std::max(old ? old->generation() : 0, highest_generation(dir)) + 1;
  const std::string gen_name = index::generation_name(generation);
  const auto gen_dir = dir / gen_name;
  std::filesystem::remove_all(gen_dir, ec);
  std::filesystem::create_directory(gen_dir, ec);
  if (ec) fail(ErrorKind::kIo, "{}: cannot create: {}", gen_dir.string(), ec.message());
  // Before anything can make the generation current, so every reader can register on it.
  index::create_readers_file(gen_dir);

  BuildReport result;
  BuildProgress progress;
  progress.volumes_total = add.size();
  progress.volumes_done = add.size();
  try {
    index::Manifest manifest;
    manifest.generation = generation;
    manifest.created = utc_now();
    manifest.embedder = identity;
    manifest.spec = spec;

    // Vectors: kept volumes in their old order, then the new ones.
    report(options, progress, "writing vectors", start);
    VectorFileWriter writer(gen_dir / index::kVectorsFile);
    std::int64_t row = 0;
    for (std::size_t i = 0; i < kept.size(); ++i) {
      writer.write(old->volume_vectors(kept[i]));
      volumes[i].first_row = row;
      row += volumes[i].num_slices;
    }
    for (std::size_t a = 0; a < add.size(); ++a) {
      writer.write(add[a].vectors);
      volumes[kept.size() + a].first_row = row;
      row += add[a].volume.num_slices;
      result.slices_added += add[a].volume.num_slices;
    }
    manifest.files.push_back(writer.close());
    manifest.num_vectors = row;
    manifest.num_volumes = static_cast<std::int64_t>(volumes.size());

    // Search structure, extended from the old one when the old rows are an unchanged prefix.
    const auto ann_name = index::ann_file_name(spec);
    if (!ann_name.empty()) {
      report(options, progress, "building index", start);
      const index::MappedFile mapped(gen_dir / index::kVectorsFile);
      const index::RowVectors rows{reinterpret_cast<const float*>(mapped.bytes().data()), row,
                                   identity.dim};
      std::filesystem::path previous;
      std::int64_t previous_rows = 0;
      if (old && old->spec() == spec) {
        previous = index::current_generation(dir) / ann_name;
        previous_rows = removed.empty() ? old->num_vectors() : 0;
      }
      index::build_ann(spec, rows, previous, previous_rows, gen_dir / ann_name, options.threads);
      sync_file(gen_dir / ann_name);
      const auto bytes = std::filesystem::file_size(gen_dir / ann_name);
      manifest.files.push_back({ann_name, bytes, index::crc32_of_file(gen_dir / ann_name)});
    }

    report(options, progress, "writing catalog", start);
    const auto catalog_path = gen_dir / index::kCatalogFile;
    index::write_catalog(
        catalog_path, volumes,
        [&](std::size_t i) {
          if (i < kept.size()) return old->labels(kept[i]);
          VolumeVectors labels;
          labels.presence_bytes = add[i - kept.size()].presence_bytes;
          labels.presence = std::move(add[i - kept.size()].presence);
          labels.content = std::move(add[i - kept.size()].content);
          return labels;
        },
        // Kept volumes keep what was predicted for them (options.predict may replace it).
        [&](std::size_t i) {
          return i < kept.size() ? old->predicted(kept[i]) : std::nullopt;
        });
    sync_file(catalog_path);
    const auto catalog_entry = [&] {
      return index::FileEntry{index::kCatalogFile, std::filesystem::file_size(catalog_path),
                              index::crc32_of_file(catalog_path)};
    };
    manifest.files.push_back(catalog_entry());

    const auto write_manifest = [&] {
      const std::string text = index::manifest_to_json(manifest);
      // Durable with the folder's entries (every file above, READERS) once this returns.
      write_file_atomic(gen_dir / index::kManifestFile,
                        {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
    };
    write_manifest();
    if (options.predict) {
      // The generation is complete: open it as a reader would and let the caller predict from
      // it, then store the predictions in its catalog. Still not current, so a failure or a crash
      // here leaves the previous generation in place.
      report(options, progress, "predicting anatomy", start);
      std::vector<std::pair<std::size_t, PredictedAnatomy>> predictions;
      {
        const auto staged = IndexStaging::open(dir, gen_dir);
        for (auto& [id, p] : options.predict(*staged)) {
          const IndexedVolume* v = staged->find(id);
          if (v == nullptr)
            fail(ErrorKind::kInternal, "a prediction was made for volume {}, not in the index", id);
          predictions.emplace_back(static_cast<std::size_t>(v - staged->volumes().data()),
                                   std::move(p));
        }
      }
      if (!predictions.empty()) {
        index::write_predictions(catalog_path, predictions);
        sync_file(catalog_path);
        manifest.files.back() = catalog_entry();
        write_manifest();
      }
    }
    // The generation folder's own entry in `dir`, before CURRENT may name it.
    sync_directory(dir);
    report(options, progress, "switching", start);  // last chance to abort
    const std::string pointer = gen_name + "\n";
    write_file_atomic(dir / index::kCurrentFile,
                      {reinterpret_cast<const std::uint8_t*>(pointer.data()), pointer.size()});
  } catch (...) {
    // A failure after the rename of CURRENT (the folder's fsync) leaves the new generation live:
    // it is complete, so it stays.
    bool live = false;
    try {
      live = index::current_generation(dir) == gen_dir;
    } catch (const Error&) {
    }
    if (!live) std::filesystem::remove_all(gen_dir, ec);
    throw;
  }
  old.reset();  // our own registration on the old generation
  index::remove_unused_generations(dir, gen_name);
  result.volumes_added = add.size();
  result.generation = generation;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace

BuildReport write_generation(const std::filesystem::path& dir, bool create, const IndexSpec& spec,
                             const EmbedderIdentity& identity, std::vector<VolumeVectors> add,
                             std::span<const std::string> remove, const WriteOptions& options) {
  // std::filesystem (sizes, listings), hnswlib and Faiss throw their own types; and
  // std::bad_alloc when the vectors do not fit.
  return translate_exceptions(dir, "writing the index", ErrorKind::kIo, [&] {
    return write_new_generation(dir, create, spec, identity, std::move(add), remove, options);
  });
}

}  // namespace voxir
