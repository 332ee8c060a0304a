#include "util/file.h"
#include "util/hash.h"
#include "voxir/embed.h"
#include "voxir/error.h"

#include <fmt/format.h>

#include <atomic>
#include <cstring>
#include <optional>

namespace voxir {
namespace {

// Entry layout (little-endian, as the machine writes it):
//   "VOXEMB01" | u32 header version | u32 dim | i64 slices | u64 volume hash |
//   u32 fingerprint length | fingerprint | u64 hash of the rest | f32 vectors | f32 content
// Version 2 added the per-slice content; version 1 entries are recomputed.
constexpr char kMagic[8] = {'V', 'O', 'X', 'E', 'M', 'B', '0', '1'};
constexpr std::uint32_t kVersion = 2;

template <typename T>
void put(std::vector<std::uint8_t>& b, const T& v) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
  b.insert(b.end(), p, p + sizeof(T));
}

template <typename T>
bool get(std::span<const std::uint8_t>& b, T& v) {
  if (b.size() < sizeof(T)) return false;
  std::memcpy(&v, b.data(), sizeof(T));
  b = b.subspan(sizeof(T));
  return true;
}

// The vectors and content of a valid entry; empty when the entry does not match or is damaged.
std::optional<SliceEmbeddings> decode(std::span<const std::uint8_t> b, std::uint64_t volume_hash,
                                      const std::string& fingerprint, int dim,
                                      std::int64_t slices) {
  if (b.size() < sizeof(kMagic) || std::memcmp(b.data(), kMagic, sizeof(kMagic)) != 0)
    return std::nullopt;
  b = b.subspan(sizeof(kMagic));
  std::uint32_t version = 0, d = 0, fp_len = 0;
  std::int64_t n = 0;
  std::uint64_t vh = 0, checksum = 0;
  if (!get(b, version) || version != kVersion || !get(b, d) ||
      d != static_cast<std::uint32_t>(dim) || !get(b, n) || n != slices || !get(b, vh) ||
      vh != volume_hash || !get(b, fp_len) || fp_len != fingerprint.size() || b.size() < fp_len ||
      std::memcmp(b.data(), fingerprint.data(), fp_len) != 0) {
    return std::nullopt;
  }
  b = b.subspan(fp_len);
  if (!get(b, checksum)) return std::nullopt;
  const std::size_t count = static_cast<std::size_t>(n) * d;
  const auto slices_n = static_cast<std::size_t>(n);
  if (b.size() != (count + slices_n) * sizeof(float) || hash64(b) != checksum) return std::nullopt;
  SliceEmbeddings out;
  out.vectors.resize(count);
  out.content.resize(slices_n);
  std::memcpy(out.vectors.data(), b.data(), count * sizeof(float));
  std::memcpy(out.content.data(), b.data() + count * sizeof(float), slices_n * sizeof(float));
  return out;
}

std::string entry_name(std::uint64_t volume_hash, const std::string& fingerprint) {
  return fmt::format(
      "{:016x}-{:016x}.emb", volume_hash,
      hash64({reinterpret_cast<const std::uint8_t*>(fingerprint.data()), fingerprint.size()}));
}

}  // namespace

struct EmbeddingCache::Counters {
  std::atomic<std::int64_t> hits{0}, misses{0}, rejected{0};
};

EmbeddingCache::EmbeddingCache(std::filesystem::path folder)
    : folder_(std::move(folder)), counters_(std::make_shared<Counters>()) {}

EmbeddingCache::Stats EmbeddingCache::stats() const {
  return {counters_->hits.load(), counters_->misses.load(), counters_->rejected.load()};
}

std::filesystem::path EmbeddingCache::entry_path(const Embedder& embedder,
                                                 const Volume& volume) const {
  return folder_ / entry_name(volume_content_hash(volume), embedder.fingerprint());
}

std::vector<float> EmbeddingCache::embed_all(const Embedder& embedder, const Volume& volume) {
  return embed_all_measured(embedder, volume).vectors;
}

SliceEmbeddings EmbeddingCache::embed_all_measured(const Embedder& embedder, const Volume& volume) {
  const std::uint64_t vh = volume_content_hash(volume);
  const std::string fingerprint = embedder.fingerprint();
  const auto path = folder_ / entry_name(vh, fingerprint);
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    std::vector<std::uint8_t> bytes;
    try {
      bytes = read_file(path);
    } catch (const Error&) {
      bytes.clear();  // unreadable counts as damaged: recompute
    }
    if (auto cached = decode(bytes, vh, fingerprint, embedder.dim(), volume.nz())) {
      ++counters_->hits;
      return std::move(*cached);
    }
    ++counters_->rejected;
  } else {
    ++counters_->misses;
  }
  SliceEmbeddings embedded = embedder.embed_all_measured(volume);
  const std::vector<float>& vectors = embedded.vectors;
  std::vector<std::uint8_t> b;
  b.reserve(64 + fingerprint.size() + (vectors.size() + embedded.content.size()) * sizeof(float));
  b.insert(b.end(), kMagic, kMagic + sizeof(kMagic));
  put(b, kVersion);
  put(b, static_cast<std::uint32_t>(embedder.dim()));
  put(b, static_cast<std::int64_t>(volume.nz()));
  put(b, vh);
  put(b, static_cast<std::uint32_t>(fingerprint.size()));
  b.insert(b.end(), fingerprint.begin(), fingerprint.end());
  std::vector<std::uint8_t> payload(
      reinterpret_cast<const std::uint8_t*>(vectors.data()),
      reinterpret_cast<const std::uint8_t*>(vectors.data() + vectors.size()));
  payload.insert(
      payload.end(), reinterpret_cast<const std::uint8_t*>(embedded.content.data()),
      reinterpret_cast<const std::uint8_t*>(embedded.content.data() + embedded.content.size()));
  put(b, hash64(payload));
  b.insert(b.end(), payload.begin(), payload.end());
  std::filesystem::create_directories(folder_, ec);
  if (ec)
    fail(ErrorKind::kIo, "{}: cannot create the embedding cache folder: {}", folder_.string(),
         ec.message());
  // Several threads or processes may embed the same volume at once: each writes its own
  // temporary file (write_file_atomic names it with mkstemp) and renames it over the entry, so a
  // reader finds no entry, one writer's or another's, always whole (and all are equal: same
  // volume, same embedder). No fsync: a crash may lose an entry, which is then recomputed, and a
  // damaged one is recognised by its checksum.
  write_file_atomic(path, b, /*sync=*/false);
  return embedded;
}

}  // namespace voxir
