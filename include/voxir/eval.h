// voxir/eval.h: the metrics of the benchmark protocol (SPEC §4), as plain functions.
//
// Conventions:
//   * a ranked list is given as relevance flags in rank order (rank 1 first);
//   * rankings with tied scores are ordered by rank_by_score(): score descending, then the
//     secondary key ascending, so equal inputs always give the same list;
//   * per-class recall = hits / trials; a class with no trials has no recall (nullopt) and is
//     left out of means; a class that no database volume contains can never be hit: it is
//     reported, flagged, and left out of means too (so the mean measures retrieval, not the
//     database's coverage). Standard deviation over classes is the population one (ddof = 0,
//     numpy's default).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace voxir::eval {

// Indices of `scores` ordered by score descending, ties by `keys` ascending (then index).
[[nodiscard]] std::vector<std::size_t> rank_by_score(std::span<const double> scores,
                                                     std::span<const std::string> keys);

// Fraction of the first k entries that are relevant (entries past the list count as not
// relevant). k >= 1.
[[nodiscard]] double precision_at_k(const std::vector<bool>& ranked, int k);
// Relevant entries in the first k over all relevant (`total_relevant`); 0 when there are none.
[[nodiscard]] double recall_at_k(const std::vector<bool>& ranked, int k, int total_relevant);
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

struct MeanStd {
  double mean = 0;
  double std = 0;
  int classes = 0;  // how many classes entered the mean
};
[[nodiscard]] MeanStd mean_std(std::span<const double> values);

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

}  // namespace voxir::eval
