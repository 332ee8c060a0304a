// Writes the seed corpora of the fuzz targets into <out>/<target>/: valid inputs of each reader,
// made by the same writers the tests use (testutil) and by voxir's own index writer.
// Usage: fuzz_seeds <out>
#include "index/manifest.h"
#include "inputs.h"
#include "testutil/dicom_files.h"
#include "testutil/nifti_files.h"
#include "testutil/npy_files.h"
#include "testutil/temp_dir.h"
#include "testutil/vectors.h"
#include "voxir/error.h"
#include "voxir/index.h"

#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace voxir::fuzz {
namespace {

namespace fs = std::filesystem;
using testing::RawNifti;

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_seed(const fs::path& out, std::string_view target, const std::string& name,
                const std::string& bytes) {
  fs::create_directories(out / target);
  std::ofstream(out / target / name, std::ios::binary | std::ios::trunc) << bytes;
}

std::vector<double> ramp(std::size_t n, double step) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<double>(i) * step - 1000;
  return v;
}

std::string nifti_bytes(const RawNifti& raw, const std::string& suffix) {
  const testing::TempDir dir;
  const auto file = dir / ("seed" + suffix);
  testing::write_raw_nifti(file, raw);
  return read_bytes(file);
}

// `nii` (an uncompressed NIfTI-1 file from write_raw_nifti) with a label table in a CaretExtension
// (code 30), as TotalSegmentator v2 writes: the extension goes after the 348-byte header and its
// 4-byte extender, and vox_offset moves past it.
std::string with_label_table(std::string nii, const std::string& xml) {
  constexpr std::size_t kHeader = 348;
  std::string data = xml;
  data.resize((data.size() + 8 + 15) / 16 * 16 - 8, '\0');
  const auto esize = static_cast<std::int32_t>(data.size() + 8);
  const std::int32_t ecode = 30;
  float vox_offset = 0;
  std::memcpy(&vox_offset, nii.data() + 108, sizeof vox_offset);
  std::string ext(8, '\0');
  std::memcpy(ext.data(), &esize, 4);
  std::memcpy(ext.data() + 4, &ecode, 4);
  nii[kHeader] = 1;
  nii.insert(static_cast<std::size_t>(vox_offset), ext + data);
  vox_offset += static_cast<float>(esize);
  std::memcpy(nii.data() + 108, &vox_offset, sizeof vox_offset);
  return nii;
}

void nifti_seeds(const fs::path& out) {
  RawNifti int16;
  int16.values = ramp(24, 90);
  write_seed(out, "nifti", "int16_v1.nii", nifti_bytes(int16, ".nii"));
  RawNifti f32 = int16;
  f32.datatype = 16;
  f32.version = 2;
  f32.affine = {{{0, -0.8, 0, 10}, {-0.7, 0, 0, 20}, {0, 0, 2.5, -30}, {0, 0, 0, 1}}};
  write_seed(out, "nifti", "float32_v2_rotated.nii.gz", nifti_bytes(f32, ".nii.gz"));
  RawNifti u8 = int16;
  u8.datatype = 2;
  u8.values = ramp(24, 1);
  for (auto& v : u8.values) v += 1000;
  u8.scl_slope = 2;
  u8.scl_inter = -1024;
  write_seed(out, "nifti", "uint8_scaled.nii", nifti_bytes(u8, ".nii"));
  RawNifti frames = int16;
  frames.frames = 2;
  frames.values = ramp(48, 40);
  write_seed(out, "nifti", "int16_4d.nii.gz", nifti_bytes(frames, ".nii.gz"));
}

void labels_seeds(const fs::path& out) {
  RawNifti labels;
  labels.datatype = 2;
  labels.values.assign(24, 0);
  for (std::size_t i = 0; i < 24; ++i) labels.values[i] = static_cast<double>(i % 6);  // v1 ids 0..5
  write_seed(out, "labels", "multilabel_v1.nii", nifti_bytes(labels, ".nii"));
  write_seed(out, "labels", "multilabel_v1.nii.gz", nifti_bytes(labels, ".nii.gz"));
  for (auto& v : labels.values) v = v > 2 ? 0 : v;
  write_seed(out, "labels", "multilabel_table.nii",
             with_label_table(nifti_bytes(labels, ".nii"),
                              "<CaretExtension><LabelTable><Label Key=\"1\"><![CDATA[liver]]></Label>"
                              "<Label Key=\"2\"><![CDATA[spleen]]></Label></LabelTable></CaretExtension>"));
}

void dicom_seeds(const fs::path& out) {
  const testing::TempDir dir;
  auto slice_bytes = [&](const testing::DicomSlice& s) {
    testing::write_dicom_slice(dir / "slice.dcm", s);
    return read_bytes(dir / "slice.dcm");
  };
  std::string series;
  std::string phases;
  for (int k = 0; k < 3; ++k) {
    testing::DicomSlice s;
    s.position = std::array<double, 3>{0, 0, 2.0 * k};
    s.instance_number = k + 1;
    s.pixels.assign(24, static_cast<std::int16_t>(100 * k));
    if (k > 0) series += kDicomFileSeparator;
    series += slice_bytes(s);
    for (int phase = 1; phase <= 2; ++phase) {
      s.temporal_position = phase;
      if (!phases.empty()) phases += kDicomFileSeparator;
      phases += slice_bytes(s);
    }
  }
  write_seed(out, "dicom", "series3", series);
  write_seed(out, "dicom", "two_phases", phases);
  testing::DicomSlice single;
  single.slope = 2;
  single.intercept = -1000;
  write_seed(out, "dicom", "single", slice_bytes(single));
}

void sidecar_seeds(const fs::path& out) {
  write_seed(out, "sidecar", "full.json",
             R"({"format": "voxir-model/1", "name": "dinov2_vits14",
  "input": {"width": 224, "height": 224, "channels": 3},
  "windows": [[-1000, 1000]], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
  "output": {"dim": 384, "index": 0, "pooling": "cls"}})");
  write_seed(out, "sidecar", "windows3.json",
             R"({"format": "voxir-model/1", "name": "m", "input": {"width": 32, "height": 16, "channels": 3},
  "windows": [[-1000, 1000], [-160, 240], [-1400, 200]], "mean": [0, 0, 0], "std": [1, 1, 1],
  "output": {"dim": 8, "index": 1, "pooling": "mean"}})");
  write_seed(out, "sidecar", "gray.json",
             R"({"format": "voxir-model/1", "input": {"width": 8, "height": 8, "channels": 1},
  "mean": [0.5], "std": [0.25], "output": {"dim": 4, "pooling": "none"}})");
}

// A tiny index (written by voxir's writer) for the manifest and catalog seeds.
void index_seeds(const fs::path& out) {
  const testing::TempDir dir;
  auto set = testing::clustered_set({.volumes = 3, .slices = 4, .dim = 8, .clusters = 2});
  for (auto& v : set) {
    v.volume.split = "train";
    v.volume.dims = {4, 4, 4};
    v.presence_bytes = 2;
    v.presence.assign(8, 0);
    v.presence[0] = 0x21;
    v.presence[3] = 0x80;
    v.content = {0, 120, 800, 60};
  }
  set[1].volume.metadata_json = R"({"age": "40", "sex": "F"})";
  set[2].presence.clear();
  set[2].presence_bytes = 0;
  write_generation(dir.path(), true, IndexSpec::parse("faiss:Flat"), {"fake:vectors", "fake;v=1", 8},
                   set, {}, {});
  const auto gen = index::current_generation(dir.path());
  write_seed(out, "manifest", "manifest.json", read_bytes(gen / index::kManifestFile));
  write_seed(out, "catalog", "catalog.sqlite", read_bytes(gen / index::kCatalogFile));
}

void meta_csv_seeds(const fs::path& out) {
  write_seed(out, "meta_csv", "semicolon.csv", "image_id;age;gender;split\ns1;54;m;train\ns2;61;f;test\n");
  write_seed(out, "meta_csv", "comma_quoted.csv",
             "image_id,split,study\n\"s3\",val,\"a,b \"\"q\"\"\"\n\ns1,train,x\n");
}

void npy_seeds(const fs::path& out) {
  const auto text = [](const std::vector<std::uint8_t>& b) { return std::string(b.begin(), b.end()); };
  const std::vector<float> rows = {0.5F, -1, 2, 0, 0.25F, 8};
  write_seed(out, "npy", "f32_2x3.npy", text(testing::npy_bytes(testing::npy_f32(rows, {2, 3}))));
  const std::vector<std::int32_t> ids = {0, 0, 1};
  write_seed(out, "npy", "i32.npy", text(testing::npy_bytes(testing::npy_i32(ids))));
  const std::vector<std::int64_t> ids64 = {7, 7, 9, 9};
  write_seed(out, "npy", "i64.npy", text(testing::npy_bytes(testing::npy_i64(ids64))));
  testing::RawNpy f16;
  f16.descr = "<f2";
  f16.shape = {2, 2};
  f16.data = {0x00, 0x3c, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x38};  // 1, -2, 0, 0.5
  f16.version = 2;
  write_seed(out, "npy", "f16_v2.npy", text(testing::npy_bytes(f16)));
}

}  // namespace
}  // namespace voxir::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds <corpus folder>\n";
    return 2;
  }
  const std::filesystem::path out = argv[1];
  try {
    using namespace voxir::fuzz;
    nifti_seeds(out);
    labels_seeds(out);
    dicom_seeds(out);
    sidecar_seeds(out);
    index_seeds(out);
    meta_csv_seeds(out);
    npy_seeds(out);
  } catch (const std::exception& e) {
    std::cerr << "fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  // Every seed must be accepted, or the corpus would only exercise refusals.
  int refused = 0;
  for (const auto& t : voxir::fuzz::targets()) {
    for (const auto& entry : std::filesystem::directory_iterator(out / t.name)) {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      if (t.read(bytes)) {
        std::cerr << "fuzz_seeds: the " << t.name << " reader refuses its seed " << entry.path() << "\n";
        ++refused;
      }
    }
  }
  return refused == 0 ? 0 : 1;
}
