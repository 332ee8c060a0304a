// Explanations (voxir/explain.h): the alignment drawn on the heatmap is the one in the JSON and
// the re-ranker's; the strip has one row per picked pair.
#include "voxir/explain.h"
#include "search/png.h"
#include "testutil/fake_embedder.h"
#include "testutil/phantoms.h"
#include "testutil/temp_dir.h"
#include "util/file.h"
#include "voxir/error.h"
#include "voxir/index.h"
#include "voxir/ingest.h"
#include "voxir/search.h"
#include "voxir/volume.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace voxir {
namespace {

using testing::TempDir;

struct Explained {
  TempDir tmp;
  SearchAnswer answer;
  std::vector<Explanation> explanations;
  std::vector<ExplainFiles> files;
};

void explain_phantoms(Explained& out, const ExplainOptions& options) {
  const testing::FakeEmbedder embedder;
  std::vector<std::filesystem::path> paths;
  for (int s = 0; s < 6; ++s) {
    paths.push_back(out.tmp.path() / fmt::format("p{}.nii.gz", s));
    (void)testing::write_phantom(paths.back(), s);
  }
  BuildOptions build;
  build.index = IndexSpec::parse("faiss:Flat");
  (void)build_index(out.tmp.path() / "index", sources_from_paths(paths), embedder, build);
  const auto index = Index::open(out.tmp.path() / "index");
  const auto query_path = out.tmp.path() / "q.nii.gz";
  (void)testing::write_phantom(query_path, 17);
  const Volume query = read_volume(query_path);
  Query q;
  q.volume = &query;
  q.embedder = &embedder;
  q.params.explain = true;
  q.params.top = 3;
  out.answer = search(*index, q);
  out.explanations = explain(out.answer, &query, options);
  out.files = write_explanations(out.explanations, out.tmp.path() / "explain");
}

TEST(Explain, AlignmentDrawnEqualsTheJsonAndTheReranker) {
  Explained e;
  ExplainOptions options;
  options.pairs = 4;
  explain_phantoms(e, options);
  ASSERT_EQ(e.files.size(), e.answer.results.size());
  ASSERT_FALSE(e.files.empty());
  for (std::size_t r = 0; r < e.files.size(); ++r) {
    const SearchResult& result = e.answer.results[r];
    SCOPED_TRACE(result.volume);
    const auto json = nlohmann::json::parse(read_text_file(e.files[r].alignment));
    const int cell = json["cell"].get<int>();
    const auto& alignment = json["alignment"];
    ASSERT_EQ(alignment.size(), result.alignment.size());
    const RgbImage heat = read_png(e.files[r].heatmap);
    EXPECT_EQ(heat.width, result.similarity_columns * cell);
    EXPECT_EQ(heat.height, static_cast<int>(alignment.size()) * cell);
    for (std::size_t i = 0; i < alignment.size(); ++i) {
      // The red cells of row i, read back from the picture.
      std::vector<int> red;
      for (int x = 0; x < heat.width; x += cell) {
        const auto* p = heat.rgb.data() + (static_cast<std::size_t>(i) * cell * heat.width + x) * 3;
        if (p[0] == 255 && p[1] == 0 && p[2] == 0) red.push_back(x / cell);
      }
      ASSERT_EQ(red.size(), 1u) << "row " << i;
      EXPECT_EQ(red[0], alignment[i]["result_slice"].get<int>());
      EXPECT_EQ(alignment[i]["query_slice"].get<std::int64_t>(), result.alignment[i].query_slice);
      EXPECT_EQ(alignment[i]["result_slice"].get<std::int64_t>(), result.alignment[i].volume_slice);
      // The alignment is the row maximum of the library's own matrix.
      const auto row = std::span(result.similarity)
                           .subspan(i * static_cast<std::size_t>(result.similarity_columns),
                                    static_cast<std::size_t>(result.similarity_columns));
      EXPECT_EQ(std::max_element(row.begin(), row.end()) - row.begin(),
                result.alignment[i].volume_slice);
    }
    ASSERT_FALSE(e.files[r].strip.empty()) << e.files[r].strip_note;
    const RgbImage strip = read_png(e.files[r].strip);
    EXPECT_EQ(json["strip"].size(), 4u);
    EXPECT_GT(strip.height, 0);
    // The files hold exactly what was made in memory.
    const auto& made = e.explanations[r];
    EXPECT_EQ(made.rank, r + 1);
    EXPECT_EQ(made.volume, result.volume);
    EXPECT_EQ(read_file(e.files[r].heatmap), made.heatmap_png);
    EXPECT_EQ(read_file(e.files[r].strip), made.strip_png);
    EXPECT_EQ(read_text_file(e.files[r].alignment), made.alignment_json);
  }
}

// explain(index, query, answer) finds the query volume itself: read from the path, or from an
// indexed volume's source; vectors have none, so no strip and a note saying why.
TEST(Explain, FindsTheQueryVolumeOfEachSource) {
  const testing::FakeEmbedder embedder;
  TempDir tmp;
  std::vector<std::filesystem::path> paths;
  for (int s = 0; s < 4; ++s) {
    paths.push_back(tmp.path() / fmt::format("p{}.nii.gz", s));
    (void)testing::write_phantom(paths.back(), s);
  }
  BuildOptions build;
  build.index = IndexSpec::parse("faiss:Flat");
  (void)build_index(tmp.path() / "index", sources_from_paths(paths), embedder, build);
  const auto index = Index::open(tmp.path() / "index");
  const std::string self = index->volumes()[1].id;
  std::vector<float> vectors = embedder.embed_all(read_volume(paths[1]));

  struct Case {
    std::string name;
    Query query;
    bool strip;
  };
  std::vector<Case> cases(3);
  cases[0].name = "path";
  cases[0].query.path = paths[1];
  cases[0].strip = true;
  cases[1].name = "indexed volume";
  cases[1].query.indexed_id = self;
  cases[1].strip = true;
  cases[2].name = "vectors";
  cases[2].query.vectors = vectors;
  cases[2].strip = false;
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    c.query.embedder = &embedder;
    c.query.params.explain = true;
    c.query.params.top = 2;
    const SearchAnswer answer = search(*index, c.query);
    ASSERT_FALSE(answer.results.empty());
    ASSERT_EQ(answer.results[0].volume, self) << "the volume finds itself first";
    const auto explained = explain(*index, c.query, answer);
    ASSERT_EQ(explained.size(), answer.results.size());
    EXPECT_EQ(explained[0].strip_png.empty(), !c.strip) << explained[0].strip_note;
    EXPECT_EQ(explained[0].strip_note.empty(), c.strip) << explained[0].strip_note;
    const auto json = nlohmann::json::parse(explained[0].alignment_json);
    EXPECT_EQ(json["strip"].size(), c.strip ? 5U : 0U);
    if (c.strip) {
      // The query is the result itself: a pair aligned to the same slice shows that slice twice,
      // so both halves of its strip row (query | 4 px gap | result) are the same picture.
      const RgbImage strip = decode_png(explained[0].strip_png, "strip");
      const Volume v = read_volume(paths[1]);
      const int w = static_cast<int>(v.nx()), h = static_cast<int>(v.ny());
      EXPECT_EQ(strip.width, 2 * w + 4);
      EXPECT_EQ(strip.height, 5 * (h + 4));
      int same = 0;
      for (int n = 0; n < 5; ++n) {
        const auto& pair = json["strip"][static_cast<std::size_t>(n)];
        if (pair["query_slice"] != pair["result_slice"]) continue;
        ++same;
        for (int y = n * (h + 4); y < n * (h + 4) + h; ++y) {
          for (int x = 0; x < w; ++x) {
            const auto at = [&](int xx) {
              return strip
                  .rgb[(static_cast<std::size_t>(y) * static_cast<std::size_t>(strip.width) +
                        static_cast<std::size_t>(xx)) *
                       3];
            };
            ASSERT_EQ(at(x), at(x + w + 4)) << "pixel " << x << "," << y;
          }
        }
      }
      EXPECT_GT(same, 0) << "a volume aligns most of its slices with themselves";
    } else {
      EXPECT_NE(json["strip_note"].get<std::string>().find("vectors"), std::string::npos);
    }
  }
}

TEST(Explain, NeedsTheMatrix) {
  SearchAnswer answer;
  answer.results.push_back({});
  answer.results.back().volume = "v";
  TempDir tmp;
  EXPECT_THROW((void)explain(answer, nullptr), Error);
  SearchParams p;
  p.explain = true;
  p.rerank = false;
  EXPECT_THROW(p.validate(), Error);
}

}  // namespace
}  // namespace voxir
