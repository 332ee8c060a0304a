#include "util/csv.h"
#include "voxir/error.h"
#include "voxir/labels.h"

#include <algorithm>
#include <charconv>
#include <fmt/ranges.h>
#include <map>

namespace voxir::anatomy::data {
extern const std::string_view kV1ClassesCsv;
extern const std::string_view kV2ClassesCsv;
}  // namespace voxir::anatomy::data

namespace voxir {
namespace {

int parse_id(const std::string& field, std::string_view source, std::size_t line) {
  if (field.empty()) return 0;
  int v = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (ec != std::errc() || end != field.data() + field.size() || v < 1) {
    fail(ErrorKind::kInvalidInput, "{}:{}: class id '{}' is not a positive integer", source, line, field);
  }
  return v;
}

int required_column(const CsvTable& t, std::string_view name, std::string_view source) {
  const int c = t.column(name);
  if (c < 0) fail(ErrorKind::kInvalidInput, "{}: missing column '{}'", source, name);
  return c;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// Appends to `close` (up to `limit` names) the names that contain `name` or are within three
// edits of it: the "did you mean" of an unknown name.
void add_close_names(std::vector<std::string>& close, std::span<const std::string> names,
                     std::string_view name, std::size_t limit) {
  for (const auto& n : names) {
    if (close.size() >= limit) return;
    if (n.find(name) != std::string::npos || edit_distance(n, name) <= 3) close.push_back(n);
  }
}

std::vector<std::string> class_names(std::span<const ClassInfo> classes) {
  std::vector<std::string> out;
  for (const auto& c : classes) out.push_back(c.name);
  return out;
}

}  // namespace

const ClassCatalog& ClassCatalog::builtin() {
  static const ClassCatalog catalog =
      from_csv(anatomy::data::kV1ClassesCsv, anatomy::data::kV2ClassesCsv);
  return catalog;
}

ClassCatalog ClassCatalog::from_csv(std::string_view v1_csv, std::string_view v2_csv) {
  constexpr std::string_view kV1Source = "totalsegmentator_v1_classes.csv";
  constexpr std::string_view kV2Source = "totalsegmentator_v2_classes.csv";
  const CsvTable v1 = parse_csv(v1_csv, kV1Source);
  const CsvTable v2 = parse_csv(v2_csv, kV2Source);
  const int c_v1 = required_column(v1, "v1_id", kV1Source);
  const int c_v1v2 = required_column(v1, "v2_id", kV1Source);
  const int c_name = required_column(v1, "name", kV1Source);
  const int c_cat = required_column(v1, "category", kV1Source);
  const int c_coarse = required_column(v1, "coarse_region", kV1Source);
  const int c_v2 = required_column(v2, "v2_id", kV2Source);
  const int c_v2name = required_column(v2, "name", kV2Source);

  ClassCatalog cat;
  std::map<std::string, int, std::less<>> by_name;
  for (std::size_t r = 0; r < v1.rows.size(); ++r) {
    const auto& row = v1.rows[r];
    ClassInfo info;
    info.name = row[static_cast<std::size_t>(c_name)];
    info.v1_id = parse_id(row[static_cast<std::size_t>(c_v1)], kV1Source, v1.line_of_row[r]);
    info.v2_id = parse_id(row[static_cast<std::size_t>(c_v1v2)], kV1Source, v1.line_of_row[r]);
    info.category = row[static_cast<std::size_t>(c_cat)];
    info.coarse = row[static_cast<std::size_t>(c_coarse)];
    if (info.name.empty() || info.v1_id == 0 || info.coarse.empty()) {
      fail(ErrorKind::kInvalidInput, "{}:{}: a v1 class needs a name, a v1 id and a coarse region",
           kV1Source, v1.line_of_row[r]);
    }
    if (!by_name.emplace(info.name, 0).second) {
      fail(ErrorKind::kInvalidInput, "{}:{}: duplicate class name '{}'", kV1Source, v1.line_of_row[r], info.name);
    }
    cat.classes_.push_back(std::move(info));
  }
  std::sort(cat.classes_.begin(), cat.classes_.end(),
            [](const ClassInfo& a, const ClassInfo& b) { return a.v1_id < b.v1_id; });
  for (std::size_t i = 0; i < cat.classes_.size(); ++i) {
    if (cat.classes_[i].v1_id != static_cast<int>(i) + 1) {
      fail(ErrorKind::kInvalidInput, "{}: v1 ids must be 1..{} without gaps or repeats (found {} at position {})",
           kV1Source, cat.classes_.size(), cat.classes_[i].v1_id, i + 1);
    }
  }
  by_name.clear();
  for (std::size_t i = 0; i < cat.classes_.size(); ++i) by_name[cat.classes_[i].name] = static_cast<int>(i);

  std::vector<std::pair<int, std::string>> v2_only;
  for (std::size_t r = 0; r < v2.rows.size(); ++r) {
    const auto& row = v2.rows[r];
    const std::string& name = row[static_cast<std::size_t>(c_v2name)];
    const int id = parse_id(row[static_cast<std::size_t>(c_v2)], kV2Source, v2.line_of_row[r]);
    if (id == 0) fail(ErrorKind::kInvalidInput, "{}:{}: missing v2 id", kV2Source, v2.line_of_row[r]);
    const auto it = by_name.find(name);
    if (it == by_name.end()) {
      v2_only.emplace_back(id, name);
    } else if (cat.classes_[static_cast<std::size_t>(it->second)].v2_id != id) {
      fail(ErrorKind::kInvalidInput, "{}:{}: '{}' has v2 id {} but the v1 table says {}", kV2Source,
           v2.line_of_row[r], name, id, cat.classes_[static_cast<std::size_t>(it->second)].v2_id);
    }
  }
  std::sort(v2_only.begin(), v2_only.end());
  for (auto& [id, name] : v2_only) {
    ClassInfo info;
    info.name = std::move(name);
    info.v2_id = id;
    cat.classes_.push_back(std::move(info));
  }
  std::vector<int> seen_v2;
  for (std::size_t i = 0; i < cat.classes_.size(); ++i) {
    auto& c = cat.classes_[i];
    c.index = static_cast<int>(i);
    if (c.v2_id != 0) seen_v2.push_back(c.v2_id);
    int coarse = -1;
    if (!c.coarse.empty()) {
      const auto it = std::find(cat.coarse_.begin(), cat.coarse_.end(), c.coarse);
      coarse = static_cast<int>(it - cat.coarse_.begin());
      if (it == cat.coarse_.end()) cat.coarse_.push_back(c.coarse);
    }
    cat.coarse_of_.push_back(coarse);
  }
  std::sort(seen_v2.begin(), seen_v2.end());
  if (std::adjacent_find(seen_v2.begin(), seen_v2.end()) != seen_v2.end()) {
    fail(ErrorKind::kInvalidInput, "{}: a v2 id is used by two classes", kV2Source);
  }
  return cat;
}

std::vector<const ClassInfo*> ClassCatalog::version_classes(LabelVersion version) const {
  std::vector<const ClassInfo*> out;
  for (const auto& c : classes_) {
    if ((version == LabelVersion::kV1 ? c.v1_id : c.v2_id) != 0) out.push_back(&c);
  }
  const auto id = [version](const ClassInfo* c) { return version == LabelVersion::kV1 ? c->v1_id : c->v2_id; };
  std::sort(out.begin(), out.end(), [&](const ClassInfo* a, const ClassInfo* b) { return id(a) < id(b); });
  return out;
}

const ClassInfo* ClassCatalog::find(std::string_view name) const {
  for (const auto& c : classes_)
    if (c.name == name) return &c;
  return nullptr;
}

const ClassInfo& ClassCatalog::at(std::string_view name) const {
  if (const ClassInfo* c = find(name)) return *c;
  std::vector<std::string> close;
  add_close_names(close, class_names(classes_), name, 6);
  if (close.empty()) {
    fail(ErrorKind::kNotFound, "unknown class '{}' (not a TotalSegmentator v1 or v2 class name)", name);
  }
  fail(ErrorKind::kNotFound, "unknown class '{}'; did you mean: {}?", name, fmt::join(close, ", "));
}

const ClassInfo* ClassCatalog::by_id(LabelVersion version, int id) const {
  if (id <= 0) return nullptr;
  for (const auto& c : classes_) {
    if ((version == LabelVersion::kV1 ? c.v1_id : c.v2_id) == id) return &c;
  }
  return nullptr;
}

Region ClassCatalog::region(std::string_view name) const {
  if (const ClassInfo* c = find(name)) return {c->name, false, c->index};
  if (const int r = coarse_index(name); r >= 0) return {coarse_[static_cast<std::size_t>(r)], true, r};
  std::vector<std::string> close;
  add_close_names(close, coarse_, name, 8);
  add_close_names(close, class_names(classes_), name, 8);
  if (close.empty()) {
    fail(ErrorKind::kNotFound,
         "unknown region '{}' (neither a TotalSegmentator class nor one of the {} coarse regions)",
         name, coarse_.size());
  }
  fail(ErrorKind::kNotFound, "unknown region '{}'; did you mean: {}?", name, fmt::join(close, ", "));
}

std::vector<int> ClassCatalog::region_classes(const Region& region) const {
  if (!region.coarse) return {region.index};
  std::vector<int> out;
  for (const auto& c : classes_) {
    if (coarse_index(c.index) == region.index) out.push_back(c.index);
  }
  return out;
}

int ClassCatalog::coarse_index(std::string_view region) const {
  const auto it = std::find(coarse_.begin(), coarse_.end(), region);
  return it == coarse_.end() ? -1 : static_cast<int>(it - coarse_.begin());
}

}  // namespace voxir
