#include "embed/model_sidecar.h"

#include "util/exceptions.h"
#include "voxir/error.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace voxir::embed {
namespace {

using nlohmann::json;

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

int integer(const json& j, std::string_view field, const std::filesystem::path& path) {
  if (!j.is_number_integer())
    fail(ErrorKind::kInvalidInput, "{}: \"{}\" must be an integer", path.string(), field);
  return j.get<int>();
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

namespace {

ModelSidecar sidecar_from_json(const json& j, const std::filesystem::path& path) {
  if (!j.is_object()) fail(ErrorKind::kInvalidInput, "{}: expected a JSON object", path.string());
  if (j.value("format", "") != "voxir-model/1") {
    fail(ErrorKind::kInvalidInput, "{}: \"format\" is {} (expected \"voxir-model/1\")",
         path.string(), j.contains("format") ? j["format"].dump() : "missing");
  }
  ModelSidecar s;
  s.name = j.value("name", "");
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
  s.output_dim = integer(out.value("dim", json()), "output.dim", path);
  if (s.output_dim < 1 || s.output_dim > 65536) {
    fail(ErrorKind::kInvalidInput, "{}: output.dim = {} (expected 1..65536)", path.string(),
         s.output_dim);
  }
  s.output_index = out.contains("index") ? integer(out["index"], "output.index", path) : 0;
  const std::string pooling = out.value("pooling", "none");
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

}  // namespace

ModelSidecar parse_sidecar(std::string_view json_text, const std::filesystem::path& path) {
  const json j = translate_exceptions(path, "not valid JSON", ErrorKind::kInvalidInput,
                                     [&] { return json::parse(json_text); });
  // nlohmann-json also throws for a field of another type than asked for (j.value("name", "")
  // on a number).
  return translate_exceptions(path, "malformed model sidecar", ErrorKind::kInvalidInput,
                              [&] { return sidecar_from_json(j, path); });
}

}  // namespace voxir::embed
