// TEMPORARY, delete when main (src/anatomy/, src/embed/) is merged into this branch: the
// search branch was written against voxir/dataset.h, voxir/labels.h and voxir/embed.h before
// their implementations existed. These stand-ins only fail, with a message saying why; a merge
// that brings the real definitions fails to link until this file (and its line in
// src/CMakeLists.txt) is removed, so it cannot linger unnoticed.
#include "voxir/dataset.h"
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/labels.h"

namespace voxir {

Dataset Dataset::open(const std::filesystem::path& root) {
  fail(ErrorKind::kUnsupported, "{}: reading TS datasets is not merged into this build yet",
       root.string());
}

SliceLabels read_labels(const std::filesystem::path& path, const Volume& /*ct*/,
                        const LabelReadOptions& /*options*/) {
  fail(ErrorKind::kUnsupported, "{}: reading labels is not merged into this build yet",
       path.string());
}

const ClassCatalog& ClassCatalog::builtin() {
  fail(ErrorKind::kUnsupported, "the class catalogue is not merged into this build yet");
}

const ClassInfo& ClassCatalog::at(std::string_view name) const {
  fail(ErrorKind::kUnsupported,
       "class \"{}\": the class catalogue is not merged into this build yet", name);
}

std::optional<std::array<std::int64_t, 2>> SliceLabels::extent(int /*class_index*/,
                                                               std::uint32_t /*min_voxels*/) const {
  fail(ErrorKind::kUnsupported, "label extents are not merged into this build yet");
}

const ClassInfo* ClassCatalog::find(std::string_view name) const {
  fail(ErrorKind::kUnsupported,
       "class \"{}\": the class catalogue is not merged into this build yet", name);
}

std::optional<std::array<std::int64_t, 2>> SliceLabels::coarse_extent(
    int /*coarse_index*/, std::uint32_t /*min_voxels*/) const {
  fail(ErrorKind::kUnsupported, "label extents are not merged into this build yet");
}

std::unique_ptr<Embedder> make_embedder(std::string_view spec) {
  fail(ErrorKind::kUnsupported, "embedder \"{}\": no embedder is merged into this build yet", spec);
}

}  // namespace voxir
