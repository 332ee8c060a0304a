// voxir/dataset.h: a collection of CTs in the TotalSegmentator release layout.
//
//   <root>/meta.csv                      ';' or ',' separated; columns image_id and split
//                                        (train/val/test) are required, others are kept as-is
//   <root>/<image_id>/ct.nii.gz
//   <root>/<image_id>/segmentations/<class>.nii.gz   one binary mask per class (v1: 104, v2: 117)
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace voxir {

struct Subject {
  std::string id;
  std::string split;  // "train", "val", "test" (as written in meta.csv)
  std::filesystem::path ct;
  std::filesystem::path segmentations;  // folder; may not exist
  std::map<std::string, std::string> meta;  // every other column of meta.csv
};

class Dataset {
 public:
  // Reads <root>/meta.csv. Throws Error(kNotFound) when it is missing, kInvalidInput naming the
  // line of a malformed row, a missing required column or a duplicate image_id. Subjects whose
  // ct.nii.gz is absent are an error too (named), so a half-copied dataset is noticed early.
  [[nodiscard]] static Dataset open(const std::filesystem::path& root);

  [[nodiscard]] const std::filesystem::path& root() const { return root_; }
  [[nodiscard]] const std::vector<Subject>& subjects() const { return subjects_; }
  [[nodiscard]] std::vector<const Subject*> split(std::string_view name) const;
  [[nodiscard]] const Subject* find(std::string_view id) const;

 private:
  std::filesystem::path root_;
  std::vector<Subject> subjects_;
};

}  // namespace voxir
