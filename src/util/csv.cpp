#include "util/csv.h"

#include "voxir/error.h"

#include <algorithm>

namespace voxir {
namespace {

std::vector<std::string> split_line(std::string_view line, char sep, std::string_view source,
                                    std::size_t line_no) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == sep) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  if (quoted) fail(ErrorKind::kInvalidInput, "{}:{}: unterminated quoted field", source, line_no);
  for (auto& f : fields) {
    const auto b = f.find_first_not_of(" \t");
    const auto e = f.find_last_not_of(" \t");
    f = b == std::string::npos ? std::string() : f.substr(b, e - b + 1);
  }
  return fields;
}

}  // namespace

int CsvTable::column(std::string_view name) const {
  const auto it = std::find(header.begin(), header.end(), name);
  return it == header.end() ? -1 : static_cast<int>(it - header.begin());
}

CsvTable parse_csv(std::string_view text, std::string_view source) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte order mark
  CsvTable table;
  char sep = ',';
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (table.header.empty()) {
      sep = std::count(line.begin(), line.end(), ';') > std::count(line.begin(), line.end(), ',') ? ';' : ',';
      table.header = split_line(line, sep, source, line_no);
      continue;
    }
    auto fields = split_line(line, sep, source, line_no);
    if (fields.size() != table.header.size()) {
      fail(ErrorKind::kInvalidInput, "{}:{}: {} fields, expected {} as in the header (separator '{}')",
           source, line_no, fields.size(), table.header.size(), sep);
    }
    table.rows.push_back(std::move(fields));
    table.line_of_row.push_back(line_no);
  }
  if (table.header.empty()) fail(ErrorKind::kInvalidInput, "{}: empty table (no header line)", source);
  return table;
}

}  // namespace voxir
