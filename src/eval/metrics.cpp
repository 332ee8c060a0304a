#include "voxir/error.h"
#include "voxir/eval.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace voxir::eval {
namespace {

void check_k(int k) {
  if (k < 1) fail(ErrorKind::kUsage, "k must be at least 1 (got {})", k);
}

}  // namespace

double precision_at_k(const std::vector<bool>& ranked, int k) {
  check_k(k);
  const auto n = std::min(ranked.size(), static_cast<std::size_t>(k));
  return static_cast<double>(std::count(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(n), true)) / k;
}

double hit_at_k(const std::vector<bool>& ranked, int k) {
  check_k(k);
  const auto n = std::min(ranked.size(), static_cast<std::size_t>(k));
  return std::find(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(n), true) !=
                 ranked.begin() + static_cast<std::ptrdiff_t>(n)
             ? 1.0
             : 0.0;
}

double coverage_at_k(const std::vector<bool>& ranked, int k, int total_relevant) {
  check_k(k);
  if (total_relevant <= 0) return 0;
  const auto n = std::min(ranked.size(), static_cast<std::size_t>(k));
  return static_cast<double>(std::count(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(n), true)) /
         total_relevant;
}

double average_precision_at_k(const std::vector<bool>& ranked, int k, int total_relevant) {
  check_k(k);
  if (total_relevant <= 0) return 0;
  const auto n = std::min(ranked.size(), static_cast<std::size_t>(k));
  double sum = 0;
  int hits = 0;
  for (std::size_t r = 0; r < n; ++r) {
    if (!ranked[r]) continue;
    ++hits;
    sum += static_cast<double>(hits) / static_cast<double>(r + 1);
  }
  return sum / std::min(k, total_relevant);
}

double reciprocal_rank(const std::vector<bool>& ranked) {
  for (std::size_t r = 0; r < ranked.size(); ++r) {
    if (ranked[r]) return 1.0 / static_cast<double>(r + 1);
  }
  return 0;
}

std::optional<double> localization_ratio(const std::vector<bool>& top_slices_have_class, int L) {
  check_k(L);
  const auto n = std::min(top_slices_have_class.size(), static_cast<std::size_t>(L));
  if (n == 0) return std::nullopt;
  const auto set = std::count(top_slices_have_class.begin(),
                              top_slices_have_class.begin() + static_cast<std::ptrdiff_t>(n), true);
  return static_cast<double>(set) / static_cast<double>(n);
}

bool ranges_overlap(std::int64_t a0, std::int64_t a1, std::int64_t b0, std::int64_t b1) {
  return a0 <= b1 && b0 <= a1;
}

std::string_view to_string(LocalizedRule rule) {
  switch (rule) {
    case LocalizedRule::kOverlap:
      return "overlap";
    case LocalizedRule::kRatio:
      return "ratio";
    case LocalizedRule::kMajority:
      return "majority";
  }
  return "?";
}

LocalizedRule parse_localized_rule(std::string_view text) {
  if (text == "overlap") return LocalizedRule::kOverlap;
  if (text == "ratio") return LocalizedRule::kRatio;
  if (text == "majority") return LocalizedRule::kMajority;
  fail(ErrorKind::kUsage, "localized rule \"{}\": expected overlap, ratio or majority", text);
}

bool localized_hit(LocalizedRule rule, const LocalizationEvidence& e, int L, double threshold) {
  if (!e.contains) return false;
  switch (rule) {
    case LocalizedRule::kOverlap:
      return e.predicted[0] >= 0 &&
             ranges_overlap(e.predicted[0], e.predicted[1], e.extent[0], e.extent[1]);
    case LocalizedRule::kRatio: {
      const auto r = localization_ratio(e.slices_have_class, L);
      return r && *r >= threshold;
    }
    case LocalizedRule::kMajority: {
      const int all = static_cast<int>(std::max<std::size_t>(1, e.slices_have_class.size()));
      const auto r = localization_ratio(e.slices_have_class, all);
      return r && *r >= threshold;
    }
  }
  return false;
}

MeanStd mean_std(std::span<const double> values) {
  MeanStd out;
  out.classes = static_cast<int>(values.size());
  if (values.empty()) return out;
  out.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  double ss = 0;
  for (const double v : values) ss += (v - out.mean) * (v - out.mean);
  out.std = std::sqrt(ss / static_cast<double>(values.size()));
  return out;
}

void RecallTally::add(const std::string& class_name, bool hit) {
  Row& row = rows_[class_name];
  ++row.trials;
  row.hits += hit ? 1 : 0;
}

std::optional<double> RecallTally::Row::recall() const {
  if (trials == 0) return std::nullopt;
  return static_cast<double>(hits) / static_cast<double>(trials);
}

RecallTally::Row RecallTally::row(const std::string& class_name) const {
  Row out;
  if (const auto it = rows_.find(class_name); it != rows_.end()) out = it->second;
  const auto in = in_database_.find(class_name);
  out.in_database = in != in_database_.end() && in->second;
  return out;
}

MeanStd RecallTally::summary() const {
  std::vector<double> recalls;
  for (const auto& [name, r] : rows_) {
    if (r.trials > 0 && row(name).in_database) recalls.push_back(*r.recall());
  }
  return mean_std(recalls);
}

}  // namespace voxir::eval

namespace voxir::eval {

void RatioTally::add_hit(const std::string& class_name, double ratio) {
  Row& row = rows_[class_name];
  ++row.queries;
  row.ratios.push_back(ratio);
}

void RatioTally::add_miss(const std::string& class_name) {
  Row& row = rows_[class_name];
  ++row.queries;
  ++row.misses;
}

MeanStd RatioTally::summary() const {
  std::vector<double> means;
  for (const auto& [name, row] : rows_) {
    if (!row.ratios.empty()) means.push_back(row.stats().mean);
  }
  return mean_std(means);
}

std::int64_t RatioTally::queries() const {
  std::int64_t n = 0;
  for (const auto& [name, row] : rows_) n += row.queries;
  return n;
}

double RatioTally::pooled_misses_as_zero() const {
  double sum = 0;
  for (const auto& [name, row] : rows_)
    sum += std::accumulate(row.ratios.begin(), row.ratios.end(), 0.0);
  const auto n = queries();
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

std::int64_t RatioTally::misses() const {
  std::int64_t n = 0;
  for (const auto& [name, row] : rows_) n += row.misses;
  return n;
}

double slice_iou(const std::array<std::int64_t, 2>& a, const std::array<std::int64_t, 2>& b) {
  for (const auto& r : {a, b}) {
    if (r[0] < 0 || r[0] > r[1])
      fail(ErrorKind::kInvalidInput, "slice range {}..{}: expected 0 <= first <= last", r[0], r[1]);
  }
  const std::int64_t shared = std::min(a[1], b[1]) - std::max(a[0], b[0]) + 1;
  if (shared <= 0) return 0;
  const std::int64_t either = std::max(a[1], b[1]) - std::min(a[0], b[0]) + 1;
  return static_cast<double>(shared) / static_cast<double>(either);
}

}  // namespace voxir::eval
