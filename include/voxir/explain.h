// voxir/explain.h: why a result matched, as pictures and JSON (`voxir search --explain DIR`).
//
// For each result of a search run with SearchParams::explain, three files named
// <rank>_<volume id>_{heatmap.png,strip.png,alignment.json} (rank from 1; characters of the id
// other than letters, digits, '-', '_' and '.' become '_'):
//   heatmap    the re-ranker's query-slice x result-slice similarity matrix
//              (SearchResult::similarity): row r (top to bottom) = alignment[r]'s query slice,
//              column j (left to right) = result slice j, each cell `cell` x `cell` pixels, colour
//              from dark blue (lowest similarity in the matrix) to yellow (highest), black for
//              result slices without content. The MaxSim alignment is drawn on it: the cell of
//              each row's aligned slice is pure red (255, 0, 0), a colour the scale never uses.
//   strip      for `pairs` evenly spaced aligned query slices, one row each: the query slice |
//              the matched result slice, HU-windowed (`window_center`, `window_width`), anterior
//              up, the patient's left on the image's right (as radiologists view it). Written when
//              the query volume is given and the result's source can be read; otherwise skipped
//              (ExplainFiles::strip empty, with the reason in strip_note).
//   alignment  {"volume", "path", "score", "rank", "cell", "rows": [query slices], "columns",
//              "alignment": [{"row", "query_slice", "result_slice", "similarity"}],
//              "strip": [{"query_slice", "result_slice"}]}.
#pragma once

#include "voxir/search.h"

#include <filesystem>
#include <string>
#include <vector>

namespace voxir {

class Volume;

struct ExplainOptions {
  int cell = 0;               // pixels per heatmap cell; 0: chosen so the longer side is ~512 px
  int pairs = 5;              // aligned slice pairs in the strip
  double window_center = 40;  // HU window of the strip (soft tissue by default)
  double window_width = 400;
  // Throws Error(kUsage) naming the bad knob.
  void validate() const;
};

struct ExplainFiles {
  std::filesystem::path heatmap, strip, alignment;
  std::string strip_note;  // why there is no strip, when there is none
};

// Writes the files above for every result of `answer` into `dir` (created). `query` (may be
// nullptr) is the query volume, for the strip; result volumes are read from their source paths.
// Throws Error(kUsage) when a result has no similarity matrix (search without explain), kIo when
// a file cannot be written.
std::vector<ExplainFiles> write_explanations(const SearchAnswer& answer, const Volume* query,
                                             const std::filesystem::path& dir,
                                             const ExplainOptions& options = {});

}  // namespace voxir
