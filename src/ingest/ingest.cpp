// From volumes on disk to index generations: naming, reading, embedding, labelling.
#include "util/exceptions.h"
#include "util/json_text.h"
#include "voxir/dataset.h"
#include "voxir/embed.h"
#include "voxir/error.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/labels.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <set>

namespace voxir {
namespace {

std::string strip_nifti_suffix(std::string name) {
  for (const std::string suffix : {".nii.gz", ".nii"}) {
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return name.substr(0, name.size() - suffix.size());
    }
  }
  return name;
}

std::string unique_id(const std::string& base, std::set<std::string>& taken) {
  std::string id = base.empty() ? "volume" : base;
  for (int n = 2; taken.count(id) != 0; ++n) id = fmt::format("{}-{}", base, n);
  taken.insert(id);
  return id;
}

EmbedderIdentity identity_of(const Embedder& embedder) {
  return {embedder.spec(), embedder.fingerprint(), embedder.dim()};
}

// Reads, embeds and labels one volume (ingest_volume without the context and translation).
VolumeVectors read_and_embed(const VolumeSource& source, const Embedder& embedder,
                             EmbeddingCache* cache) {
  const Volume volume = read_volume(source.path, source.read);
  VolumeVectors out;
  out.volume.id = source.id.empty() ? volume_id_for_path(source.path) : source.id;
  std::error_code ec;  // absolute, so the catalog means the same from any working directory
  out.volume.source = std::filesystem::absolute(source.path, ec).lexically_normal().string();
  out.volume.dims = volume.dims();
  out.volume.spacing = volume.spacing();
  out.volume.split = source.split;
  out.volume.metadata_json = source.metadata_json.empty() ? "{}" : source.metadata_json;
  out.volume.num_slices = volume.nz();
  if (volume.nz() <= 0) fail(ErrorKind::kInvalidInput, "the volume has no slices");
  // The embedder spreads a volume's slices over its own threads.
  SliceEmbeddings embedded = cache == nullptr ? embedder.embed_all_measured(volume)
                                              : cache->embed_all_measured(embedder, volume);
  out.vectors = std::move(embedded.vectors);
  out.content = std::move(embedded.content);
  // A misbehaving embedder (NaN weights, a division by zero) is caught here, so the volume is
  // skipped with this reason rather than failing the whole write.
  check_volume_vectors(out, embedder.dim());
  const auto largest = std::max_element(out.content.begin(), out.content.end());
  if (largest != out.content.end() && !(*largest >= kMinContentMm2)) {
    fail(ErrorKind::kInvalidInput,
         "no slice shows a body (the largest body area of its {} slices is {:.0f} mm², a slice "
         "needs {:.0f} mm²): nothing in it could be found",
         volume.nz(), *largest, kMinContentMm2);
  }
  if (!source.labels.empty()) {
    const SliceLabels labels =
        with_context(fmt::format("reading labels {}", source.labels.string()),
                     [&] {
                       return translate_exceptions({}, {}, ErrorKind::kInvalidInput,
                                                   [&] { return read_labels(source.labels, volume); });
                     });
    // Recorded so that the labels can be read again (the server's label overlays).
    out.volume.labels_source =
        std::filesystem::absolute(source.labels, ec).lexically_normal().string();
    const auto classes = labels.catalog().classes().size();
    out.presence_bytes = static_cast<int>((classes + 7) / 8);
    out.presence.assign(static_cast<std::size_t>(volume.nz() * out.presence_bytes), 0);
    for (std::size_t c = 0; c < classes; ++c) {
      for (std::int64_t k = 0; k < volume.nz(); ++k) {
        if (labels.present(static_cast<int>(c), k)) {
          out.presence[static_cast<std::size_t>(k * out.presence_bytes) + c / 8] |=
              static_cast<std::uint8_t>(1u << (c % 8));
        }
      }
    }
  }
  return out;
}

// Embeds and stages every source; a volume that fails is reported and skipped.
std::vector<VolumeVectors> ingest_all(std::span<const VolumeSource> sources,
                                      const Embedder& embedder, const BuildOptions& options,
                                      BuildReport& report) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<VolumeVectors> out;
  std::optional<EmbeddingCache> cache;
  if (!options.embedding_cache.empty()) cache.emplace(options.embedding_cache);
  std::optional<ErrorKind> first_kind;  // of the first failure: the kind when all fail
  BuildProgress progress;
  progress.volumes_total = sources.size();
  progress.stage = "embedding";
  for (const auto& source : sources) {
    try {
      out.push_back(ingest_volume(source, embedder, cache ? &*cache : nullptr));
      progress.slices_done += out.back().volume.num_slices;
    } catch (const Error& e) {
      if (options.strict) throw;
      report.skipped.emplace_back(source.path.string(), e.what());
      if (!first_kind) first_kind = e.kind();
    }
    ++progress.volumes_done;
    progress.current = source.id.empty() ? source.path.string() : source.id;
    progress.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (options.progress) options.progress(progress);
  }
  if (out.empty()) {
    fail(first_kind.value_or(ErrorKind::kInvalidInput), "no volume could be indexed{}",
         report.skipped.empty() ? std::string()
                                : fmt::format(" (first failure: {}: {})", report.skipped[0].first,
                                              report.skipped[0].second));
  }
  if (cache) report.from_cache = cache->stats().hits;
  return out;
}

// Predicts the added volumes without labels (all of a new index's) in the new generation.
WriteOptions write_options(const BuildOptions& options, const std::vector<VolumeVectors>& staged) {
  WriteOptions out{options.threads, options.progress, {}};
  if (!options.predict) return out;
  std::vector<std::string> unlabelled;
  for (const auto& v : staged) {
    if (v.presence_bytes == 0) unlabelled.push_back(v.volume.id);
  }
  if (unlabelled.empty()) return out;
  options.prediction.validate();
  out.predict = [ids = std::move(unlabelled), prediction = options.prediction](const Index& index) {
    return predict_unlabelled(index, ids, prediction);
  };
  return out;
}

}  // namespace

std::filesystem::path default_embedding_cache() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::filesystem::path(xdg) / "voxir" / "embeddings";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".cache" / "voxir" / "embeddings";
  }
  return {};
}

std::string volume_id_for_path(const std::filesystem::path& path) {
  auto p = path.lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "dir/" -> "dir"
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) return p.filename().string();
  const std::string stem = strip_nifti_suffix(p.filename().string());
  if ((stem == "ct" || stem == "image") && p.has_parent_path()) {
    const auto parent = std::filesystem::absolute(p, ec).parent_path().filename().string();
    if (!parent.empty()) return parent;
  }
  return stem;
}

std::vector<VolumeSource> sources_from_paths(std::span<const std::filesystem::path> paths,
                                             std::span<const std::string> taken_ids,
                                             std::string_view id_prefix, const ReadOptions& read) {
  std::set<std::string> taken(taken_ids.begin(), taken_ids.end());
  std::vector<VolumeSource> out;
  for (const auto& path : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec) && std::filesystem::exists(path / "meta.csv", ec)) {
      const Dataset dataset = Dataset::open(path);
      // A dataset keeps its own ids (s0001...), in a namespace of its own when they collide with
      // ids already taken: all of them get the same "<folder>:" prefix, so they stay stable
      // and readable, and a second TS release or another hospital's export fits beside the first.
      std::string prefix(id_prefix);
      const bool collides = std::any_of(dataset.subjects().begin(), dataset.subjects().end(),
                                        [&](const auto& s) { return taken.count(prefix + s.id) != 0; });
      if (collides && prefix.empty()) {
        auto folder = path.lexically_normal();
        if (!folder.has_filename()) folder = folder.parent_path();
        prefix = std::filesystem::absolute(folder, ec).filename().string() + ":";
      }
      for (const auto& subject : dataset.subjects()) {
        VolumeSource s;
        s.id = prefix + subject.id;
        if (taken.count(s.id) != 0) {
          fail(ErrorKind::kUsage,
               "{}: volume id {} is already in use; give the collection its own prefix (id_prefix, "
               "--id-prefix on the command line)",
               path.string(), s.id);
        }
        taken.insert(s.id);
        s.path = subject.ct;
        if (std::filesystem::is_directory(subject.segmentations, ec))
          s.labels = subject.segmentations;
        s.split = subject.split;
        s.read = read;
        // meta.csv may be in Latin-1 (an institution name).
        s.metadata_json = json_text(nlohmann::json(subject.meta));
        out.push_back(std::move(s));
      }
      continue;
    }
    VolumeSource s;
    s.id = unique_id(std::string(id_prefix) + volume_id_for_path(path), taken);
    s.path = path;
    s.read = read;
    // TS layout of a loose subject: <id>/ct.nii.gz beside <id>/segmentations/.
    const auto segmentations = std::filesystem::absolute(path, ec).parent_path() / "segmentations";
    if (!std::filesystem::is_directory(path, ec) &&
        std::filesystem::is_directory(segmentations, ec)) {
      s.labels = segmentations;
    }
    out.push_back(std::move(s));
  }
  return out;
}

VolumeVectors ingest_volume(const VolumeSource& source, const Embedder& embedder,
                            EmbeddingCache* cache) {
  // Whatever a reader, the embedder or the cache throws (a filesystem_error from an unreadable
  // labels folder, c10::Error, std::bad_alloc for a huge volume) fails this volume, with its path.
  return with_context(fmt::format("indexing {}", source.path.string()), [&] {
    return translate_exceptions({}, {}, ErrorKind::kInvalidInput,
                                [&] { return read_and_embed(source, embedder, cache); });
  });
}

BuildReport build_index(const std::filesystem::path& dir, std::span<const VolumeSource> sources,
                        const Embedder& embedder, const BuildOptions& options) {
  options.index.validate(embedder.dim());
  BuildReport report;
  auto staged = ingest_all(sources, embedder, options, report);
  auto write = write_options(options, staged);
  auto written = write_generation(dir, /*create=*/true, options.index, identity_of(embedder),
                                  std::move(staged), {}, write);
  written.skipped = std::move(report.skipped);
  written.from_cache = report.from_cache;
  return written;
}

BuildReport add_to_index(const std::filesystem::path& dir, std::span<const VolumeSource> sources,
                         const Embedder& embedder, const BuildOptions& options) {
  {
    const auto index = Index::open(dir);
    check_same_embedder(index->embedder(), identity_of(embedder));
  }
  BuildReport report;
  auto staged = ingest_all(sources, embedder, options, report);
  auto write = write_options(options, staged);
  auto written = write_generation(dir, /*create=*/false, {}, {}, std::move(staged), {}, write);
  written.skipped = std::move(report.skipped);
  written.from_cache = report.from_cache;
  return written;
}

BuildReport build_index_from_paths(const std::filesystem::path& dir,
                                   std::span<const std::filesystem::path> paths,
                                   std::string_view embedder_spec, const BuildOptions& options) {
  const auto embedder = make_embedder(embedder_spec, {.threads = options.threads});
  return build_index(dir, sources_from_paths(paths, {}, options.id_prefix, options.read), *embedder,
                     options);
}

BuildReport add_to_index_from_paths(const std::filesystem::path& dir,
                                    std::span<const std::filesystem::path> paths,
                                    const BuildOptions& options) {
  std::vector<std::string> taken;
  std::string spec;
  {
    const auto index = Index::open(dir);
    for (const auto& v : index->volumes()) taken.push_back(v.id);
    spec = index->embedder().spec;
  }
  const auto embedder = make_embedder(spec, {.threads = options.threads});
  return add_to_index(dir, sources_from_paths(paths, taken, options.id_prefix, options.read),
                      *embedder, options);
}

BuildReport predict_index(const std::filesystem::path& dir, const PredictOptions& prediction,
                          const WriteOptions& options) {
  prediction.validate();
  {
    const auto index = Index::open(dir);
    (void)AnatomyPredictor(*index);  // fails now, naming the index, when it has no labels
  }
  WriteOptions write = options;
  write.predict = [&](const Index& index) { return predict_unlabelled(index, {}, prediction); };
  return write_generation(dir, /*create=*/false, {}, {}, {}, {}, write);
}

BuildReport remove_from_index(const std::filesystem::path& dir, std::string_view volume_id,
                              const WriteOptions& options) {
  const std::string id(volume_id);
  return write_generation(dir, /*create=*/false, {}, {}, {}, std::span<const std::string>(&id, 1),
                          options);
}

}  // namespace voxir
