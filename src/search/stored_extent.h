// Where a class or region lies in an indexed volume, from its stored per-slice class presence.
#pragma once

#include "voxir/index.h"
#include "voxir/labels.h"

#include <array>
#include <cstdint>
#include <optional>

namespace voxir {

// First and last slice of `v` on which any class of `region` is present; nullopt when on none.
// Throws Error(kNotFound) when the volume was indexed without labels.
[[nodiscard]] std::optional<std::array<std::int64_t, 2>> stored_extent(const VolumeVectors& v,
                                                                      const Region& region);

}  // namespace voxir
