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
    std::filesystem::path unpacked;  // a zip's content after unpack(): <temp>/<n>/unpacked
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

  // `message` with every temp path of an uploaded file (and of a zip's unpacked content) replaced
  // by the client's name for it, so an error about an upload names what the user sent.
  [[nodiscard]] std::string describe(std::string message) const;

  // Extracts the zip `file` (one of files()) into <temp>/<n>/unpacked (extract_zip) and returns
  // that folder; throws like extract_zip, naming the file as the client called it.
  const std::filesystem::path& unpack(const File& file, std::uint64_t max_bytes);

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

// Most entries (files and folders) a zip upload may hold (docs/limits.md): a CT series has one
// file per slice, a few thousand at most.
inline constexpr std::size_t kMaxZipEntries = 100000;

// Whether `file` starts with a zip signature (a local file header, or the end record of an empty
// archive).
[[nodiscard]] bool is_zip(const std::filesystem::path& file);

// Extracts the zip archive `zip` (libarchive) into the new folder `dest`, for the DICOM reader,
// which reads one folder and tells files by content: every regular file goes straight into `dest`
// as "<n>-<file name>" (n counts the entries, so names never collide), whatever folder it was in.
// Bounds, checked while extracting: more than `max_bytes` uncompressed in all gives
// RequestError(413) as soon as it is exceeded; more than kMaxZipEntries entries, an entry with an
// absolute path, a ".." component, a symbolic or hard link, a device or a FIFO, a damaged or
// encrypted archive give RequestError(422) naming the entry. `shown` is the archive's name in
// messages. On failure what was extracted stays in `dest`: the caller removes its folder.
void extract_zip(const std::filesystem::path& zip, const std::string& shown,
                 const std::filesystem::path& dest, std::uint64_t max_bytes);

}  // namespace voxir::server
