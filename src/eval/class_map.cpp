// The benchmark's class map (fine classes -> coarse regions) and the dataset label-set check.
#include "util/csv.h"
#include "util/file.h"
#include "voxir/error.h"
#include "voxir/eval.h"
#include "voxir/labels.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

namespace voxir::eval {
namespace {

void add_entry(ClassMap::Entry entry, std::vector<ClassMap::Entry>& entries,
               std::vector<std::string>& coarse, std::vector<int>& coarse_of) {
  int c = -1;
  if (!entry.coarse.empty()) {
    const auto it = std::find(coarse.begin(), coarse.end(), entry.coarse);
    c = static_cast<int>(it - coarse.begin());
    if (it == coarse.end()) coarse.push_back(entry.coarse);
  }
  coarse_of.push_back(c);
  entries.push_back(std::move(entry));
}

}  // namespace

ClassMap ClassMap::builtin() {
  ClassMap map;
  map.source_ = "builtin";
  for (const ClassInfo* c : ClassCatalog::builtin().version_classes(LabelVersion::kV1)) {
    add_entry({c->index, c->name, c->coarse}, map.entries_, map.coarse_, map.coarse_of_);
  }
  return map;
}

ClassMap ClassMap::from_csv(std::string_view text, std::string_view source) {
  const CsvTable t = parse_csv(text, source);
  const int c_name = t.column("name");
  const int c_coarse = t.column("coarse_region");
  if (c_name < 0 || c_coarse < 0) {
    fail(ErrorKind::kInvalidInput, "{}: a class map needs the columns 'name' and 'coarse_region'",
         source);
  }
  ClassMap map;
  map.source_ = std::string(source);
  std::set<std::string> seen;
  const ClassCatalog& cat = ClassCatalog::builtin();
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const std::string& name = t.rows[r][static_cast<std::size_t>(c_name)];
    const ClassInfo* info = cat.find(name);
    if (info == nullptr) {
      try {
        (void)cat.at(name);  // throws, naming close names
      } catch (const Error& e) {
        fail(ErrorKind::kInvalidInput, "{}:{}: {}", source, t.line_of_row[r], e.what());
      }
      fail(ErrorKind::kInternal, "{}: class '{}' neither found nor refused", source, name);
    }
    if (!seen.insert(name).second) {
      fail(ErrorKind::kInvalidInput, "{}:{}: class '{}' is listed twice", source, t.line_of_row[r],
           name);
    }
    add_entry({info->index, name, t.rows[r][static_cast<std::size_t>(c_coarse)]}, map.entries_,
              map.coarse_, map.coarse_of_);
  }
  if (map.entries_.empty())
    fail(ErrorKind::kInvalidInput, "{}: the class map lists no class", source);
  return map;
}

ClassMap ClassMap::load(const std::filesystem::path& csv) {
  return from_csv(read_text_file(csv), csv.string());
}

LabelSetCheck check_label_set(const ClassMap& map,
                              const std::vector<std::string>& dataset_classes) {
  LabelSetCheck out;
  const std::set<std::string> have(dataset_classes.begin(), dataset_classes.end());
  std::set<std::string> v1;
  for (const ClassInfo* c : ClassCatalog::builtin().version_classes(LabelVersion::kV1)) {
    v1.insert(c->name);
  }
  std::set<std::string> mapped;
  for (const auto& e : map.entries()) mapped.insert(e.name);
  out.dataset_classes = static_cast<int>(have.size());
  for (const auto& name : have) {
    if (!v1.count(name)) out.not_v1.push_back(name);
    if (!mapped.count(name)) out.added.push_back(name);
  }
  for (const auto& name : v1) {
    if (!have.count(name)) out.v1_missing.push_back(name);
  }
  for (std::size_t i = 0; i < map.entries().size(); ++i) {
    const auto& e = map.entries()[i];
    if (!have.count(e.name)) {
      out.dropped.push_back(e.name);
    } else if (map.coarse_of(i) < 0) {
      out.without_coarse.push_back(e.name);
    }
  }
  std::sort(out.dropped.begin(), out.dropped.end());
  std::sort(out.without_coarse.begin(), out.without_coarse.end());
  out.exact_v1 = out.not_v1.empty() && out.v1_missing.empty();
  return out;
}

std::vector<std::string> LabelSetCheck::warnings(const std::string& map_source) const {
  std::vector<std::string> out;
  if (!exact_v1) {
    out.push_back(fmt::format(
        "the dataset's label set ({} classes) is not the 104 TotalSegmentator v1 classes: {} not "
        "in v1 (v2-only?): {}; {} v1 classes absent: {}",
        dataset_classes, not_v1.size(),
        not_v1.empty() ? "none" : fmt::format("{}", fmt::join(not_v1, ", ")), v1_missing.size(),
        v1_missing.empty() ? "none" : fmt::format("{}", fmt::join(v1_missing, ", "))));
  }
  if (!added.empty()) {
    out.push_back(
        fmt::format("{} dataset classes are not in the class map ({}) and are not scored: {}",
                    added.size(), map_source, fmt::join(added, ", ")));
  }
  if (!dropped.empty()) {
    out.push_back(
        fmt::format("{} classes of the class map ({}) are absent from the dataset (no trials): {}",
                    dropped.size(), map_source, fmt::join(dropped, ", ")));
  }
  if (!without_coarse.empty()) {
    out.push_back(
        fmt::format("{} classes have no coarse region in the class map ({}) and are "
                    "scored in the fine table only: {}",
                    without_coarse.size(), map_source, fmt::join(without_coarse, ", ")));
  }
  return out;
}

}  // namespace voxir::eval
