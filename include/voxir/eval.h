// voxir/eval.h: the metrics of the benchmark protocol (docs/method.md §4), as plain functions.
//
// Conventions:
//   * a ranked list is given as relevance flags in rank order (rank 1 first);
//   * per-class recall = hits / trials; a class with no trials has no recall (nullopt) and is
//     left out of means; a class that no database volume contains can never be hit: it is
//     reported, flagged, and left out of means too (so the mean measures retrieval, not the
//     database's coverage). Standard deviation over classes is the population one (ddof = 0,
//     numpy's default): std = sqrt(sum_c (r_c - mean)^2 / C) over the C classes in the mean.
//
// Names that cannot be misread: hit@k is 1 when any of the first k volumes is relevant (the
// paper's "recall" of a region query is hit@1); coverage@k is the share of *all* relevant
// database volumes found in the first k (what IR calls recall@k; bounded by k / relevant).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace voxir::eval {

// Slice-range IoU of two inclusive ranges [first, last]: shared slices / slices in either.
// 0 when they do not overlap; 1 when equal. Throws Error(kInvalidInput) for a range with
// first > last or first < 0.
[[nodiscard]] double slice_iou(const std::array<std::int64_t, 2>& a, const std::array<std::int64_t, 2>& b);

// Fraction of the first k entries that are relevant (entries past the list count as not
// relevant). k >= 1.
[[nodiscard]] double precision_at_k(const std::vector<bool>& ranked, int k);
// 1 when any of the first k entries is relevant, else 0. k >= 1.
[[nodiscard]] double hit_at_k(const std::vector<bool>& ranked, int k);
// Relevant entries in the first k over all relevant (`total_relevant`); 0 when there are none.
// (IR's recall@k; named coverage so that it is not taken for the paper's recall, hit@1.)
[[nodiscard]] double coverage_at_k(const std::vector<bool>& ranked, int k, int total_relevant);
// AP@k = sum over relevant ranks r <= k of P@r, divided by min(k, total_relevant); 0 when
// total_relevant is 0.
[[nodiscard]] double average_precision_at_k(const std::vector<bool>& ranked, int k, int total_relevant);
// 1 / rank of the first relevant entry; 0 when none is relevant.
[[nodiscard]] double reciprocal_rank(const std::vector<bool>& ranked);
// Localization ratio at L: the fraction of the first min(L, n) flags that are set; nullopt for
// an empty list.
[[nodiscard]] std::optional<double> localization_ratio(const std::vector<bool>& top_slices_have_class, int L);
// Inclusive slice ranges [a0, a1] and [b0, b1] share at least one slice.
[[nodiscard]] bool ranges_overlap(std::int64_t a0, std::int64_t a1, std::int64_t b0, std::int64_t b1);

// When a region query of class c counts as localized (docs/method.md §4). All rules first need the top-1
// volume to contain c.
//   overlap   the predicted location (a slice range) shares a slice with c's extent there. Lenient:
//             a wide prediction overlaps almost any extent, so it is nearly region recall.
//   ratio     the localization ratio at L of the slices that carried the win is >= threshold
//             (default 0.5: at least half of the top-L slices show c). The strict default.
//   majority  as ratio over *all* slices that carried the win (L = their number).
enum class LocalizedRule { kOverlap, kRatio, kMajority };
[[nodiscard]] std::string_view to_string(LocalizedRule rule);
// "overlap", "ratio" or "majority"; throws Error(kUsage) otherwise.
[[nodiscard]] LocalizedRule parse_localized_rule(std::string_view text);

// What one region query of class c found in its top-1 volume.
struct LocalizationEvidence {
  bool contains = false;                          // the top-1 volume contains c
  std::array<std::int64_t, 2> predicted{-1, -1};  // predicted location, inclusive
  std::array<std::int64_t, 2> extent{-1, -1};     // c's extent in that volume, inclusive
  std::vector<bool> slices_have_class;            // slices that carried the win, best first
};
[[nodiscard]] bool localized_hit(LocalizedRule rule, const LocalizationEvidence& evidence, int L,
                                 double threshold);

struct MeanStd {
  double mean = 0;
  double std = 0;
  int classes = 0;  // how many classes (or values) entered the mean
};
// Mean and population std (ddof = 0) of `values`; all zero for none.
[[nodiscard]] MeanStd mean_std(std::span<const double> values);

// Localization ratios of one table column, per class. A *miss* is a region query whose top-1
// volume does not contain the class (its ratio would be 0 by definition): misses are counted
// apart and left out of the ratios, so the ratio measures localization, not retrieval.
class RatioTally {
 public:
  void add_hit(const std::string& class_name, double ratio);
  void add_miss(const std::string& class_name);

  struct Row {
    std::int64_t queries = 0;  // hits + misses
    std::int64_t misses = 0;
    std::vector<double> ratios;  // one per hit
    [[nodiscard]] MeanStd stats() const { return mean_std(ratios); }
  };
  [[nodiscard]] const std::map<std::string, Row>& rows() const { return rows_; }
  // Mean ± std over classes of the per-class mean ratio (classes with at least one hit).
  [[nodiscard]] MeanStd summary() const;
  [[nodiscard]] std::int64_t queries() const;
  [[nodiscard]] std::int64_t misses() const;
  // One mean over all queries with misses as 0 (the old single figure; how the paper pooled
  // is not stated), for comparison only; 0 without queries.
  [[nodiscard]] double pooled_misses_as_zero() const;

 private:
  std::map<std::string, Row> rows_;
};

// Hits and trials per class name for one table column (one mode, one embedder, ...).
class RecallTally {
 public:
  void add(const std::string& class_name, bool hit);
  // Marks classes that some database volume contains; classes never marked count as absent.
  void set_in_database(const std::string& class_name) { in_database_[class_name] = true; }

  struct Row {
    std::int64_t trials = 0;
    std::int64_t hits = 0;
    bool in_database = false;
    [[nodiscard]] std::optional<double> recall() const;
  };
  [[nodiscard]] const std::map<std::string, Row>& rows() const { return rows_; }
  [[nodiscard]] Row row(const std::string& class_name) const;
  // Mean and std of per-class recall over classes with trials that are in the database.
  [[nodiscard]] MeanStd summary() const;

 private:
  std::map<std::string, Row> rows_;
  std::map<std::string, bool> in_database_;
};

// The classes a benchmark scores and the coarse region of each (docs/method.md §1, §4): the fine table has
// one row per class of the map, the coarse table one per distinct region (in order of first
// appearance). Class names are those of the TotalSegmentator catalogue (voxir/labels.h, v1 or
// v2); entries keep the catalogue index, so presence bits read from an index apply directly.
class ClassMap {
 public:
  struct Entry {
    int class_index = 0;  // ClassCatalog::builtin() index
    std::string name;
    std::string coarse;  // "" = no coarse region: scored in the fine table only
  };
  // The 104 v1 classes and our 29 coarse regions (data/labels/totalsegmentator_v1_classes.csv).
  [[nodiscard]] static ClassMap builtin();
  // A map from CSV text with (at least) the columns `name` and `coarse_region`, ';' or ','
  // separated; other columns are ignored, so an edited copy of the built-in table works. Throws
  // Error(kInvalidInput) naming `source` and the line of an unknown (with close names) or
  // repeated class, or a missing column, or a map without classes.
  [[nodiscard]] static ClassMap from_csv(std::string_view text, std::string_view source);
  // Reads from_csv's format from a file (Error(kNotFound) / kIo when it cannot be read).
  [[nodiscard]] static ClassMap load(const std::filesystem::path& csv);

  [[nodiscard]] const std::vector<Entry>& entries() const { return entries_; }
  [[nodiscard]] const std::vector<std::string>& coarse_regions() const { return coarse_; }
  // Index into coarse_regions() of entry i; -1 when it has no coarse region.
  [[nodiscard]] int coarse_of(std::size_t entry) const { return coarse_of_[entry]; }
  // "builtin" or the file it was read from.
  [[nodiscard]] const std::string& source() const { return source_; }

 private:
  std::vector<Entry> entries_;
  std::vector<std::string> coarse_;
  std::vector<int> coarse_of_;
  std::string source_;
};

// How a dataset's label set (class names found in it) compares with the 104 v1 classes and with
// the class map. Every list is sorted by name.
struct LabelSetCheck {
  int dataset_classes = 0;
  bool exact_v1 = false;                    // exactly the 104 TotalSegmentator v1 classes
  std::vector<std::string> not_v1;          // dataset classes that are not v1 classes (v2-only)
  std::vector<std::string> v1_missing;      // v1 classes the dataset lacks
  std::vector<std::string> added;           // in the dataset, not in the map: not scored
  std::vector<std::string> dropped;         // in the map, not in the dataset: no trials
  std::vector<std::string> without_coarse;  // scored, but no coarse region: fine table only
  // One line per difference, empty when the dataset is exactly v1 and the map covers it.
  [[nodiscard]] std::vector<std::string> warnings(const std::string& map_source) const;
};
[[nodiscard]] LabelSetCheck check_label_set(const ClassMap& map,
                                            const std::vector<std::string>& dataset_classes);

}  // namespace voxir::eval
