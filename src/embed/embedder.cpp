#include "embed/tissue_embedder.h"
#include "embed/torchscript_embedder.h"
#include "util/hash.h"
#include "voxir/embed.h"
#include "voxir/error.h"

#include <string>

namespace voxir {

double body_area_mm2(const Volume& volume, std::int64_t k) {
  std::int64_t count = 0;
  for (const float v : volume.slice(k)) count += v > kBodyHu ? 1 : 0;
  return static_cast<double>(count) * volume.spacing()[0] * volume.spacing()[1];
}

void Embedder::embed_measured(const Volume& volume, std::int64_t k0, std::int64_t k1,
                              std::span<float> out, std::span<float> content) const {
  embed(volume, k0, k1, out);
  if (content.size() != static_cast<std::size_t>(k1 - k0)) {
    fail(ErrorKind::kUsage, "embed: content holds {} floats, expected {} slices", content.size(),
         k1 - k0);
  }
  for (std::int64_t k = k0; k < k1; ++k) {
    content[static_cast<std::size_t>(k - k0)] = static_cast<float>(body_area_mm2(volume, k));
  }
}

std::vector<float> Embedder::embed_all(const Volume& volume) const {
  std::vector<float> out(static_cast<std::size_t>(volume.nz()) * static_cast<std::size_t>(dim()));
  embed(volume, 0, volume.nz(), out);
  return out;
}

SliceEmbeddings Embedder::embed_all_measured(const Volume& volume) const {
  SliceEmbeddings out;
  out.vectors.resize(static_cast<std::size_t>(volume.nz()) * static_cast<std::size_t>(dim()));
  out.content.resize(static_cast<std::size_t>(volume.nz()));
  embed_measured(volume, 0, volume.nz(), out.vectors, out.content);
  return out;
}

std::unique_ptr<Embedder> make_embedder(std::string_view spec, const EmbedderOptions& options) {
  const auto colon = spec.find(':');
  const std::string_view kind = spec.substr(0, colon);
  const std::string_view rest =
      colon == std::string_view::npos ? std::string_view{} : spec.substr(colon + 1);
  if (kind == "builtin") {
    const auto comma = rest.find(',');
    const std::string_view name = rest.substr(0, comma);
    const std::string_view params =
        comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (name == "tissue" || name.empty()) {
      if (comma != std::string_view::npos && params.empty()) {
        fail(ErrorKind::kUsage, "embedder spec '{}': empty parameter list after ','", spec);
      }
      return with_context(fmt::format("embedder spec '{}'", spec), [&] {
        return embed::make_tissue_embedder(embed::TissueConfig::from_params(params),
                                           options.threads);
      });
    }
    fail(ErrorKind::kUsage, "embedder spec '{}': unknown built-in embedder '{}' (known: tissue)",
         spec, name);
  }
  if (kind == "torchscript") {
    if (rest.empty())
      fail(ErrorKind::kUsage, "embedder spec '{}': expected torchscript:<model file>", spec);
    if (options.batch < 1)
      fail(ErrorKind::kUsage, "embedder options: batch {} (expected >= 1)", options.batch);
    return embed::make_torchscript_embedder(std::filesystem::path(rest), options);
  }
  if (kind == "external") {
    // Recorded by `voxir index import` (voxir/ingest.h) for vectors of a model voxir cannot run.
    fail(ErrorKind::kUnsupported,
         "embedder spec '{}': the index holds vectors imported from another model, which voxir "
         "cannot run to embed a volume; search it with precomputed query vectors "
         "(--query-vectors, docs/import.md) or an indexed volume, and add to it with index import",
         spec);
  }
  fail(
      ErrorKind::kUsage,
      "embedder spec '{}': unknown kind '{}' (expected builtin:<name> or torchscript:<model file>)",
      spec, kind);
}

std::uint64_t volume_content_hash(const Volume& volume) {
  Hasher h;
  h.update("voxir-volume/1");
  h.update_pod(std::span<const std::int64_t>(volume.dims()));
  h.update_pod(std::span<const double>(volume.spacing()));
  for (const auto& row : volume.affine()) h.update_pod(std::span<const double>(row));
  h.update_pod(volume.hu());
  return h.digest();
}

}  // namespace voxir
