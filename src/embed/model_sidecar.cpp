#include "embed/model_sidecar.h"

#include "voxir/error.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>

namespace voxir::embed {
namespace {

using nlohmann::json;

// Bounds on sidecar fields, checked before the values size anything (docs/limits.md). Input sizes
// and channel counts are bounded by Preprocessing::validate.
// Largest embedding: 65536 floats is 256 KiB per slice, 16x the largest ViT (4096).
constexpr int kMaxOutputDim = 65536;
// Largest element index into a model's tuple/list output; models return a handful of tensors.
constexpr int kMaxOutputIndex = 63;
// Longest "name": it is shown in listings and stored in index manifests.
constexpr std::size_t kMaxNameLength = 256;

std::vector<float> floats(const json& j, std::string_view field,
                          const std::filesystem::path& path) {
  if (!j.is_array() || j.empty()) {
    fail(ErrorKind::kInvalidInput, "{}: \"{}\" must be a non-empty array of numbers", path.string(),
         field);
  }
  std::vector<float> out;
  for (const auto& v : j) {
    if (!v.is_number())
      fail(ErrorKind::kInvalidInput, "{}: \"{}\" holds a non-number", path.string(), field);
    out.push_back(v.get<float>());
  }
  return out;
}

// An integer field within [lo, hi]; the range is checked on the 64-bit value, before narrowing.
int integer(const json& j, std::string_view field, const std::filesystem::path& path,
            std::int64_t lo = std::numeric_limits<int>::min(), std::int64_t hi = std::numeric_limits<int>::max()) {
  if (!j.is_number_integer())
    fail(ErrorKind::kInvalidInput, "{}: \"{}\" must be an integer", path.string(), field);
  const bool is_unsigned = j.is_number_unsigned();
  const auto u = is_unsigned ? j.get<std::uint64_t>() : 0;
  const std::int64_t v = is_unsigned ? static_cast<std::int64_t>(std::min<std::uint64_t>(u, std::numeric_limits<std::int64_t>::max())) : j.get<std::int64_t>();
  if (v < lo || v > hi) {
    fail(ErrorKind::kInvalidInput, "{}: {} = {} (expected {}..{})", path.string(), field, j.dump(), lo, hi);
  }
  return static_cast<int>(v);
}

// A string field, or `fallback` when absent; any other type is refused (json::value would throw a
// type_error that is no voxir::Error).
std::string text(const json& j, const char* field, const std::filesystem::path& path,
                 std::string fallback) {
  if (!j.contains(field)) return fallback;
  if (!j[field].is_string()) {
    fail(ErrorKind::kInvalidInput, "{}: \"{}\" must be a string (found {})", path.string(), field,
         j[field].type_name());
  }
  return j[field].get<std::string>();
}

}  // namespace

std::string ModelSidecar::to_string() const {
  static constexpr const char* kPooling[] = {"none", "cls", "mean"};
  return fmt::format("{};out={};index={};pool={}", preprocessing.to_string(), output_dim,
                     output_index, kPooling[static_cast<int>(pooling)]);
}

std::filesystem::path find_sidecar(const std::filesystem::path& model) {
  std::filesystem::path a = model;
  a += ".json";
  if (std::filesystem::exists(a)) return a;
  std::filesystem::path b = model;
  b.replace_extension(".json");
  if (std::filesystem::exists(b)) return b;
  fail(ErrorKind::kNotFound, "{}: no sidecar found (looked for {} and {})", model.string(),
       a.string(), b.string());
}

ModelSidecar parse_sidecar(std::string_view json_text, const std::filesystem::path& path) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    fail(ErrorKind::kInvalidInput, "{}: not valid JSON: {}", path.string(), e.what());
  }
  if (!j.is_object()) fail(ErrorKind::kInvalidInput, "{}: expected a JSON object", path.string());
  if (!j.contains("format") || !j["format"].is_string() || j["format"] != "voxir-model/1") {
    fail(ErrorKind::kInvalidInput, "{}: \"format\" is {} (expected \"voxir-model/1\")",
         path.string(), j.contains("format") ? j["format"].dump() : "missing");
  }
  ModelSidecar s;
  s.name = text(j, "name", path, "");
  if (s.name.size() > kMaxNameLength) {
    fail(ErrorKind::kInvalidInput, "{}: \"name\" is {} characters long (expected at most {})",
         path.string(), s.name.size(), kMaxNameLength);
  }
  for (const char* field : {"input", "output"}) {
    if (!j.contains(field) || !j[field].is_object()) {
      fail(ErrorKind::kInvalidInput, "{}: \"{}\" object is missing", path.string(), field);
    }
  }
  const json& in = j["input"];
  Preprocessing& p = s.preprocessing;
  p.input_width = integer(in.value("width", json()), "input.width", path);
  p.input_height = integer(in.value("height", json()), "input.height", path);
  p.channels = integer(in.value("channels", json()), "input.channels", path);
  if (j.contains("windows")) {
    if (!j["windows"].is_array()) {
      fail(ErrorKind::kInvalidInput, "{}: \"windows\" must be an array of [lo, hi] pairs", path.string());
    }
    p.windows.clear();
    for (const auto& w : j["windows"]) {
      const auto lohi = floats(w, "windows[]", path);
      if (lohi.size() != 2)
        fail(ErrorKind::kInvalidInput, "{}: each window is [lo, hi]", path.string());
      p.windows.push_back({lohi[0], lohi[1]});
    }
  }
  if (!j.contains("mean") || !j.contains("std")) {
    fail(ErrorKind::kInvalidInput, "{}: \"mean\" and \"std\" are required", path.string());
  }
  p.mean = floats(j["mean"], "mean", path);
  p.std = floats(j["std"], "std", path);
  const json& out = j["output"];
  s.output_dim = integer(out.value("dim", json()), "output.dim", path, 1, kMaxOutputDim);
  s.output_index =
      out.contains("index") ? integer(out["index"], "output.index", path, 0, kMaxOutputIndex) : 0;
  const std::string pooling = text(out, "pooling", path, "none");
  if (pooling == "none")
    s.pooling = Pooling::kNone;
  else if (pooling == "cls")
    s.pooling = Pooling::kCls;
  else if (pooling == "mean")
    s.pooling = Pooling::kMean;
  else
    fail(ErrorKind::kInvalidInput, "{}: output.pooling \"{}\" (expected none, cls or mean)",
         path.string(), pooling);
  try {
    p.validate();
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, fmt::format("{}: {}", path.string(), e.what()));
  }
  return s;
}

}  // namespace voxir::embed
