// A small delimited-text reader for the project's tables (class catalogues, meta.csv).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace voxir {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::size_t> line_of_row;  // 1-based line number of each row, for messages

  // Index of a header column, or -1.
  [[nodiscard]] int column(std::string_view name) const;
};

// Parses `text`. The separator is ';' or ',', whichever the header line has more of. Fields may
// be double-quoted ("a;b", "" for a quote). Blank lines are skipped; a row with a different
// number of fields than the header throws Error(kInvalidInput) naming `source` and the line.
[[nodiscard]] CsvTable parse_csv(std::string_view text, std::string_view source);

}  // namespace voxir
