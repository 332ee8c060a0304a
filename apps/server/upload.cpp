#include "upload.h"

#include "errors.h"
#include "voxir/error.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
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

}  // namespace

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
      File f{part.name, part.filename, dir / (part.name + extension_of(part.filename))};
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
    const std::string temp = f.path.string();
    const std::string shown = f.client_name.empty() ? f.field : f.client_name;
    for (auto at = message.find(temp); at != std::string::npos; at = message.find(temp, at + shown.size())) {
      message.replace(at, temp.size(), shown);
    }
  }
  return message;
}

}  // namespace voxir::server
