// Importing vectors made outside voxir (.npy files) as index generations. Every file is read and
// every rule checked before write_generation is called, so a bad file leaves the index untouched
// and the error names the file, the row and the rule rather than a volume staged from it.
#include "index/manifest.h"
#include "util/file.h"
#include "voxir/error.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/npy.h"

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace voxir {
namespace {

constexpr std::string_view kExternalPrefix = "external:";

std::string shape_text(const NpyArray& a) {
  return fmt::format("({})", fmt::join(a.shape, ", "));
}

// A float matrix of `n x d` rows (d = dim when dim > 0), or an error naming the file and role.
void check_float_matrix(const NpyArray& a, const std::filesystem::path& file, std::string_view role,
                        int dim) {
  if (!a.is_float()) {
    fail(ErrorKind::kInvalidInput, "{}: {} of dtype '{}' (expected float32 '<f4' or float16 '<f2')",
         file.string(), role, to_string(a.dtype));
  }
  if (a.shape.size() != 2 || a.shape[0] < 1 || a.shape[1] < 1) {
    fail(ErrorKind::kInvalidInput,
         "{}: {} of shape {} (expected a 2-d array, one row per slice: (n, d) with n, d >= 1)",
         file.string(), role, shape_text(a));
  }
  if (a.shape[1] > index::kMaxDim) {
    fail(ErrorKind::kInvalidInput, "{}: {} of dimension {} (an index holds at most {})",
         file.string(), role, a.shape[1], index::kMaxDim);
  }
  if (dim > 0 && a.shape[1] != dim) {
    fail(ErrorKind::kInvalidInput, "{}: {}-d {}, but the index holds {}-d vectors", file.string(),
         a.shape[1], role, dim);
  }
}

// One integer per row, `rows` of them.
void check_int_vector(const NpyArray& a, const std::filesystem::path& file, std::string_view role,
                      std::int64_t rows, const std::filesystem::path& vectors) {
  if (a.is_float()) {
    fail(ErrorKind::kInvalidInput, "{}: {} of dtype '{}' (expected integers, '<i4' or '<i8')",
         file.string(), role, to_string(a.dtype));
  }
  if (a.shape.size() != 1 || a.shape[0] != rows) {
    fail(ErrorKind::kInvalidInput, "{}: {} of shape {} (expected ({},): one per row of {})",
         file.string(), role, shape_text(a), rows, vectors.string());
  }
}

// Checks that every value is finite and each row has a length, then L2-normalises each row.
// `where(r)` describes row r for messages.
template <typename Where>
void normalise_rows(std::vector<float>& x, std::size_t dim, const std::filesystem::path& file,
                    Where&& where) {
  const std::size_t rows = x.size() / dim;
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = x.data() + r * dim;
    double sum = 0;
    for (std::size_t j = 0; j < dim; ++j) {
      if (!std::isfinite(row[j])) {
        fail(ErrorKind::kInvalidInput, "{}: row {}{} column {} is {} (expected finite values)",
             file.string(), r, where(r), j, std::isnan(row[j]) ? "NaN" : "infinite");
      }
      sum += double(row[j]) * double(row[j]);
    }
    if (!(sum > 0) || !std::isfinite(sum)) {
      fail(ErrorKind::kInvalidInput,
           "{}: row {}{} is all zeros (expected a nonzero vector: similarity is the cosine)",
           file.string(), r, where(r));
    }
    const auto scale = static_cast<float>(1.0 / std::sqrt(sum));
    for (std::size_t j = 0; j < dim; ++j) row[j] *= scale;
  }
}

// The names file: one line per distinct id, in increasing id order.
std::vector<std::string> read_names(const std::filesystem::path& file, std::size_t expected) {
  const std::string text = read_text_file(file);
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(std::move(line));
    start = end + 1;
  }
  if (names.size() != expected) {
    fail(ErrorKind::kInvalidInput,
         "{}: {} lines (expected {}: one name per distinct volume id, in increasing id order)",
         file.string(), names.size(), expected);
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty() || names[i].find_first_not_of(" \t") == std::string::npos) {
      fail(ErrorKind::kInvalidInput, "{}: line {} is empty (expected a volume name)", file.string(),
           i + 1);
    }
    if (!seen.insert(names[i]).second) {
      fail(ErrorKind::kInvalidInput, "{}: line {}: name \"{}\" appears twice (names are ids)",
           file.string(), i + 1, names[i]);
    }
  }
  return names;
}

}  // namespace

std::string external_embedder_spec(int dim) {
  return fmt::format("{}{}", kExternalPrefix, dim);
}

BuildReport import_vectors(const std::filesystem::path& dir, const ImportSource& source,
                           const ImportOptions& options) {
  // The index first: a dimension that differs is reported before a large file is read whole.
  std::unique_ptr<Index> existing;
  try {
    existing = Index::open(dir);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kNotFound) throw;
  }
  if (existing) {
    if (existing->embedder().spec.rfind(kExternalPrefix, 0) != 0) {
      fail(ErrorKind::kInvalidInput,
           "{}: the index holds vectors of embedder \"{}\"; imported vectors go only into a new "
           "index or one made by import (vectors of two models cannot be compared)",
           dir.string(), existing->embedder().spec);
    }
    if (options.index && *options.index != existing->spec()) {
      fail(ErrorKind::kUsage,
           "{}: the index uses spec {}; an import into it keeps that spec (asked for {})",
           dir.string(), existing->spec().str(), options.index->str());
    }
  }
  const int index_dim = existing ? existing->dim() : 0;

  NpyArray vectors = read_npy(source.vectors);
  check_float_matrix(vectors, source.vectors, "vectors", index_dim);
  const std::int64_t rows = vectors.shape[0];
  const auto dim = static_cast<int>(vectors.shape[1]);
  const IndexSpec spec =
      existing ? existing->spec() : options.index.value_or(IndexSpec::parse(kDefaultIndexSpec));
  with_context(source.vectors.string(), [&] { spec.validate(dim); });

  const NpyArray volume_ids = read_npy(source.volume_ids);
  check_int_vector(volume_ids, source.volume_ids, "volume ids", rows, source.vectors);
  const NpyArray slice_ids = read_npy(source.slice_ids);
  check_int_vector(slice_ids, source.slice_ids, "slice numbers", rows, source.vectors);

  // Rows of each volume, by slice number; volumes in increasing id order.
  std::map<std::int64_t, std::vector<std::int64_t>> slots;
  for (std::int64_t r = 0; r < rows; ++r) slots[volume_ids.ints[r]].push_back(-1);
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t id = volume_ids.ints[r];
    const std::int64_t slice = slice_ids.ints[r];
    auto& volume = slots[id];
    const auto count = static_cast<std::int64_t>(volume.size());
    if (slice < 0 || slice >= count) {
      fail(ErrorKind::kInvalidInput,
           "{}: row {}: slice {} of volume {}, which has {} rows (expected each volume's slices "
           "numbered 0..{}, 0 = most inferior, each once)",
           source.slice_ids.string(), r, slice, id, count, count - 1);
    }
    auto& slot = volume[static_cast<std::size_t>(slice)];
    if (slot >= 0) {
      fail(ErrorKind::kInvalidInput,
           "{}: rows {} and {} are both slice {} of volume {} (expected each (volume, slice) pair "
           "once)",
           source.slice_ids.string(), slot, r, slice, id);
    }
    slot = r;
  }
  // Every slot is filled now: n rows of a volume with n distinct numbers in 0..n-1.

  std::vector<std::string> names;
  if (!source.names.empty()) names = read_names(source.names, slots.size());

  normalise_rows(vectors.floats, static_cast<std::size_t>(dim), source.vectors, [&](std::size_t r) {
    return fmt::format(" (volume {}, slice {})", volume_ids.ints[r], slice_ids.ints[r]);
  });

  std::error_code ec;
  const std::string origin =
      std::filesystem::absolute(source.vectors, ec).lexically_normal().string();
  std::vector<VolumeVectors> add;
  add.reserve(slots.size());
  std::size_t position = 0;
  for (const auto& [id, volume_rows] : slots) {
    VolumeVectors v;
    v.volume.id = names.empty() ? std::to_string(id) : names[position];
    v.volume.source = origin;
    v.volume.num_slices = static_cast<std::int64_t>(volume_rows.size());
    v.volume.metadata_json = nlohmann::json{{"external_id", id}}.dump();
    v.vectors.resize(volume_rows.size() * static_cast<std::size_t>(dim));
    for (std::size_t k = 0; k < volume_rows.size(); ++k) {
      const auto* row = vectors.floats.data() + volume_rows[k] * dim;
      std::copy(row, row + dim, v.vectors.begin() + static_cast<std::ptrdiff_t>(k * dim));
    }
    add.push_back(std::move(v));
    ++position;
  }
  vectors.floats = {};  // the rows now live in `add`

  if (existing) {
    for (const auto& v : add) {
      if (existing->find(v.volume.id) != nullptr) {
        fail(ErrorKind::kInvalidInput,
             "{}: volume \"{}\" is already in the index {} (expected new ids or names)",
             (source.names.empty() ? source.volume_ids : source.names).string(), v.volume.id,
             dir.string());
      }
    }
  }
  const EmbedderIdentity identity{external_embedder_spec(dim), fmt::format("external;dim={}", dim),
                                  dim};
  existing.reset();  // write_generation opens the index itself
  return write_generation(dir, /*create=*/index_dim == 0, spec, identity, std::move(add), {},
                          options.write);
}

std::vector<float> read_query_vectors(const std::filesystem::path& path, int dim) {
  NpyArray a = read_npy(path);
  check_float_matrix(a, path, "query vectors", dim);
  normalise_rows(a.floats, static_cast<std::size_t>(dim), path,
                 [](std::size_t r) { return fmt::format(" (query slice {})", r); });
  return std::move(a.floats);
}

}  // namespace voxir
