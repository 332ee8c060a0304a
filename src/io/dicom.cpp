#include "io/dicom.h"

#include "util/file.h"
#include "voxir/error.h"

#include <cstring>

namespace voxir::io {

bool looks_like_dicom(const std::filesystem::path& path) {
  const auto head = read_file_prefix(path, 132);
  return head.size() == 132 && std::memcmp(head.data() + 128, "DICM", 4) == 0;
}

Volume read_dicom_series(const std::filesystem::path& folder, const ReadOptions&) {
  fail(ErrorKind::kUnsupported, "{}: DICOM reading is not implemented yet", folder.string());
}

}  // namespace voxir::io
