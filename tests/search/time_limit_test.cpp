// The search's time limit (SearchParams::deadline): a passed deadline fails with kTimeout for
// every query source, a generous one changes nothing, and a deadline that passes while the query
// is embedded stops the search at the next block of slices.
#include "search/stages.h"
#include "testutil/fake_embedder.h"
#include "testutil/phantoms.h"
#include "testutil/temp_dir.h"
#include "voxir/error.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/search.h"
#include "voxir/volume.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

namespace voxir {
namespace {

using Clock = std::chrono::steady_clock;
using testing::TempDir;

const testing::FakeEmbedder embedder_;

class TimeLimit : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    std::vector<std::filesystem::path> paths;
    for (int s = 0; s < 5; ++s) {
      paths.push_back(tmp_->path() / fmt::format("p{}.nii.gz", s));
      (void)testing::write_phantom(paths.back(), s);
    }
    BuildOptions build;
    build.index = IndexSpec::parse("faiss:Flat");
    (void)build_index(tmp_->path() / "index", sources_from_paths(paths), embedder_, build);
    // A query longer than two deadline blocks: phantom 2's slices, repeated.
    const Volume p = read_volume(paths[2]);
    const std::int64_t nz = 2 * kDeadlineBlock + 20;
    std::vector<float> hu(static_cast<std::size_t>(p.slice_size() * nz));
    for (std::int64_t k = 0; k < nz; ++k) {
      const auto s = p.slice(k % p.nz());
      std::copy(s.begin(), s.end(), hu.begin() + k * p.slice_size());
    }
    tall_ = new Volume({p.nx(), p.ny(), nz}, p.spacing(), p.affine(), std::move(hu), "RAS");
  }
  static void TearDownTestSuite() {
    delete tall_;
    delete tmp_;
  }

  static std::unique_ptr<Index> open() { return Index::open(tmp_->path() / "index"); }

  static inline TempDir* tmp_ = nullptr;
  static inline Volume* tall_ = nullptr;
};

ErrorKind kind_of(const std::function<void()>& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (message != nullptr) *message = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "no error";
  return ErrorKind::kInternal;
}

TEST_F(TimeLimit, APassedDeadlineFailsWithTimeoutForEverySource) {
  const auto index = open();
  const std::vector<float> vectors = embedder_.embed_all(*tall_);
  struct Case {
    std::string name;
    Query query;
  };
  std::vector<Case> cases(4);
  cases[0].name = "volume";
  cases[0].query.volume = tall_;
  cases[1].name = "path";
  cases[1].query.path = tmp_->path() / "p1.nii.gz";
  cases[2].name = "indexed volume";
  cases[2].query.indexed_id = index->volumes()[3].id;
  cases[3].name = "vectors";
  cases[3].query.vectors = vectors;
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    c.query.embedder = &embedder_;
    // A deadline in the past, and a limit of 0 s: both have passed when the search begins.
    c.query.params.deadline = Clock::now() - std::chrono::seconds(1);
    std::string message;
    EXPECT_EQ(kind_of([&] { (void)search(*index, c.query); }, &message), ErrorKind::kTimeout);
    EXPECT_NE(message.find("passed its time limit"), std::string::npos) << message;
    c.query.params.set_time_limit(0);
    EXPECT_EQ(kind_of([&] { (void)search(*index, c.query); }), ErrorKind::kTimeout);
    // A generous limit: the search runs.
    c.query.params.set_time_limit(600);
    EXPECT_FALSE(search(*index, c.query).results.empty());
  }
  EXPECT_EQ(exit_code(ErrorKind::kTimeout), 7);
  EXPECT_EQ(to_string(ErrorKind::kTimeout), "timeout");
}

TEST_F(TimeLimit, AGenerousLimitChangesNothing) {
  // The tall query is embedded and searched in blocks; the answer is that of its vectors
  // embedded in one go.
  const auto index = open();
  Query by_volume;
  by_volume.volume = tall_;
  by_volume.embedder = &embedder_;
  by_volume.params.set_time_limit(600);
  const SearchAnswer a = search(*index, by_volume);
  const SliceEmbeddings whole = embedder_.embed_all_measured(*tall_);
  Query by_vectors;
  by_vectors.vectors = whole.vectors;
  by_vectors.content = whole.content;
  const SearchAnswer b = search(*index, by_vectors);
  ASSERT_EQ(a.results.size(), b.results.size());
  ASSERT_FALSE(a.results.empty());
  EXPECT_EQ(a.query_slices_used, tall_->nz());
  for (std::size_t r = 0; r < a.results.size(); ++r) {
    EXPECT_EQ(a.results[r].volume, b.results[r].volume);
    EXPECT_DOUBLE_EQ(a.results[r].score, b.results[r].score);
    EXPECT_EQ(a.results[r].votes, b.results[r].votes);
    EXPECT_EQ(a.results[r].location, b.results[r].location);
  }
}

TEST_F(TimeLimit, NegativeOrNonFiniteLimitsAreUsageErrors) {
  SearchParams p;
  EXPECT_EQ(kind_of([&] { p.set_time_limit(-1); }), ErrorKind::kUsage);
  EXPECT_EQ(kind_of([&] { p.set_time_limit(std::nan("")); }), ErrorKind::kUsage);
  EXPECT_EQ(kind_of([&] { p.set_time_limit(std::numeric_limits<double>::infinity()); }),
            ErrorKind::kUsage);
  p.set_time_limit(1e300);  // beyond the clock: no limit
  EXPECT_EQ(p.deadline, Clock::time_point::max());
}

// An embedder that, on its first call, waits until the deadline has passed: the search must stop
// at the next block instead of embedding the rest.
class WaitingEmbedder final : public Embedder {
 public:
  WaitingEmbedder(const Embedder& inner, Clock::time_point until) : inner_(inner), until_(until) {}
  [[nodiscard]] std::string spec() const override { return inner_.spec(); }
  [[nodiscard]] std::string fingerprint() const override { return inner_.fingerprint(); }
  [[nodiscard]] int dim() const override { return inner_.dim(); }
  void embed(const Volume& volume, std::int64_t k0, std::int64_t k1,
             std::span<float> out) const override {
    if (calls_++ == 0) std::this_thread::sleep_until(until_ + std::chrono::milliseconds(1));
    inner_.embed(volume, k0, k1, out);
  }
  [[nodiscard]] int calls() const { return calls_; }

 private:
  const Embedder& inner_;
  Clock::time_point until_;
  mutable std::atomic<int> calls_{0};
};

TEST_F(TimeLimit, ADeadlinePassingWhileEmbeddingStopsAtTheNextBlock) {
  const auto index = open();
  Query q;
  q.volume = tall_;
  // Long enough that reaching the first block cannot take it (Index::open is done).
  q.params.set_time_limit(2);
  const WaitingEmbedder slow(embedder_, q.params.deadline);
  q.embedder = &slow;
  std::string message;
  EXPECT_EQ(kind_of([&] { (void)search(*index, q); }, &message), ErrorKind::kTimeout);
  EXPECT_EQ(slow.calls(), 1) << "one block embedded, then the deadline noticed";
  EXPECT_NE(message.find(fmt::format("embedding the query (slice {} of {})", kDeadlineBlock + 1,
                                     tall_->nz())),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace voxir
