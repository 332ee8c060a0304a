#include "inputs.h"

#include "embed/model_sidecar.h"
#include "index/catalog.h"
#include "index/manifest.h"
#include "io/dicom.h"
#include "io/nifti.h"
#include "testutil/temp_dir.h"
#include "util/csv.h"
#include "voxir/dataset.h"
#include "voxir/npy.h"
#include "voxir/error.h"
#include "voxir/labels.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <array>
#include <fstream>
#include <string>
#include <vector>

namespace voxir::fuzz {
namespace {

std::string_view as_text(Input input) {
  return {reinterpret_cast<const char*>(input.data()), input.size()};
}

void write_bytes(const std::filesystem::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("fuzz: cannot write " + file.string());
}

// Runs `read`; true when it throws voxir::Error (a refusal), false when it returns.
template <typename F>
bool refuses(F&& read) {
  try {
    read();
    return false;
  } catch (const Error&) {
    return true;
  }
}

// NIfTI bytes as a file named like what they hold (the gzip magic makes it .nii.gz).
std::filesystem::path nifti_file(Input input, std::string_view stem) {
  const bool gz = input.size() >= 2 && input[0] == 0x1f && input[1] == 0x8b;
  auto file = scratch_dir() / fmt::format("{}{}", stem, gz ? ".nii.gz" : ".nii");
  write_bytes(file, as_text(input));
  return file;
}

bool read_nifti_input(Input input) {
  const auto file = nifti_file(input, "input");
  return refuses([&] {
    std::vector<io::NiftiExtension> extensions;
    try {
      (void)io::read_nifti(file, &extensions);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kUsage) throw;
      (void)io::read_nifti(file, &extensions, 0);  // a 4-D file: its first frame
    }
  });
}

bool read_dicom_input(Input input) {
  const auto folder = scratch_dir() / "dicom";
  std::filesystem::remove_all(folder);
  std::filesystem::create_directory(folder);
  std::string_view rest = as_text(input);
  for (int i = 0; i < kMaxDicomFiles && !rest.empty(); ++i) {
    const std::size_t end = rest.find(kDicomFileSeparator);
    write_bytes(folder / fmt::format("f{}", i), rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + kDicomFileSeparator.size());
  }
  return refuses([&] {
    (void)io::list_dicom_series(folder);
    ReadOptions options;
    options.resample_uneven = true;
    try {
      (void)io::read_dicom_series(folder, options);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kUsage) throw;
      options.frame = 0;  // several phases: the first
      (void)io::read_dicom_series(folder, options);
    }
  });
}

bool read_labels_input(Input input) {
  const auto file = nifti_file(input, "labels");
  return refuses([&] {
    // A CT on the labels' own grid when it has one, so that the grid check passes and the
    // label values and table are reached.
    Volume grid;
    try {
      grid = io::read_nifti(file);
    } catch (const Error&) {
      grid = Volume({4, 3, 2}, {1, 1, 1}, {{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}},
                    std::vector<float>(24), "RAS");
    }
    const Volume ct(grid.dims(), grid.spacing(), grid.affine(), std::vector<float>(grid.hu().size()),
                    grid.source_orientation());
    LabelReadOptions options;
    options.multilabel_version = LabelVersion::kV1;
    (void)read_labels(file, ct, options);
  });
}

bool read_sidecar_input(Input input) {
  return refuses([&] { (void)embed::parse_sidecar(as_text(input), "model.json"); });
}

bool read_manifest_input(Input input) {
  const std::string text(as_text(input));
  const bool refused = refuses([&] { (void)index::manifest_from_json(text, "manifest.json"); });
  // Mutations almost never keep the checksum right: the same text with its checksum recomputed
  // (as manifest_to_json does) lets the checks behind it be fuzzed too.
  const auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("checksum")) return refused;
  auto fixed = j;
  fixed.erase("checksum");
  const std::string body = fixed.dump(2);
  fixed["checksum"] = fmt::format("{:08x}", index::crc32_update(0, body.data(), body.size()));
  return refuses([&] { (void)index::manifest_from_json(fixed.dump(2), "manifest.json"); }) && refused;
}

bool read_catalog_input(Input input) {
  const auto file = scratch_dir() / index::kCatalogFile;
  std::filesystem::remove(file);
  write_bytes(file, as_text(input));
  return refuses([&] {
    const index::Catalog catalog(file);
    const auto volumes = catalog.volumes();
    // Index::open checks the volumes' rows against the manifest (contiguous from 0, each volume
    // at least one slice, no more than the vectors) before it asks for labels; the same here,
    // with kMaxRows standing in for the manifest's vector count.
    constexpr std::int64_t kMaxRows = 1 << 20;
    std::int64_t next_row = 0;
    for (const auto& v : volumes) {
      if (v.first_row != next_row || v.num_slices <= 0 || v.num_slices > kMaxRows - next_row) return;
      next_row += v.num_slices;
    }
    for (const auto& v : volumes) (void)catalog.labels(v);
    (void)catalog.contents(volumes);
  });
}

bool read_meta_csv_input(Input input) {
  // Subjects s1..s3 have a ct.nii.gz (only its existence is checked), so rows naming them pass.
  static const std::filesystem::path root = [] {
    const auto dir = scratch_dir() / "dataset";
    for (const char* id : {"s1", "s2", "s3"}) {
      std::filesystem::create_directories(dir / id);
      write_bytes(dir / id / "ct.nii.gz", "");
    }
    return dir;
  }();
  const bool refused = refuses([&] { (void)parse_csv(as_text(input), "meta.csv"); });
  write_bytes(root / "meta.csv", as_text(input));
  return refuses([&] { (void)Dataset::open(root); }) && refused;
}

bool read_npy_input(Input input) {
  return refuses([&] { (void)parse_npy(input, "vectors.npy"); });
}

constexpr std::array kTargets{
    Target{"nifti", read_nifti_input},       Target{"dicom", read_dicom_input},
    Target{"labels", read_labels_input},     Target{"sidecar", read_sidecar_input},
    Target{"manifest", read_manifest_input}, Target{"catalog", read_catalog_input},
    Target{"meta_csv", read_meta_csv_input}, Target{"npy", read_npy_input},
};

}  // namespace

std::span<const Target> targets() { return kTargets; }

Reader reader(std::string_view name) {
  for (const auto& t : kTargets) {
    if (t.name == name) return t.read;
  }
  throw std::invalid_argument(fmt::format("no fuzz target named {}", name));
}

const std::filesystem::path& scratch_dir() {
  static const testing::TempDir dir;
  return dir.path();
}

}  // namespace voxir::fuzz
