#include "search/stored_extent.h"

#include "voxir/error.h"

namespace voxir {

// The extent of `region` over an indexed volume's class-presence bitsets.
std::optional<std::array<std::int64_t, 2>> stored_extent(const VolumeVectors& v, const Region& region) {
  if (v.presence_bytes == 0) {
    fail(ErrorKind::kNotFound, "indexed volume {} has no labels to find region '{}' in",
         v.volume.id, region.name);
  }
  const auto classes = ClassCatalog::builtin().region_classes(region);
  std::optional<std::array<std::int64_t, 2>> out;
  for (std::int64_t k = 0; k < v.volume.num_slices; ++k) {
    const std::uint8_t* row = v.presence.data() + k * v.presence_bytes;
    for (const int c : classes) {
      if (c / 8 >= v.presence_bytes || ((row[c / 8] >> (c % 8)) & 1) == 0) continue;
      if (!out) out = std::array<std::int64_t, 2>{k, k};
      (*out)[1] = k;
      break;
    }
  }
  return out;
}

}  // namespace voxir
