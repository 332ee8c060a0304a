#include "util/file.h"

#include "voxir/error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace voxir {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Fd open_for_reading(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) fail(ErrorKind::kNotFound, "{}: no such file", path.string());
  if (std::filesystem::is_directory(status)) {
    fail(ErrorKind::kInvalidInput, "{}: is a directory, expected a file", path.string());
  }
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) fail(ErrorKind::kIo, "{}: cannot open: {}", path.string(), std::strerror(errno));
  return fd;
}

std::size_t read_up_to(const Fd& fd, std::uint8_t* out, std::size_t n, const std::filesystem::path& path) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t got = ::read(fd.get(), out + done, n - done);
    if (got < 0) {
      if (errno == EINTR) continue;
      fail(ErrorKind::kIo, "{}: read failed: {}", path.string(), std::strerror(errno));
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

void fsync_path(const std::filesystem::path& path, int flags) {
  const Fd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (fd.get() < 0) {
    fail(ErrorKind::kIo, "{}: cannot open to sync: {}", path.string(), std::strerror(errno));
  }
  if (::fsync(fd.get()) != 0) {
    fail(ErrorKind::kIo, "{}: fsync failed: {}", path.string(), std::strerror(errno));
  }
}

}  // namespace

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
  const Fd fd = open_for_reading(path);
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  std::vector<std::uint8_t> bytes(ec ? 0 : size);
  bytes.resize(read_up_to(fd, bytes.data(), bytes.size(), path));
  return bytes;
}

std::vector<std::uint8_t> read_file_prefix(const std::filesystem::path& path, std::size_t max_bytes) {
  const Fd fd = open_for_reading(path);
  std::vector<std::uint8_t> bytes(max_bytes);
  bytes.resize(read_up_to(fd, bytes.data(), max_bytes, path));
  return bytes;
}

std::string read_text_file(const std::filesystem::path& path) {
  const auto bytes = read_file(path);
  return {bytes.begin(), bytes.end()};
}

std::string atomic_temp_prefix(const std::filesystem::path& path) {
  return fmt::format(".{}.", path.filename().string());
}

void sync_file(const std::filesystem::path& path) {
  fsync_path(path, O_RDONLY);
}

void sync_directory(const std::filesystem::path& dir) {
  fsync_path(dir.empty() ? std::filesystem::path(".") : dir, O_RDONLY | O_DIRECTORY);
}

void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                       bool sync) {
  std::string tmp = (path.parent_path() / (atomic_temp_prefix(path) + "XXXXXX")).string();
  Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (fd.get() < 0) {
    fail(ErrorKind::kIo, "{}: cannot create a temporary file beside it: {}", path.string(),
         std::strerror(errno));
  }
  // From here on every failure removes the temporary file before throwing.
  auto give_up = [&](const char* what) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    fail(ErrorKind::kIo, "{}: {} ({}): {}", path.string(), what, tmp, why);
  };
  // mkstemp creates 0600; an index or cache file is as readable as any file its owner writes.
  if (::fchmod(fd.get(), 0644) != 0) give_up("cannot set the permissions of the temporary file");
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) give_up("writing the temporary file failed");
    done += static_cast<std::size_t>(n);
  }
  // The data must be on disk before the rename makes it visible: otherwise a crash could leave
  // `path` naming an empty or partial file.
  if (sync && ::fsync(fd.get()) != 0) give_up("flushing the temporary file failed");
  if (::close(fd.release()) != 0) give_up("closing the temporary file failed");
  if (::rename(tmp.c_str(), path.c_str()) != 0) give_up("cannot rename the new file into place");
  // The rename itself is only durable once the folder is.
  if (sync) sync_directory(path.parent_path());
}

}  // namespace voxir
