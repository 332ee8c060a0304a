// Every metric on tiny cases computed by hand; each case names itself.
#include "voxir/error.h"
#include "voxir/eval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace voxir::eval {
namespace {

using Flags = std::vector<bool>;

struct RankCase {
  const char* name;
  Flags ranked;
  int k;
  int total_relevant;
  double precision;
  double coverage;
  double ap;
  double rr;
  double hit;
};

TEST(Metrics, RankingMetricsByHand) {
  const RankCase cases[] = {
      // name, ranked, k, relevant, P@k, coverage@k, AP@k, RR, hit@k
      {"first hit", {true, false, false}, 1, 2, 1.0, 0.5, 1.0, 1.0, 1.0},
      {"hit at 2 of 3", {false, true, false}, 3, 1, 1.0 / 3, 1.0, 0.5, 0.5, 1.0},
      {"two hits", {true, false, true}, 3, 2, 2.0 / 3, 1.0, (1.0 + 2.0 / 3) / 2, 1.0, 1.0},
      {"k beyond list", {false, true}, 5, 3, 0.2, 1.0 / 3, 0.5 / 3, 0.5, 1.0},
      {"no relevant anywhere", {false, false}, 2, 0, 0.0, 0.0, 0.0, 0.0, 0.0},
      {"hits after k", {false, false, true}, 2, 1, 0.0, 0.0, 0.0, 1.0 / 3, 0.0},
      {"ap normalised by k", {true, true, false, true}, 2, 5, 1.0, 0.4, 1.0, 1.0, 1.0},
      // hit@1 is the paper's recall: 1 although only 1 of 30 relevant volumes is found.
      {"hit@1 vs coverage@1", {true, false}, 1, 30, 1.0, 1.0 / 30, 1.0, 1.0, 1.0},
      {"miss at 1, hit at 2", {false, true}, 1, 4, 0.0, 0.0, 0.0, 0.5, 0.0},
  };
  for (const auto& c : cases) {
    const Flags& s = c.ranked;
    EXPECT_DOUBLE_EQ(precision_at_k(s, c.k), c.precision) << c.name;
    EXPECT_DOUBLE_EQ(coverage_at_k(s, c.k, c.total_relevant), c.coverage) << c.name;
    EXPECT_DOUBLE_EQ(hit_at_k(s, c.k), c.hit) << c.name;
    EXPECT_DOUBLE_EQ(average_precision_at_k(s, c.k, c.total_relevant), c.ap) << c.name;
    EXPECT_DOUBLE_EQ(reciprocal_rank(s), c.rr) << c.name;
  }
  EXPECT_THROW((void)precision_at_k({}, 0), Error);
  EXPECT_THROW((void)hit_at_k({true}, 0), Error);
}

TEST(Metrics, LocalizationRatioAndOverlap) {
  const Flags flags{true, false, true, true};
  EXPECT_DOUBLE_EQ(*localization_ratio(flags, 2), 0.5);
  EXPECT_DOUBLE_EQ(*localization_ratio(flags, 15), 0.75);  // fewer than L slices: over those there are
  EXPECT_FALSE(localization_ratio({}, 15));
  EXPECT_TRUE(ranges_overlap(0, 5, 5, 9));
  EXPECT_TRUE(ranges_overlap(3, 4, 0, 10));
  EXPECT_FALSE(ranges_overlap(0, 4, 5, 9));
  EXPECT_FALSE(ranges_overlap(6, 9, 0, 5));
}

TEST(Metrics, RecallTallyEmptyAndAbsentClasses) {
  RecallTally t;
  for (const char* c : {"liver", "spleen", "brain"}) t.set_in_database(c);
  t.add("liver", true);
  t.add("liver", true);
  t.add("liver", false);
  t.add("spleen", true);
  t.add("face", false);  // no database volume has a face: reported, not averaged
  EXPECT_DOUBLE_EQ(*t.row("liver").recall(), 2.0 / 3);
  EXPECT_EQ(t.row("liver").trials, 3);
  EXPECT_FALSE(t.row("brain").recall());  // in the database, never queried: no recall
  EXPECT_EQ(t.row("face").trials, 1);
  EXPECT_FALSE(t.row("face").in_database);
  const MeanStd s = t.summary();
  EXPECT_EQ(s.classes, 2);
  EXPECT_DOUBLE_EQ(s.mean, (2.0 / 3 + 1.0) / 2);
  EXPECT_DOUBLE_EQ(s.std, (1.0 - 2.0 / 3) / 2);
  EXPECT_EQ(RecallTally().summary().classes, 0);
}

// One region query's evidence per case, judged by every rule at L = 4, threshold 0.5, by hand.
TEST(Metrics, LocalizedRulesByHand) {
  struct Case {
    const char* name;
    LocalizationEvidence evidence;
    bool overlap, ratio, majority;
  };
  const auto ev = [](bool contains, std::array<std::int64_t, 2> predicted,
                     std::array<std::int64_t, 2> extent, Flags flags) {
    LocalizationEvidence e;
    e.contains = contains;
    e.predicted = predicted;
    e.extent = extent;
    e.slices_have_class = std::move(flags);
    return e;
  };
  const Case cases[] = {
      // A wide prediction touches the extent, but only 1 of the top 4 slices shows the class
      // (ratio 0.25) and 2 of 6 overall: lenient yes, strict no.
      {"wide prediction, few class slices",
       ev(true, {0, 50}, {40, 60}, {true, false, false, false, true, false}), true, false, false},
      // Top 4: 2 of 4 = 0.5 >= 0.5; all 6: 2 of 6 < 0.5.
      {"half of top L", ev(true, {40, 45}, {40, 60}, {true, false, true, false, false, false}),
       true, true, false},
      // Top 4: 1 of 4; all 6: 4 of 6 (the class slices come late in similarity order).
      {"class slices ranked low",
       ev(true, {40, 45}, {40, 60}, {false, false, false, true, true, true}), true, false, true},
      {"prediction beside the extent", ev(true, {10, 20}, {40, 60}, {true, true, true, true}),
       false, true, true},
      {"top volume lacks the class", ev(false, {40, 45}, {-1, -1}, {true, true}), false, false,
       false},
      {"no slices", ev(true, {-1, -1}, {40, 60}, {}), false, false, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(localized_hit(LocalizedRule::kOverlap, c.evidence, 4, 0.5), c.overlap) << c.name;
    EXPECT_EQ(localized_hit(LocalizedRule::kRatio, c.evidence, 4, 0.5), c.ratio) << c.name;
    EXPECT_EQ(localized_hit(LocalizedRule::kMajority, c.evidence, 4, 0.5), c.majority) << c.name;
  }
  // The threshold matters: 0.25 at L = 4 passes a threshold of 0.25, not 0.3.
  EXPECT_TRUE(localized_hit(LocalizedRule::kRatio, cases[0].evidence, 4, 0.25));
  EXPECT_FALSE(localized_hit(LocalizedRule::kRatio, cases[0].evidence, 4, 0.3));
  EXPECT_EQ(parse_localized_rule("majority"), LocalizedRule::kMajority);
  EXPECT_EQ(to_string(parse_localized_rule("overlap")), "overlap");
  EXPECT_THROW((void)parse_localized_rule("any"), Error);
}

TEST(Metrics, RatioTallyPerClassWithMissesApart) {
  RatioTally t;
  t.add_hit("liver", 1.0);
  t.add_hit("liver", 0.5);
  t.add_miss("liver");
  t.add_hit("spleen", 0.2);
  t.add_miss("brain");  // misses only: no ratio, not in the mean
  const auto& liver = t.rows().at("liver");
  EXPECT_EQ(liver.queries, 3);
  EXPECT_EQ(liver.misses, 1);
  EXPECT_DOUBLE_EQ(liver.stats().mean, 0.75);  // misses are not zeros
  EXPECT_DOUBLE_EQ(liver.stats().std, 0.25);
  EXPECT_TRUE(t.rows().at("brain").ratios.empty());
  EXPECT_EQ(t.queries(), 5);
  EXPECT_EQ(t.misses(), 2);
  const MeanStd s = t.summary();  // over classes: liver 0.75, spleen 0.2
  EXPECT_EQ(s.classes, 2);
  EXPECT_DOUBLE_EQ(s.mean, 0.475);
  EXPECT_DOUBLE_EQ(s.std, 0.275);
  EXPECT_DOUBLE_EQ(t.pooled_misses_as_zero(), (1.0 + 0.5 + 0.2) / 5);
  EXPECT_DOUBLE_EQ(RatioTally().pooled_misses_as_zero(), 0.0);
}

TEST(Metrics, MeanStdIsThePopulationStd) {
  const std::vector<double> v{0.0, 0.5, 1.0, 1.0};  // mean 0.625; squared deviations sum 0.6875
  const MeanStd s = mean_std(v);
  EXPECT_DOUBLE_EQ(s.mean, 0.625);
  EXPECT_DOUBLE_EQ(s.std, std::sqrt(0.6875 / 4));
}

TEST(Metrics, SliceIouByHand) {
  struct Case {
    std::array<std::int64_t, 2> a, b;
    double want;
  };
  const Case cases[] = {
      {{10, 19}, {10, 19}, 1.0},
      {{10, 19}, {15, 24}, 5.0 / 15},   // 15..19 shared of 10..24
      {{0, 0}, {0, 0}, 1.0},
      {{0, 9}, {10, 19}, 0.0},          // adjacent, no shared slice
      {{5, 5}, {0, 9}, 1.0 / 10},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(fmt::format("{}..{} vs {}..{}", c.a[0], c.a[1], c.b[0], c.b[1]));
    EXPECT_DOUBLE_EQ(slice_iou(c.a, c.b), c.want);
    EXPECT_DOUBLE_EQ(slice_iou(c.b, c.a), c.want);
  }
  EXPECT_THROW((void)slice_iou({3, 2}, {0, 5}), Error);
  EXPECT_THROW((void)slice_iou({0, 5}, {-1, 2}), Error);
}

}  // namespace
}  // namespace voxir::eval
