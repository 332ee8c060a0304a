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
  out.files = write_explanations(out.answer, &query, out.tmp.path() / "explain", options);
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
  }
}

TEST(Explain, NeedsTheMatrix) {
  SearchAnswer answer;
  answer.results.push_back({});
  answer.results.back().volume = "v";
  TempDir tmp;
  EXPECT_THROW((void)write_explanations(answer, nullptr, tmp.path()), Error);
  SearchParams p;
  p.explain = true;
  p.rerank = false;
  EXPECT_THROW(p.validate(), Error);
}

}  // namespace
}  // namespace voxir
