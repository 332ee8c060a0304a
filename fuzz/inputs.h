// The fuzzed readers, one function each, shared by the libFuzzer targets (fuzz/*_fuzz.cpp) and
// the regression test that replays tests/fuzz_regressions/<target>/ (tests/io/fuzz_regression_test.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

namespace voxir::fuzz {

using Input = std::span<const std::uint8_t>;

// Feeds `input` to one reader (written to a file in scratch_dir() where the reader takes a path).
// Returns true when the reader refused it with a voxir::Error, false when it accepted it; any
// other exception escapes, as a sanitizer report or std::terminate would: those are the bugs.
using Reader = bool (*)(Input input);

struct Target {
  std::string_view name;  // also the folder name of its corpus and regression inputs
  Reader read;
};

// Every target, by name: nifti, dicom, labels, sidecar, manifest, catalog, meta_csv, npy.
[[nodiscard]] std::span<const Target> targets();
[[nodiscard]] Reader reader(std::string_view name);

// The DICOM target reads a folder: its input is the files' bytes joined by this separator
// (at most kMaxDicomFiles files).
inline constexpr std::string_view kDicomFileSeparator = "#VOXIR-NEXT-FILE#";
inline constexpr int kMaxDicomFiles = 8;

// A folder of this process, created at first use and removed at exit.
[[nodiscard]] const std::filesystem::path& scratch_dir();

}  // namespace voxir::fuzz
