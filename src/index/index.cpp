// Opening an index generation: manifest, sizes (and optionally checksums), mapped vectors,
// catalog and search structure.
#include "voxir/index.h"
#include "index/ann.h"
#include "index/catalog.h"
#include "index/manifest.h"
#include "index/mapped_file.h"
#include "index/staging.h"
#include "util/exceptions.h"
#include "util/file.h"
#include "voxir/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace voxir {

struct Index::Impl {
  // First member, so it is released last: registers this reader on its generation, which no
  // writer deletes while it is held (index/manifest.h).
  index::ReaderLock reader;
  std::filesystem::path dir;
  std::filesystem::path gen_dir;
  index::Manifest manifest;
  index::MappedFile vector_file;
  index::RowVectors rows;
  std::vector<IndexedVolume> volumes;
  std::vector<std::int64_t> first_rows;
  std::unordered_map<std::string, std::size_t> by_id;
  std::unique_ptr<index::Catalog> catalog;
  std::unique_ptr<index::Ann> ann;
  std::vector<std::vector<float>> content;  // per volume; empty: unknown
  std::vector<std::uint8_t> row_content;    // per row: 1 when row_has_content
  std::vector<std::int64_t> empty_slices;   // per volume
  std::int64_t empty_rows = 0;
  std::vector<std::uint8_t> predicted;  // per volume: 1 when a prediction is stored
  std::size_t num_predicted = 0;
};

namespace {

std::vector<std::string_view> fingerprint_parts(std::string_view s) {
  std::vector<std::string_view> parts;
  while (!s.empty()) {
    const auto cut = s.find(';');
    parts.push_back(s.substr(0, cut));
    if (cut == std::string_view::npos) break;
    s.remove_prefix(cut + 1);
  }
  return parts;
}

// Front ends parse a volume's metadata (voxir index info --json); a catalog row that is not an
// object would make them throw far from the file.
bool is_json_object(const std::string& text) {
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false).is_object();
}

}  // namespace

void check_same_embedder(const EmbedderIdentity& indexed, const EmbedderIdentity& query) {
  if (indexed.spec != query.spec) {
    fail(ErrorKind::kInvalidInput,
         "embedder differs: the index was built with \"{}\", this query uses \"{}\"", indexed.spec,
         query.spec);
  }
  if (indexed.dim != query.dim) {
    fail(ErrorKind::kInvalidInput,
         "embedder dimension differs: the index holds {}-d vectors, \"{}\" makes {}-d", indexed.dim,
         query.spec, query.dim);
  }
  if (indexed.fingerprint == query.fingerprint) return;
  const auto a = fingerprint_parts(indexed.fingerprint);
  const auto b = fingerprint_parts(query.fingerprint);
  std::vector<std::string> diffs;
  for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const std::string_view x = i < a.size() ? a[i] : "(none)";
    const std::string_view y = i < b.size() ? b[i] : "(none)";
    if (x != y) diffs.push_back(fmt::format("index has \"{}\", query has \"{}\"", x, y));
  }
  fail(ErrorKind::kInvalidInput, "embedder \"{}\" differs in its weights or preprocessing: {}",
       query.spec, fmt::join(diffs, "; "));
}

Index::Index(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Index::~Index() = default;

std::unique_ptr<Index> Index::open(const std::filesystem::path& dir,
                                   const IndexOpenOptions& options) {
  // Faiss, hnswlib and std::filesystem throw their own types; std::bad_alloc for a file whose
  // checked sizes still do not fit in memory.
  return translate_exceptions(dir, "opening the index", ErrorKind::kInvalidInput,
                              [&] { return open_checked(dir, options); });
}

std::unique_ptr<Index> IndexStaging::open(const std::filesystem::path& dir,
                                          const std::filesystem::path& gen_dir) {
  return translate_exceptions(gen_dir, "opening the new generation", ErrorKind::kInvalidInput,
                              [&] { return Index::open_checked(dir, {}, gen_dir); });
}

std::unique_ptr<Index> Index::open_checked(const std::filesystem::path& dir,
                                           const IndexOpenOptions& options,
                                           const std::filesystem::path& staged) {
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  if (staged.empty()) {
    impl->reader = index::lock_current_generation(dir, impl->gen_dir);
  } else {
    impl->gen_dir = staged;
  }
  const auto manifest_path = impl->gen_dir / index::kManifestFile;
  impl->manifest = index::manifest_from_json(read_text_file(manifest_path), manifest_path);
  const auto& m = impl->manifest;
  // The files a generation of this spec holds, no more (a listed name becomes a path) and no
  // fewer (each is checked below before any library reads it).
  std::vector<std::string> want{index::kVectorsFile, index::kCatalogFile};
  const auto ann_name = index::ann_file_name(m.spec);
  if (!ann_name.empty()) want.push_back(ann_name);
  std::vector<std::string> listed;
  for (const auto& f : m.files) listed.push_back(f.name);
  std::sort(want.begin(), want.end());
  std::sort(listed.begin(), listed.end());
  if (listed != want) {
    fail(ErrorKind::kInvalidInput, "{}: lists the files {}, a {} generation has {}",
         manifest_path.string(), fmt::join(listed, ", "), m.spec.str(), fmt::join(want, ", "));
  }
  for (const auto& f : m.files) {
    const auto path = impl->gen_dir / f.name;
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) fail(ErrorKind::kInvalidInput, "{}: missing (the manifest lists it)", path.string());
    if (size != f.bytes) {
      fail(ErrorKind::kInvalidInput, "{}: {} bytes, the manifest says {} (truncated or damaged)",
           path.string(), size, f.bytes);
    }
    // The search structure and the catalog are read whole at open (hnswlib loads the graph,
    // Faiss and SQLite trust offsets inside theirs), so checking them costs one more pass over
    // what is read anyway. The vectors are only mapped: O(1) open leaves them to verify.
    if (options.verify_checksums || f.name != index::kVectorsFile) {
      const auto crc = index::crc32_of_file(path);
      if (crc != f.crc32) {
        fail(ErrorKind::kInvalidInput, "{}: checksum {:08x}, the manifest says {:08x} (damaged)",
             path.string(), crc, f.crc32);
      }
    }
  }
  const auto vectors_path = impl->gen_dir / index::kVectorsFile;
  impl->vector_file = index::MappedFile(vectors_path);
  const auto expected =
      static_cast<std::uint64_t>(m.num_vectors) * static_cast<std::uint64_t>(m.embedder.dim) * 4;
  if (impl->vector_file.bytes().size() != expected) {
    fail(ErrorKind::kInvalidInput, "{}: {} bytes, expected {} ({} vectors of dimension {})",
         vectors_path.string(), impl->vector_file.bytes().size(), expected, m.num_vectors,
         m.embedder.dim);
  }
  impl->rows = {reinterpret_cast<const float*>(impl->vector_file.bytes().data()), m.num_vectors,
                m.embedder.dim};
  const auto catalog_path = impl->gen_dir / index::kCatalogFile;
  impl->catalog = std::make_unique<index::Catalog>(catalog_path);
  impl->volumes = impl->catalog->volumes();
  // Rows must tile 0..num_vectors-1 exactly before anything is sized by them.
  if (static_cast<std::int64_t>(impl->volumes.size()) != m.num_volumes) {
    fail(ErrorKind::kInvalidInput, "{}: holds {} volumes, the manifest says {}",
         catalog_path.string(), impl->volumes.size(), m.num_volumes);
  }
  std::int64_t next_row = 0;
  for (std::size_t i = 0; i < impl->volumes.size(); ++i) {
    const auto& v = impl->volumes[i];
    if (v.first_row != next_row || v.num_slices <= 0 || v.num_slices > m.num_vectors - next_row) {
      fail(ErrorKind::kInvalidInput,
           "{}: volume {} has {} slices from row {}, expected rows from {} within the {} vectors "
           "the manifest lists",
           catalog_path.string(), v.id, v.num_slices, v.first_row, next_row, m.num_vectors);
    }
    next_row += v.num_slices;
    impl->first_rows.push_back(v.first_row);
    if (!is_json_object(v.metadata_json)) {
      fail(ErrorKind::kInvalidInput, "{}: the metadata of volume {} is not a JSON object",
           catalog_path.string(), v.id);
    }
    if (!impl->by_id.emplace(v.id, i).second) {
      fail(ErrorKind::kInvalidInput, "{}: volume id {} appears twice", catalog_path.string(), v.id);
    }
  }
  if (next_row != m.num_vectors) {
    fail(ErrorKind::kInvalidInput, "{}: the volumes have {} slices, the manifest says {} vectors",
         catalog_path.string(), next_row, m.num_vectors);
  }
  auto contents = impl->catalog->contents(impl->volumes);
  impl->row_content.assign(static_cast<std::size_t>(next_row), 1);
  for (const auto& v : impl->volumes) {
    auto it = contents.find(v.id);
    std::int64_t empty = 0;
    if (it != contents.end()) {
      for (std::int64_t k = 0; k < v.num_slices; ++k) {
        if (!(it->second[static_cast<std::size_t>(k)] >= kMinContentMm2)) {
          impl->row_content[static_cast<std::size_t>(v.first_row + k)] = 0;
          ++empty;
        }
      }
      impl->content.push_back(std::move(it->second));
    } else {
      impl->content.emplace_back();
    }
    impl->empty_slices.push_back(empty);
    impl->empty_rows += empty;
  }
  impl->predicted.assign(impl->volumes.size(), 0);
  for (const std::size_t pos : impl->catalog->predicted_volumes()) {
    if (pos >= impl->volumes.size()) {
      fail(ErrorKind::kInvalidInput, "{}: a prediction is stored for volume position {} of {}",
           catalog_path.string(), pos, impl->volumes.size());
    }
    impl->predicted[pos] = 1;
    ++impl->num_predicted;
  }
  impl->ann = index::open_ann(
      m.spec, ann_name.empty() ? std::filesystem::path() : impl->gen_dir / ann_name, impl->rows);
  return std::unique_ptr<Index>(new Index(std::move(impl)));
}

const std::filesystem::path& Index::dir() const {
  return impl_->dir;
}
std::int64_t Index::generation() const {
  return impl_->manifest.generation;
}
const IndexSpec& Index::spec() const {
  return impl_->manifest.spec;
}
const EmbedderIdentity& Index::embedder() const {
  return impl_->manifest.embedder;
}
int Index::dim() const {
  return impl_->manifest.embedder.dim;
}
std::int64_t Index::num_vectors() const {
  return impl_->manifest.num_vectors;
}
std::span<const IndexedVolume> Index::volumes() const {
  return impl_->volumes;
}

const IndexedVolume* Index::find(std::string_view id) const {
  const auto it = impl_->by_id.find(std::string(id));
  return it == impl_->by_id.end() ? nullptr : &impl_->volumes[it->second];
}

std::size_t Index::volume_of_row(std::int64_t row) const {
  const auto& f = impl_->first_rows;
  const auto it = std::upper_bound(f.begin(), f.end(), row);
  return static_cast<std::size_t>(it - f.begin()) - 1;
}

std::span<const float> Index::vectors() const {
  return {impl_->rows.data, static_cast<std::size_t>(impl_->rows.n * impl_->rows.dim)};
}

std::span<const float> Index::volume_vectors(std::size_t volume) const {
  const auto& v = impl_->volumes.at(volume);
  return vectors().subspan(static_cast<std::size_t>(v.first_row * dim()),
                           static_cast<std::size_t>(v.num_slices * dim()));
}

VolumeVectors Index::labels(std::size_t volume) const {
  VolumeVectors out = impl_->catalog->labels(impl_->volumes.at(volume));
  out.content = impl_->content.at(volume);
  return out;
}

std::optional<PredictedAnatomy> Index::predicted(std::size_t volume) const {
  if (impl_->predicted.at(volume) == 0) return std::nullopt;
  return impl_->catalog->predicted(volume, impl_->volumes[volume]);
}

std::size_t Index::num_predicted() const {
  return impl_->num_predicted;
}

std::span<const float> Index::content(std::size_t volume) const {
  return impl_->content.at(volume);
}

bool Index::row_has_content(std::int64_t row) const {
  return impl_->row_content.at(static_cast<std::size_t>(row)) != 0;
}

std::int64_t Index::num_empty_rows() const {
  return impl_->empty_rows;
}

std::int64_t Index::empty_slices(std::size_t volume) const {
  return impl_->empty_slices.at(volume);
}

void check_volume_vectors(const VolumeVectors& v, int dim) {
  if (!is_json_object(v.volume.metadata_json)) {
    fail(ErrorKind::kInvalidInput, "volume {}: metadata {} is not a JSON object", v.volume.id,
         v.volume.metadata_json.substr(0, 80));
  }
  const auto d = static_cast<std::size_t>(dim);
  for (std::size_t i = 0; i < v.vectors.size(); ++i) {
    if (!std::isfinite(v.vectors[i])) {
      fail(ErrorKind::kInvalidInput,
           "volume {}: the vector of slice {} holds {} at dimension {}; an index stores finite "
           "vectors only",
           v.volume.id, d > 0 ? i / d : 0, v.vectors[i], d > 0 ? i % d : i);
    }
  }
  if (!v.content.empty() && v.content.size() != static_cast<std::size_t>(v.volume.num_slices)) {
    fail(ErrorKind::kInternal, "volume {}: content for {} slices, the volume has {}", v.volume.id,
         v.content.size(), v.volume.num_slices);
  }
  for (std::size_t k = 0; k < v.content.size(); ++k) {
    if (!(std::isfinite(v.content[k]) && v.content[k] >= 0)) {
      fail(ErrorKind::kInvalidInput, "volume {}: slice {} has content {} (expected an area >= 0)",
           v.volume.id, k, v.content[k]);
    }
  }
}

std::vector<std::pair<std::string, std::uint64_t>> Index::file_sizes() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  std::error_code ec;
  out.emplace_back(index::kManifestFile,
                   std::filesystem::file_size(impl_->gen_dir / index::kManifestFile, ec));
  for (const auto& f : impl_->manifest.files) out.emplace_back(f.name, f.bytes);
  return out;
}

bool Index::is_current() const {
  try {
    return index::current_generation(impl_->dir) == impl_->gen_dir;
  } catch (const Error&) {
    return false;
  }
}

void Index::search(std::span<const float> queries, std::int64_t n, int k, const AnnParams& params,
                   std::span<std::int64_t> ids, std::span<float> sims) const {
  const auto need = static_cast<std::size_t>(n * k);
  if (n < 0 || k <= 0 || queries.size() != static_cast<std::size_t>(n * dim()) ||
      ids.size() < need || sims.size() < need) {
    fail(ErrorKind::kInternal,
         "Index::search: {} query floats for n={} of dim {}, k={}, outputs {}/{}", queries.size(),
         n, dim(), k, ids.size(), sims.size());
  }
  if (n == 0) return;
  impl_->ann->search(queries.data(), n, k, params, ids.data(), sims.data());
}

}  // namespace voxir
