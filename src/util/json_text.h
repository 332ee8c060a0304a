// JSON text that never throws on strings that are not UTF-8 (a Latin-1 file name, a meta.csv
// field): such bytes become U+FFFD, where nlohmann's dump() throws type_error 316. For every
// JSON the library writes or returns that holds paths, ids or metadata.
#pragma once

#include <string>

namespace voxir {

// `Json`: nlohmann::json or nlohmann::ordered_json (the caller includes nlohmann/json.hpp).
template <typename Json>
[[nodiscard]] std::string json_text(const Json& j, int indent = -1) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace voxir
