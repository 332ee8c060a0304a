// voxir/version.h: which voxir is running; reports and --version print it.
#pragma once

#include <string_view>

namespace voxir {

// The release, e.g. "0.1.0".
[[nodiscard]] std::string_view version();
// The git commit the library was built from (at build time, not configure time), "-dirty"
// appended when tracked files had uncommitted changes; "unknown" outside a git checkout.
[[nodiscard]] std::string_view build_commit();

}  // namespace voxir
