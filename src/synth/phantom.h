// Internals of the phantom generator shared by the dataset writer and the tests.
#pragma once

#include "synth/anatomy.h"
#include "voxir/synth.h"

#include <filesystem>
#include <string>
#include <vector>

namespace voxir::synth {

// The v1 class names in id order, from the built-in catalogue, and the map painted with them.
[[nodiscard]] std::vector<std::string> v1_class_names();
[[nodiscard]] const ClassIds& v1_class_ids();

// generate_subject with an explicit class map (tests may build one without the catalogue).
[[nodiscard]] Phantom generate_subject(std::uint64_t seed, const SubjectOptions& options, const ClassIds& ids);

// Writes one subject's ct.nii.gz and segmentations/<name>.nii.gz for every name (label value =
// position in `names` + 1), empty masks included.
void write_subject(const Phantom& phantom, const std::filesystem::path& dir, const std::vector<std::string>& names);


}  // namespace voxir::synth
