#include "index/manifest.h"

#include "util/file.h"
#include "voxir/error.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

namespace voxir::index {
namespace {

using Json = nlohmann::ordered_json;

std::uint32_t crc_of_text(const std::string& text) {
  return crc32_update(0, text.data(), text.size());
}

// A manifest whose checksum matches was still written by someone: everything later code sizes
// allocations or file offsets by is checked here, once.
void check_manifest(const Manifest& m, const std::filesystem::path& file) {
  if (m.embedder.dim < 1 || m.embedder.dim > kMaxDim) {
    fail(ErrorKind::kInvalidInput, "{}: embedder dimension {} (expected 1 to {})", file.string(),
         m.embedder.dim, kMaxDim);
  }
  if (m.vector_dtype != "float32") {
    fail(ErrorKind::kUnsupported, "{}: vector_dtype \"{}\" (this voxir reads float32)",
         file.string(), m.vector_dtype);
  }
  if (m.num_volumes < 1 || m.num_vectors < m.num_volumes) {
    fail(ErrorKind::kInvalidInput,
         "{}: counts {} volumes and {} vectors (an index holds at least one volume, each with at "
         "least one slice)",
         file.string(), m.num_volumes, m.num_vectors);
  }
  const auto row_bytes = static_cast<std::uint64_t>(m.embedder.dim) * sizeof(float);
  for (const auto& f : m.files) {
    if (f.name != kVectorsFile) continue;
    if (f.bytes % row_bytes != 0 ||
        f.bytes / row_bytes != static_cast<std::uint64_t>(m.num_vectors)) {
      fail(ErrorKind::kInvalidInput,
           "{}: {} is listed with {} bytes, {} vectors of dimension {} take {} bytes",
           file.string(), f.name, f.bytes, m.num_vectors, m.embedder.dim,
           static_cast<std::uint64_t>(m.num_vectors) * row_bytes);
    }
  }
}

}  // namespace

std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t bytes) {
  auto* p = static_cast<const Bytef*>(data);
  uLong c = crc;
  while (bytes > 0) {  // zlib takes uInt lengths
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(bytes, std::size_t{1} << 30));
    c = ::crc32(c, p, chunk);
    p += chunk;
    bytes -= chunk;
  }
  return static_cast<std::uint32_t>(c);
}

std::uint32_t crc32_of_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::kNotFound, "{}: cannot open", path.string());
  std::vector<char> buffer(std::size_t{1} << 22);
  std::uint32_t crc = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    crc = crc32_update(crc, buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) fail(ErrorKind::kIo, "{}: read failed", path.string());
  return crc;
}

std::string manifest_to_json(const Manifest& m) {
  Json j;
  j["format"] = "voxir-index";
  j["format_version"] = m.format_version;
  j["generation"] = m.generation;
  j["created"] = m.created;
  j["embedder"] = {
      {"spec", m.embedder.spec}, {"fingerprint", m.embedder.fingerprint}, {"dim", m.embedder.dim}};
  j["index"] = m.spec.str();
  j["vector_dtype"] = m.vector_dtype;
  j["counts"] = {{"volumes", m.num_volumes}, {"vectors", m.num_vectors}};
  Json files = Json::object();
  for (const auto& f : m.files)
    files[f.name] = {{"bytes", f.bytes}, {"crc32", fmt::format("{:08x}", f.crc32)}};
  j["files"] = files;
  j["checksum"] = fmt::format("{:08x}", crc_of_text(j.dump(2)));
  return j.dump(2) + "\n";
}

Manifest manifest_from_json(const std::string& text, const std::filesystem::path& file) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const std::exception& e) {
    fail(ErrorKind::kInvalidInput, "{}: not valid JSON ({})", file.string(), e.what());
  }
  try {
    if (j.value("format", "") != "voxir-index") {
      fail(ErrorKind::kInvalidInput,
           "{}: not a voxir index manifest (\"format\" is not \"voxir-index\")", file.string());
    }
    const std::string stored = j.at("checksum").get<std::string>();
    j.erase("checksum");
    const std::string actual = fmt::format("{:08x}", crc_of_text(j.dump(2)));
    if (stored != actual) {
      fail(ErrorKind::kInvalidInput,
           "{}: manifest checksum mismatch (stored {}, content has {}): the file "
           "was edited or damaged",
           file.string(), stored, actual);
    }
    Manifest m;
    m.format_version = j.at("format_version").get<int>();
    if (m.format_version < kOldestFormatVersion || m.format_version > kFormatVersion) {
      fail(ErrorKind::kUnsupported,
           "{}: index format version {} (this voxir reads versions {} to {})", file.string(),
           m.format_version, kOldestFormatVersion, kFormatVersion);
    }
    m.generation = j.at("generation").get<std::int64_t>();
    m.created = j.at("created").get<std::string>();
    const auto& e = j.at("embedder");
    m.embedder = {e.at("spec").get<std::string>(), e.at("fingerprint").get<std::string>(),
                  e.at("dim").get<int>()};
    m.spec = IndexSpec::parse(j.at("index").get<std::string>());
    m.vector_dtype = j.at("vector_dtype").get<std::string>();
    m.num_volumes = j.at("counts").at("volumes").get<std::int64_t>();
    m.num_vectors = j.at("counts").at("vectors").get<std::int64_t>();
    for (const auto& [name, f] : j.at("files").items()) {
      m.files.push_back(
          {name, f.at("bytes").get<std::uint64_t>(),
           static_cast<std::uint32_t>(std::stoul(f.at("crc32").get<std::string>(), nullptr, 16))});
    }
    check_manifest(m, file);
    return m;
  } catch (const Error& err) {
    throw err.kind() == ErrorKind::kUsage
        ? Error(ErrorKind::kInvalidInput, fmt::format("{}: {}", file.string(), err.what()))
        : err;
  } catch (const std::exception& err) {
    fail(ErrorKind::kInvalidInput, "{}: malformed manifest: {}", file.string(), err.what());
  }
}

std::string generation_name(std::int64_t generation) {
  return fmt::format("gen-{:06d}", generation);
}

namespace {

// The generation CURRENT names (checked to be a generation name, not to exist).
std::filesystem::path named_generation(const std::filesystem::path& dir) {
  const auto pointer = dir / kCurrentFile;
  std::error_code ec;
  if (!std::filesystem::exists(pointer, ec)) {
    fail(ErrorKind::kNotFound, "{}: not a voxir index (no {} file)", dir.string(), kCurrentFile);
  }
  std::string name = read_text_file(pointer);
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  if (name.rfind("gen-", 0) != 0 || name.find('/') != std::string::npos) {
    fail(ErrorKind::kInvalidInput, "{}: holds \"{}\", expected a generation name like gen-000001",
         pointer.string(), name);
  }
  return dir / name;
}

[[noreturn]] void fail_missing_generation(const std::filesystem::path& dir,
                                          const std::filesystem::path& gen) {
  fail(ErrorKind::kInvalidInput, "{}: points to {}, which does not exist",
       (dir / kCurrentFile).string(), gen.filename().string());
}

}  // namespace

std::filesystem::path current_generation(const std::filesystem::path& dir) {
  const auto gen = named_generation(dir);
  std::error_code ec;
  if (!std::filesystem::is_directory(gen, ec)) fail_missing_generation(dir, gen);
  return gen;
}

ReaderLock::ReaderLock(ReaderLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

ReaderLock& ReaderLock::operator=(ReaderLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

ReaderLock::~ReaderLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

ReaderLock lock_current_generation(const std::filesystem::path& dir,
                                   std::filesystem::path& gen_dir) {
  // Each retry means a writer switched generations and deleted the one we read in between; more
  // than a few in a row would take writes finishing faster than this loop turns.
  constexpr int kAttempts = 1000;
  for (int attempt = 0;; ++attempt) {
    gen_dir = named_generation(dir);
    const auto readers = gen_dir / kReadersFile;
    ReaderLock lock;
    lock.fd_ = ::open(readers.c_str(), O_RDONLY | O_CLOEXEC);
    if (lock.fd_ < 0) {
      if (errno != ENOENT) {
        fail(ErrorKind::kIo, "{}: cannot open: {}", readers.string(), std::strerror(errno));
      }
      // No READERS file: a generation written without reader registration, or one that a
      // writer renamed away for deletion after switching CURRENT (then its manifest is gone from
      // this path too, and CURRENT names another generation now).
      std::error_code ec;
      if (std::filesystem::exists(gen_dir / kManifestFile, ec)) return lock;
      if (named_generation(dir) == gen_dir) {
        if (!std::filesystem::is_directory(gen_dir, ec)) fail_missing_generation(dir, gen_dir);
        return lock;  // unregistered and incomplete: Index::open names what is missing
      }
    } else {
      // Blocks only while a writer that already decided to delete this generation holds
      // LOCK_EX; it renames the folder away before releasing it.
      while (::flock(lock.fd_, LOCK_SH) != 0) {
        if (errno != EINTR) {
          fail(ErrorKind::kIo, "{}: cannot lock: {}", readers.string(), std::strerror(errno));
        }
      }
      // Locked: still the file at that path (not one of a generation renamed for deletion)?
      struct stat held {}, named {};
      if (::fstat(lock.fd_, &held) == 0 && ::stat(readers.c_str(), &named) == 0 &&
          held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
        return lock;
      }
    }
    if (attempt + 1 >= kAttempts) {
      fail(ErrorKind::kIo, "{}: the current generation kept changing while opening it ({} tries)",
           dir.string(), kAttempts);
    }
  }
}

void create_readers_file(const std::filesystem::path& gen_dir) {
  const auto path = gen_dir / kReadersFile;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) fail(ErrorKind::kIo, "{}: cannot create: {}", path.string(), std::strerror(errno));
  ::close(fd);
}

void remove_unused_generations(const std::filesystem::path& dir, const std::string& keep) {
  std::error_code ec;
  std::vector<std::filesystem::path> generations, leftovers;
  const std::string current_tmp = atomic_temp_prefix(dir / kCurrentFile);
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const auto name = entry.path().filename().string();
    if (name.rfind("gen-", 0) == 0 && name != keep) generations.push_back(entry.path());
    if (name.rfind(kTrashPrefix, 0) == 0 || name.rfind(current_tmp, 0) == 0)
      leftovers.push_back(entry.path());
  }
  for (const auto& path : leftovers) std::filesystem::remove_all(path, ec);
  for (const auto& gen : generations) {
    const auto readers = gen / kReadersFile;
    const int fd = ::open(readers.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);  // an open Index holds it
      continue;
    }
    // Held exclusively (or without READERS: unregistered or never finished): rename it away
    // first, so a reader finds the whole generation or none of it, then delete.
    const auto trash = dir / (kTrashPrefix + gen.filename().string());
    const bool renamed = ::rename(gen.c_str(), trash.c_str()) == 0;
    if (fd >= 0) ::close(fd);
    if (renamed) std::filesystem::remove_all(trash, ec);
  }
}

}  // namespace voxir::index
