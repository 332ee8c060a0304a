// Every metric on tiny cases computed by hand; each case names itself.
#include "voxir/error.h"
#include "voxir/eval.h"

#include <gtest/gtest.h>

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
  double recall;
  double ap;
  double rr;
};

TEST(Metrics, RankingMetricsByHand) {
  const RankCase cases[] = {
      // name, ranked, k, relevant, P@k, R@k, AP@k, RR
      {"first hit", {true, false, false}, 1, 2, 1.0, 0.5, 1.0, 1.0},
      {"hit at 2 of 3", {false, true, false}, 3, 1, 1.0 / 3, 1.0, 0.5, 0.5},
      {"two hits", {true, false, true}, 3, 2, 2.0 / 3, 1.0, (1.0 + 2.0 / 3) / 2, 1.0},
      {"k beyond list", {false, true}, 5, 3, 0.2, 1.0 / 3, 0.5 / 3, 0.5},
      {"no relevant anywhere", {false, false}, 2, 0, 0.0, 0.0, 0.0, 0.0},
      {"hits after k", {false, false, true}, 2, 1, 0.0, 0.0, 0.0, 1.0 / 3},
      {"ap normalised by k", {true, true, false, true}, 2, 5, 1.0, 0.4, 1.0, 1.0},
  };
  for (const auto& c : cases) {
    const Flags& s = c.ranked;
    EXPECT_DOUBLE_EQ(precision_at_k(s, c.k), c.precision) << c.name;
    EXPECT_DOUBLE_EQ(recall_at_k(s, c.k, c.total_relevant), c.recall) << c.name;
    EXPECT_DOUBLE_EQ(average_precision_at_k(s, c.k, c.total_relevant), c.ap) << c.name;
    EXPECT_DOUBLE_EQ(reciprocal_rank(s), c.rr) << c.name;
  }
  EXPECT_THROW((void)precision_at_k({}, 0), Error);
}

TEST(Metrics, TiesAreBrokenByKeyThenIndex) {
  const std::vector<double> scores{0.5, 0.9, 0.5, 0.9, 0.1};
  const std::vector<std::string> keys{"b", "z", "a", "c", "a"};
  EXPECT_EQ(rank_by_score(scores, keys), (std::vector<std::size_t>{3, 1, 2, 0, 4}));
  const std::vector<double> same{1, 1};
  const std::vector<std::string> same_keys{"x", "x"};
  EXPECT_EQ(rank_by_score(same, same_keys), (std::vector<std::size_t>{0, 1}));
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

}  // namespace
}  // namespace voxir::eval
