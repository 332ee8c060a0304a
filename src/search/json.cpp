#include "voxir/json.h"

#include "search/region_extent.h"
#include "util/json_text.h"
#include "voxir/error.h"
#include "voxir/labels.h"

#include <nlohmann/json.hpp>

namespace voxir {
namespace {

using Json = nlohmann::ordered_json;

Json volume_entry(const Index& index, std::size_t i) {
  const auto& v = index.volumes()[i];
  return {{"id", v.id},
          {"path", v.source},
          {"slices", v.num_slices},
          {"empty_slices", index.empty_slices(i)},
          {"split", v.split},
          {"dims", v.dims},
          {"spacing", v.spacing},
          {"metadata", Json::parse(v.metadata_json)}};
}

}  // namespace

std::string search_answer_json(const SearchAnswer& answer, const SearchParams& params,
                               std::string_view index_name, std::string_view query_name,
                               int indent) {
  Json out;
  out["index"] = index_name;
  out["query"] = {{"path", query_name},
                  {"slices", answer.query_slices},
                  {"slices_used", answer.query_slices_used}};
  if (!answer.query_region.empty()) {
    out["query"]["region"] = answer.query_region;
    out["query_region"] = {{"name", answer.query_region},
                           {"first", answer.query_slices[0]},
                           {"last", answer.query_slices[1]},
                           {"predicted", answer.query_region_predicted},
                           {"confidence", answer.query_region_confidence}};
  }
  out["params"] = {{"k", params.k},           {"mode", to_string(params.mode)},
                   {"rerank", params.rerank}, {"rerank_n", params.rerank_n},
                   {"top", params.top},       {"exclude", answer.excluded},
                   {"ef", params.ann.ef_search}, {"nprobe", params.ann.nprobe},
                   {"refine", params.ann.refine}, {"require", params.require}};
  Json results = Json::array();
  for (const auto& r : answer.results) {
    Json alignment = Json::array();
    for (const auto& a : r.alignment) alignment.push_back({a.query_slice, a.volume_slice, a.similarity});
    results.push_back({{"volume", r.volume},
                       {"path", r.path},
                       {"score", r.score},
                       {"votes", r.votes},
                       {"location", r.location},
                       {"alignment", alignment}});
    if (r.region[0] >= 0) {
      results.back()["region"] = {{"first", r.region[0]},
                                  {"last", r.region[1]},
                                  {"predicted", r.region_predicted},
                                  {"confidence", r.region_confidence}};
    }
  }
  out["results"] = results;
  const auto& t = answer.timings;
  out["timings_ms"] = {{"read", t.read_ms},           {"embed", t.embed_ms},
                       {"candidates", t.candidates_ms}, {"aggregate", t.aggregate_ms},
                       {"rerank", t.rerank_ms},       {"localize", t.localize_ms},
                       {"total", t.total_ms}};
  return json_text(out, indent);
}

std::string index_info_json(const Index& index, std::string_view index_name,
                            bool checksums_verified, bool with_volumes, int indent) {
  std::uint64_t bytes = 0;
  Json files = Json::object();
  for (const auto& [name, size] : index.file_sizes()) {
    bytes += size;
    files[name] = size;
  }
  Json out;
  out["dir"] = index_name;
  out["generation"] = index.generation();
  out["index"] = index.spec().str();
  out["embedder"] = {{"spec", index.embedder().spec},
                     {"fingerprint", index.embedder().fingerprint},
                     {"dim", index.dim()}};
  out["volumes"] = index.volumes().size();
  out["vectors"] = index.num_vectors();
  out["empty_slices"] = index.num_empty_rows();
  out["predicted_volumes"] = index.num_predicted();
  out["bytes"] = bytes;
  out["bytes_per_vector"] =
      index.num_vectors() > 0 ? double(bytes) / double(index.num_vectors()) : 0.0;
  out["checksums_verified"] = checksums_verified;
  out["files"] = files;
  if (with_volumes) {
    Json list = Json::array();
    for (std::size_t i = 0; i < index.volumes().size(); ++i) list.push_back(volume_entry(index, i));
    out["volume_list"] = list;
  }
  return json_text(out, indent);
}

std::string volume_json(const Index& index, std::string_view id, int indent) {
  const IndexedVolume* v = index.find(id);
  if (v == nullptr) fail(ErrorKind::kNotFound, "{}: no indexed volume '{}'", index.dir().string(), id);
  const auto i = static_cast<std::size_t>(v - index.volumes().data());
  Json out = volume_entry(index, i);
  // Extents from the stored per-slice class presence (a class is present at >= 1 voxel).
  const VolumeVectors stored = index.labels(i);
  Json labels = Json::array();
  if (stored.presence_bytes > 0) {
    for (const auto& c : ClassCatalog::builtin().classes()) {
      const auto extent = stored_extent(stored, Region{c.name, false, c.index});
      if (extent) {
        labels.push_back({{"class", c.name}, {"region", c.coarse}, {"first", (*extent)[0]},
                          {"last", (*extent)[1]}});
      }
    }
  }
  out["labels"] = labels;
  // Anatomy predicted at ingest for a volume without labels (voxir/predict.h).
  if (const auto p = index.predicted(i)) {
    Json extents = Json::array();
    for (const auto& e : p->extents) {
      extents.push_back({{"name", e.name}, {"coarse", e.coarse}, {"first", e.slices[0]},
                         {"last", e.slices[1]}, {"confidence", e.confidence}});
    }
    out["predicted"] = {{"generation", p->generation},
                        {"labelled_volumes", p->labelled_volumes},
                        {"options", p->options},
                        {"extents", extents}};
  }
  return json_text(out, indent);
}

}  // namespace voxir
