// A structural check of a DICOM Part-10 file, run before GDCM parses it.
//
// Why: Debian's GDCM is built with assertions enabled, and a truncated or corrupt file can make
// it abort the process (e.g. a File Meta Information element running past the end of the file),
// or be read "leniently" into a short pixel buffer. This walk checks that every element, item
// and fragment lies inside the file and that sequences and encapsulated pixel data are closed,
// so GDCM only ever sees files whose framing is sound. It does not interpret values.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace voxir::io {

struct DicomStructure {
  std::string transfer_syntax;           // (0002,0010), trimmed
  bool has_pixel_data = false;           // a top-level (7FE0,0010) element is present
  bool encapsulated = false;             // pixel data stored as fragments (compressed)
  std::uint64_t native_pixel_bytes = 0;  // length of native (uncompressed) pixel data
  bool dataset_checked = true;           // false for deflated transfer syntaxes (not walked)
};

// Walks `bytes`, the whole content of `path` (used in messages only). Throws
// Error(kInvalidInput) naming the file, the offset and what is wrong.
[[nodiscard]] DicomStructure check_dicom_structure(std::span<const std::uint8_t> bytes,
                                                   const std::filesystem::path& path);

}  // namespace voxir::io
