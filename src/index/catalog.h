// The SQLite catalog of an index generation: volumes, their labels sources and their slices'
// class-presence bitsets.
#pragma once

#include "voxir/index.h"

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

struct sqlite3;

namespace voxir::index {

class Catalog {
 public:
  // Opens an existing catalog read-only. Throws Error(kInvalidInput) naming the file.
  explicit Catalog(const std::filesystem::path& file);
  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // Volumes ordered by first_row.
  [[nodiscard]] std::vector<IndexedVolume> volumes() const;
  // Presence bitsets of one volume's slices (vectors left empty). Thread-safe.
  [[nodiscard]] VolumeVectors labels(const IndexedVolume& volume) const;
  // Per-slice content of every volume that has it, by volume id (the `content` table, added in
  // format version 2; a catalog without it gives an empty map). Throws Error(kInvalidInput) for a
  // blob whose size does not match the volume's slice count.
  [[nodiscard]] std::unordered_map<std::string, std::vector<float>> contents(
      std::span<const IndexedVolume> volumes) const;
  // Positions (volumes.pos) of the volumes with a stored prediction (the `predicted` table, added
  // in format version 3; a catalog without it gives none).
  [[nodiscard]] std::vector<std::size_t> predicted_volumes() const;
  // The stored prediction of the volume at position `pos`; nullopt when none. Throws
  // Error(kInvalidInput) for bitsets whose size does not match the volume's slice count, or an
  // extent outside its slices.
  [[nodiscard]] std::optional<PredictedAnatomy> predicted(std::size_t pos,
                                                          const IndexedVolume& volume) const;

 private:
  // Fills labels_source from the `labels_source` table (format version 3; absent before).
  void read_labels_sources(std::vector<IndexedVolume>& volumes) const;

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
  mutable std::mutex lock_;
};

// Writes a new catalog file. `labels_of(i)` gives volume i's presence bitsets and content (only
// presence_bytes, presence and content are read).
// `predicted_of(i)` gives volume i's stored prediction, if any.
void write_catalog(
    const std::filesystem::path& file, const std::vector<IndexedVolume>& volumes,
    const std::function<VolumeVectors(std::size_t)>& labels_of,
    const std::function<std::optional<PredictedAnatomy>(std::size_t)>& predicted_of = {});

// Stores predictions (volume position, prediction) in an existing catalog written by
// write_catalog, replacing any stored for the same volumes.
void write_predictions(const std::filesystem::path& file,
                       const std::vector<std::pair<std::size_t, PredictedAnatomy>>& predictions);

}  // namespace voxir::index
