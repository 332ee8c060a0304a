// voxir/explain.h: why a result matched, as pictures and JSON (`voxir search --explain DIR`, the
// server's "explain": true).
//
// explain() makes, for each result of a search run with SearchParams::explain, in memory:
//   heatmap    a PNG of the re-ranker's query-slice x result-slice similarity matrix
//              (SearchResult::similarity): row r (top to bottom) = alignment[r]'s query slice,
//              column j (left to right) = result slice j, each cell `cell` x `cell` pixels, colour
//              from dark blue (lowest similarity in the matrix) to yellow (highest), black for
//              result slices without content. The MaxSim alignment is drawn on it: the cell of
//              each row's aligned slice is pure red (255, 0, 0), a colour the scale never uses.
//              Its size is columns * cell x rows * cell pixels (the JSON's "columns", "rows",
//              "cell").
//   strip      a PNG with, for `pairs` evenly spaced aligned query slices, one row each: the query
//              slice | the matched result slice, HU-windowed (`window_center`, `window_width`),
//              anterior up, the patient's left on the image's right (as radiologists view it).
//              Made when the query volume is known and the result's source can be read;
//              otherwise empty, with the reason in strip_note.
//   alignment  JSON: {"volume", "path", "score", "rank", "cell", "rows": [query slices],
//              "columns", "alignment": [{"row", "query_slice", "result_slice", "similarity"}],
//              "strip": [{"query_slice", "result_slice"}], "strip_note" (only without a strip)}.
// write_explanations() writes them as files named <rank>_<volume id>_{heatmap.png,strip.png,
// alignment.json} (rank from 1; characters of the id other than letters, digits, '-', '_' and
// '.' become '_'). Every front end makes its explanations here, so they cannot differ.
#pragma once

#include "voxir/search.h"

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace voxir {

class Index;
class Volume;

struct ExplainOptions {
  int cell = 0;               // pixels per heatmap cell; 0: chosen so the longer side is ~512 px
  int pairs = 5;              // aligned slice pairs in the strip
  double window_center = 40;  // HU window of the strip (soft tissue by default)
  double window_width = 400;
  // Throws Error(kUsage) naming the bad knob.
  void validate() const;
};

// One result explained, in memory.
struct Explanation {
  std::size_t rank = 0;  // from 1
  std::string volume;    // the result's id
  std::vector<std::uint8_t> heatmap_png;
  std::vector<std::uint8_t> strip_png;  // empty when there is no strip
  std::string strip_note;               // why there is no strip, when there is none
  std::string alignment_json;           // the alignment document above
};

// Explains every result of `answer`. `query` (may be nullptr) is the query volume, for the
// strips; result volumes are read from their source paths. Throws Error(kUsage) when a result
// has no similarity matrix (search without explain).
[[nodiscard]] std::vector<Explanation> explain(const SearchAnswer& answer, const Volume* query,
                                               const ExplainOptions& options = {});

// The same for `answer` = search(index, query): the query volume for the strips is the Query's
// own (volume), read again (path, with its ReadOptions) or, for an indexed_id, read from that
// volume's source; vectors have none. A query volume that cannot be read leaves every strip out
// with the reason.
[[nodiscard]] std::vector<Explanation> explain(const Index& index, const Query& query,
                                               const SearchAnswer& answer,
                                               const ExplainOptions& options = {});

struct ExplainFiles {
  std::filesystem::path heatmap, strip, alignment;  // strip empty when there is none
  std::string strip_note;  // why there is no strip, when there is none
};

// Writes each explanation as the files above into `dir` (created). Throws Error(kIo) when a
// file cannot be written.
std::vector<ExplainFiles> write_explanations(std::span<const Explanation> explanations,
                                             const std::filesystem::path& dir);

}  // namespace voxir
