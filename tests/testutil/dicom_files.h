// Writes small synthetic DICOM CT slices through GDCM, so tests can build series with any
// geometry, rescale, modality or defect without patient data.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace voxir::testing {

struct DicomSlice {
  std::string modality = "CT";
  std::string series_uid = "1.2.826.0.1.3680043.9.7777.1";
  std::string description = "synthetic";
  std::optional<std::array<double, 3>> position = std::array<double, 3>{0, 0, 0};  // IPP (LPS mm)
  std::optional<std::array<double, 6>> orientation = std::array<double, 6>{1, 0, 0, 0, 1, 0};
  std::array<double, 2> pixel_spacing{0.5, 0.75};  // row spacing, column spacing (mm)
  unsigned rows = 4;
  unsigned columns = 6;
  unsigned bits_stored = 16;  // HighBit is bits_stored - 1; pixels are signed 16-bit words
  double slope = 1;
  double intercept = -1024;
  int instance_number = 1;
  std::optional<int> temporal_position;   // TemporalPositionIdentifier (phase of a 4D series)
  std::optional<int> acquisition_number;  // AcquisitionNumber
  bool pixel_data = true;  // false: no PixelData element at all
  // Encode the pixels as JPEG 2000 lossless (through GDCM) instead of storing them raw.
  bool jpeg2000 = false;
  // With jpeg2000: encode the pixels as unsigned, then declare them signed in the header (the
  // mismatch some scanners write; the header's Pixel Representation is what counts).
  bool j2k_sign_mismatch = false;
  std::vector<std::int16_t> pixels;  // rows*columns stored values (row-major); empty: zeros
};

// Writes `slice` as an explicit-VR little-endian CT Image Storage file; throws
// std::runtime_error on failure.
void write_dicom_slice(const std::filesystem::path& path, const DicomSlice& slice);

}  // namespace voxir::testing
