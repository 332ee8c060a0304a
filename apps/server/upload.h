// Uploaded files: multipart/form-data parts streamed to a private temp folder (never held whole in
// memory), which is removed when the Upload goes away, whatever happened in between.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace voxir::server {

class Upload {
 public:
  struct File {
    std::string field;             // the form field ("file", "labels")
    std::string client_name;       // the name the client gave; only shown in messages
    std::filesystem::path path;    // where it lies now: <temp>/<n>/<field><ext>
  };

  // Reads every part of `reader`: parts named in `file_fields` are written to files (their
  // extension, .nii, .nii.gz or .zip, kept from the client's name; nothing else of that name is
  // used), parts named in `text_fields` are kept as text (at most 1 MiB each). Any other part, a
  // missing boundary or a part too large gives a RequestError (400, 413). `root`: where the temp
  // folder goes (empty: the system's).
  // More than `max_bytes` in all gives a RequestError(413) as soon as it is exceeded.
  Upload(const httplib::ContentReader& reader, const std::filesystem::path& root,
         std::uint64_t max_bytes, const std::set<std::string>& file_fields,
         const std::set<std::string>& text_fields);
  ~Upload() = default;
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;

  [[nodiscard]] const std::vector<File>& files() const { return files_; }
  // The first file of `field`, or nullptr.
  [[nodiscard]] const File* file(const std::string& field) const;
  // The text of `field`, or "".
  [[nodiscard]] std::string text(const std::string& field) const;
  [[nodiscard]] const std::filesystem::path& folder() const { return folder_.path; }

  // `message` with every temp path of an uploaded file replaced by the client's name for it, so an
  // error about an upload names what the user sent.
  [[nodiscard]] std::string describe(std::string message) const;

 private:
  // Removes the folder with all in it, also when the constructor throws.
  struct Folder {
    std::filesystem::path path;
    ~Folder();
  };
  Folder folder_;
  std::vector<File> files_;
  std::map<std::string, std::string> texts_;
};

// A fresh private folder (mode 0700) under `root` (empty: the system's temp folder). Throws
// Error(kIo).
[[nodiscard]] std::filesystem::path make_private_folder(const std::filesystem::path& root,
                                                        const char* prefix);

}  // namespace voxir::server
