#include "upload.h"

#include "errors.h"
#include "voxir/error.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>

namespace voxir::server {
namespace {

constexpr std::size_t kMaxTextPart = std::size_t{1} << 20;

// The extension voxir reads by (the reader looks at the header, but a gzip stream must end in .gz
// for a human to recognise it); anything else is stored as ".bin".
std::string extension_of(std::string_view name) {
  for (const char* ext : {".nii.gz", ".nii", ".zip"}) {
    const std::string_view e(ext);
    if (name.size() >= e.size() && name.substr(name.size() - e.size()) == e) return std::string(e);
  }
  return ".bin";
}

// Why a zip entry's name cannot be extracted, or "" when it can: it must be relative and stay
// inside the folder. Backslashes count as separators too (zips made on Windows).
std::string bad_entry_name(std::string_view name) {
  if (name.empty()) return "has no name";
  if (name.front() == '/' || name.front() == '\\') return "has an absolute path";
  std::size_t start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && name[i] != '/' && name[i] != '\\') continue;
    const std::string_view part = name.substr(start, i - start);
    if (part == "..") return "leaves the folder ('..')";
    if (start == 0 && part.size() >= 2 && part.back() == ':') return "has an absolute path (a drive)";
    start = i + 1;
  }
  return {};
}

const char* kind_of_entry(mode_t type) {
  switch (type) {
    case AE_IFLNK: return "a symbolic link";
    case AE_IFCHR: return "a character device";
    case AE_IFBLK: return "a block device";
    case AE_IFIFO: return "a FIFO";
    case AE_IFSOCK: return "a socket";
    default: return "not a regular file";
  }
}

}  // namespace

bool is_zip(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::array<char, 4> magic{};
  if (!in.read(magic.data(), magic.size())) return false;
  return magic[0] == 'P' && magic[1] == 'K' &&
         ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6));
}

void extract_zip(const std::filesystem::path& zip, const std::string& shown,
                 const std::filesystem::path& dest, std::uint64_t max_bytes) {
  const std::unique_ptr<archive, decltype(&archive_read_free)> reader(archive_read_new(),
                                                                      &archive_read_free);
  if (!reader) throw RequestError(500, "internal", "out of memory");
  archive* a = reader.get();
  archive_read_support_format_zip(a);
  const auto refuse = [&](std::string why) {
    throw RequestError(422, "invalid input", fmt::format("{}: {}", shown, why));
  };
  const auto damaged = [&](const char* what) {
    const char* detail = archive_error_string(a);
    refuse(fmt::format("{} ({}); expected a zip archive of DICOM files", what,
                       detail != nullptr ? detail : "unknown error"));
  };
  if (archive_read_open_filename(a, zip.c_str(), 1 << 16) != ARCHIVE_OK) damaged("not a readable zip archive");
  std::filesystem::create_directory(dest);
  std::uint64_t total = 0;
  std::size_t entries = 0;
  std::vector<char> buffer(1 << 16);
  for (;;) {
    archive_entry* entry = nullptr;
    const int rc = archive_read_next_header(a, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) damaged("damaged zip archive");
    if (++entries > kMaxZipEntries) {
      refuse(fmt::format("more than {} entries (the limit for a zip upload)", kMaxZipEntries));
    }
    const char* raw = archive_entry_pathname(entry);
    const std::string name = raw != nullptr ? raw : "";
    if (const std::string why = bad_entry_name(name); !why.empty()) {
      refuse(fmt::format("entry '{}' {}; a zip upload holds files and folders inside it", name, why));
    }
    const mode_t type = archive_entry_filetype(entry);
    if (archive_entry_hardlink(entry) != nullptr) {
      refuse(fmt::format("entry '{}' is a hard link; a zip upload holds only files and folders", name));
    }
    if (type == AE_IFDIR) continue;
    if (type != AE_IFREG) {
      refuse(fmt::format("entry '{}' is {}; a zip upload holds only files and folders", name, kind_of_entry(type)));
    }
    if (archive_entry_is_encrypted(entry) != 0) refuse(fmt::format("entry '{}' is encrypted", name));
    const std::string base = std::filesystem::path(name).filename().string();
    const auto to = dest / fmt::format("{}-{}", entries, base.empty() ? "file" : base);
    std::ofstream out(to, std::ios::binary);
    if (!out) throw RequestError(500, "I/O error", fmt::format("cannot unpack {}: cannot create a file", shown));
    for (;;) {
      const la_ssize_t n = archive_read_data(a, buffer.data(), buffer.size());
      if (n == 0) break;
      if (n < 0) damaged(fmt::format("entry '{}' cannot be read", name).c_str());
      total += static_cast<std::uint64_t>(n);
      if (total > max_bytes) {
        throw RequestError(413, "too large",
                           fmt::format("{}: its content is larger than the upload limit of {} bytes "
                                       "(refused while unpacking, at entry '{}')",
                                       shown, max_bytes, name));
      }
      out.write(buffer.data(), n);
      if (!out) throw RequestError(500, "I/O error", fmt::format("cannot unpack {}: writing failed", shown));
    }
  }
}

std::filesystem::path make_private_folder(const std::filesystem::path& root, const char* prefix) {
  std::error_code ec;
  const auto base = root.empty() ? std::filesystem::temp_directory_path(ec) : root;
  if (ec) fail(ErrorKind::kIo, "no temp folder: {}", ec.message());
  std::string tmpl = (base / fmt::format("{}-XXXXXX", prefix)).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    fail(ErrorKind::kIo, "cannot create a folder in {}: {}", base.string(), std::strerror(errno));
  }
  return tmpl;
}

Upload::Folder::~Folder() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

Upload::Upload(const httplib::ContentReader& reader, const std::filesystem::path& root,
               std::uint64_t max_bytes, const std::set<std::string>& file_fields,
               const std::set<std::string>& text_fields)
    : folder_{make_private_folder(root, "voxir-upload")} {
  std::uint64_t received = 0;
  std::ofstream out;
  std::string* text = nullptr;
  std::optional<RequestError> refused;
  const auto refuse = [&](int status, const char* kind, std::string message) {
    if (!refused) refused.emplace(status, kind, std::move(message));
    return false;
  };
  const auto header = [&](const httplib::MultipartFormData& part) {
    if (out.is_open()) out.close();
    text = nullptr;
    if (file_fields.count(part.name) != 0) {
      const auto dir = folder_.path / std::to_string(files_.size());
      std::filesystem::create_directory(dir);
      File f{part.name, part.filename, dir / (part.name + extension_of(part.filename)), {}};
      out.open(f.path, std::ios::binary);
      if (!out) return refuse(500, "I/O error", fmt::format("cannot stage upload {}", part.filename));
      files_.push_back(std::move(f));
      return true;
    }
    if (text_fields.count(part.name) != 0) {
      text = &texts_[part.name];
      return true;
    }
    std::string expected;
    for (const auto& f : file_fields) expected += fmt::format("{}'{}' (file)", expected.empty() ? "" : ", ", f);
    for (const auto& f : text_fields) expected += fmt::format("{}'{}'", expected.empty() ? "" : ", ", f);
    return refuse(400, "usage error",
                  fmt::format("unexpected form field '{}'; expected {}", part.name, expected));
  };
  const auto content = [&](const char* data, std::size_t size) {
    received += size;
    if (received > max_bytes) {
      return refuse(413, "too large", fmt::format("the upload is larger than the limit of {} bytes", max_bytes));
    }
    if (text != nullptr) {
      if (text->size() + size > kMaxTextPart) {
        return refuse(413, "too large", fmt::format("a form field is larger than {} bytes", kMaxTextPart));
      }
      text->append(data, size);
      return true;
    }
    if (!out.is_open()) return refuse(400, "usage error", "form data outside a part");
    out.write(data, static_cast<std::streamsize>(size));
    if (!out) return refuse(500, "I/O error", "cannot write an upload to the temp folder");
    return true;
  };
  const bool ok = reader(header, content);
  if (out.is_open()) out.close();
  if (refused) throw *refused;
  if (!ok) throw RequestError(400, "usage error", "malformed multipart/form-data body");
}

const Upload::File* Upload::file(const std::string& field) const {
  for (const auto& f : files_) {
    if (f.field == field) return &f;
  }
  return nullptr;
}

std::string Upload::text(const std::string& field) const {
  const auto it = texts_.find(field);
  return it == texts_.end() ? std::string() : it->second;
}

std::string Upload::describe(std::string message) const {
  for (const auto& f : files_) {
    const std::string shown = f.client_name.empty() ? f.field : f.client_name;
    for (const auto& path : {f.unpacked, f.path}) {
      const std::string temp = path.string();
      if (temp.empty()) continue;
      for (auto at = message.find(temp); at != std::string::npos; at = message.find(temp, at + shown.size())) {
        message.replace(at, temp.size(), shown);
      }
    }
  }
  return message;
}

const std::filesystem::path& Upload::unpack(const File& file, std::uint64_t max_bytes) {
  for (auto& f : files_) {
    if (&f != &file) continue;
    f.unpacked = f.path.parent_path() / "unpacked";
    extract_zip(f.path, f.client_name.empty() ? f.field : f.client_name, f.unpacked, max_bytes);
    return f.unpacked;
  }
  throw RequestError(500, "internal", "unpack: not a file of this upload");
}

}  // namespace voxir::server
