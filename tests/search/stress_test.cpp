// Concurrent use of one index folder: several threads search (each query with its own ef /
// nprobe / refine) while another thread adds and removes volumes, writing new generations, and
// the searchers re-open. Every result must equal the one a lone thread got on the same
// generation with the same knobs. Run under ThreadSanitizer by `scripts/test --tsan`.
#include "testutil/temp_dir.h"
#include "testutil/vectors.h"
#include "util/file.h"
#include "voxir/error.h"
#include "voxir/index.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace voxir {
namespace {

constexpr int kDim = 32;
constexpr int kQueries = 24;
constexpr int kTop = 10;
const EmbedderIdentity kIdentity{"fake:vectors", "fake-vectors;v=1", kDim};

// Results of every knob setting on one generation.
using Results = std::vector<std::vector<std::int64_t>>;

// The query knobs a searcher cycles through: each index kind gets several values of its own.
std::vector<AnnParams> knobs_for(IndexSpec::Type type) {
  switch (type) {
    case IndexSpec::Type::kHnsw:
      return {{.ef_search = 10}, {.ef_search = 40}, {.ef_search = 120}};
    case IndexSpec::Type::kIvfPq:
      return {{.nprobe = 1, .refine = 1}, {.nprobe = 4, .refine = 1}, {.nprobe = 16, .refine = 10}};
    case IndexSpec::Type::kFlat:
      break;
  }
  return {{}};
}

std::vector<std::int64_t> search(const Index& index, const std::vector<float>& queries,
                                 const AnnParams& knobs) {
  std::vector<std::int64_t> ids(kQueries * kTop);
  std::vector<float> sims(ids.size());
  index.search(queries, kQueries, kTop, knobs, ids, sims);
  return ids;
}

// Opens the folder's current generation. A writer may switch CURRENT and delete the generation
// being opened in between (the old one is removed as soon as the new one is current); that one
// race is retried, counted in `retries`, any other failure is not.
std::unique_ptr<Index> open_current(const std::filesystem::path& dir, std::atomic<int>& retries) {
  for (;;) {
    const std::string before = read_text_file(dir / "CURRENT");
    try {
      return Index::open(dir);
    } catch (const Error&) {
      if (read_text_file(dir / "CURRENT") == before) throw;
      ++retries;
    }
  }
}

class ConcurrentSearch : public ::testing::TestWithParam<const char*> {};

TEST_P(ConcurrentSearch, ResultsMatchALoneSearcherWhileVolumesComeAndGo) {
  testing::TempDir tmp;
  const auto set = testing::clustered_set({.volumes = 40, .slices = 20, .dim = kDim});
  const IndexSpec spec = IndexSpec::parse(GetParam());
  write_generation(tmp.path(), true, spec, kIdentity, {set.begin(), set.begin() + 30}, {}, {});
  std::vector<float> queries;
  for (int i = 0; i < kQueries; ++i) {  // slices of various volumes, some not (yet) indexed
    const auto& v = set[static_cast<std::size_t>(i * 13 % 40)].vectors;
    const auto s = static_cast<std::ptrdiff_t>(i * 7 % 20) * kDim;
    queries.insert(queries.end(), v.begin() + s, v.begin() + s + kDim);
  }
  testing::perturb(queries, kDim, 0.3, 5);
  const auto knobs = knobs_for(spec.type);

  // Generation -> results of a lone thread, filled in by the writer after each write.
  std::mutex lone_mutex;
  std::map<std::int64_t, std::shared_ptr<const Results>> lone;
  auto record_lone = [&] {
    const auto index = Index::open(tmp.path());
    auto results = std::make_shared<Results>();
    for (const auto& k : knobs) results->push_back(search(*index, queries, k));
    const std::lock_guard lock(lone_mutex);
    lone[index->generation()] = std::move(results);
  };
  auto lone_results = [&](std::int64_t generation) -> std::shared_ptr<const Results> {
    const std::lock_guard lock(lone_mutex);
    const auto it = lone.find(generation);
    return it == lone.end() ? nullptr : it->second;
  };
  record_lone();

  std::atomic<bool> writing{true};
  std::atomic<int> compared{0}, reopened{0}, retries{0};
  std::thread writer([&] {
    try {
      for (int round = 0; round < 5; ++round) {  // add one of the 10 spare volumes, remove another
        const auto& add = set[static_cast<std::size_t>(30 + round)];
        write_generation(tmp.path(), false, {}, {}, {add}, {}, {});
        record_lone();
        const std::vector<std::string> gone{set[static_cast<std::size_t>(round * 5)].volume.id};
        write_generation(tmp.path(), false, {}, {}, {}, gone, {});
        record_lone();
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "writer: " << e.what();
    }
    writing = false;
  });
  std::vector<std::thread> searchers;
  for (int t = 0; t < 3; ++t) {
    searchers.emplace_back([&, t] {
      try {
        auto index = open_current(tmp.path(), retries);
        // At least 30 rounds each, and on until the writer is done.
        for (int round = 0; round < 30 || writing; ++round) {
          if (round % 4 == 3) {
            index = open_current(tmp.path(), retries);
            ++reopened;
          }
          const std::size_t k = static_cast<std::size_t>(round + t) % knobs.size();
          const auto got = search(*index, queries, knobs[k]);
          if (const auto want = lone_results(index->generation())) {
            EXPECT_EQ(got, (*want)[k]) << GetParam() << " generation " << index->generation()
                                       << " knobs #" << k << ", searcher " << t;
            ++compared;
          }
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "searcher " << t << ": " << e.what();
      }
    });
  }
  writer.join();
  for (auto& s : searchers) s.join();
  EXPECT_EQ(lone.size(), 11u);  // the first generation and ten writes
  EXPECT_GE(compared.load(), 3 * 30 / 2) << "too few searches met a recorded generation";
  std::printf("%s: %d searches compared, %d re-opens (%d retried: generation replaced while "
              "opening)\n",
              GetParam(), compared.load(), reopened.load(), retries.load());
}

std::string kind_name(const ::testing::TestParamInfo<const char*>& kind) {
  return kind.index == 0 ? "Flat" : kind.index == 1 ? "Hnsw" : "IvfPq";
}

INSTANTIATE_TEST_SUITE_P(Kinds, ConcurrentSearch,
                         ::testing::Values("faiss:Flat", "hnswlib:M8,efc40", "faiss:IVF16,PQ8"),
                         kind_name);

}  // namespace
}  // namespace voxir
