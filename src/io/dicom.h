// DICOM CT series reading (GDCM). What is accepted, refused and resampled is described in
// docs/io.md ("DICOM series"); the rules in brief:
//   * a folder is scanned without recursion; files are told by the "DICM" magic at byte 128 (any
//     name, no suffix needed); other files are skipped and counted;
//   * files are grouped by SeriesInstanceUID (files with an empty UID form one group, listed as
//     kNoSeriesUid); a folder with several series needs ReadOptions::series_uid;
//   * slices are ordered by ImagePositionPatient projected on the slice normal (row x column
//     cosine of ImageOrientationPatient), never by file name or InstanceNumber;
//   * each file's RescaleSlope/RescaleIntercept is applied to its own slice;
//   * a multi-phase series (distinct TemporalPositionIdentifier values, or distinct
//     AcquisitionNumber values at repeated positions) needs ReadOptions::frame to pick a phase;
//   * uneven slice spacing is refused unless ReadOptions::resample_uneven, a gantry tilt (slice
//     origins not on the normal through the first one) is refused (kUnsupported, with the angle).
#pragma once

#include "voxir/volume.h"

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace voxir::io {

// The group key of files whose SeriesInstanceUID is empty or missing.
inline constexpr const char* kNoSeriesUid = "(no SeriesInstanceUID)";

// One series found in a folder.
struct DicomSeriesSummary {
  std::string uid;          // SeriesInstanceUID, or kNoSeriesUid
  std::string modality;     // Modality of its first file ("CT", "MR", "SEG"...; may be empty)
  std::string description;  // SeriesDescription of its first file (may be empty)
  std::size_t files = 0;    // number of files in the series
};

// What a folder holds, series sorted by uid.
struct DicomFolderSummary {
  std::vector<DicomSeriesSummary> series;
  std::size_t non_dicom_files = 0;  // regular files without the DICM magic (skipped)
};

// True when `path` starts like a DICOM Part-10 file ("DICM" at byte 128).
[[nodiscard]] bool looks_like_dicom(const std::filesystem::path& path);

// Lists the series in `folder` by reading file headers only (no pixel data). Throws
// Error(kNotFound) when the folder does not exist or holds no DICOM file, kInvalidInput naming
// the file when a file with the DICM magic cannot be parsed.
[[nodiscard]] DicomFolderSummary list_dicom_series(const std::filesystem::path& folder);

// Reads the CT series held in `folder` (see read_volume and ReadOptions) into canonical order.
// Throws Error naming the folder or file: kNotFound (no DICOM files, unknown series_uid), kUsage
// (several series and no series_uid, several phases and no frame), kUnsupported (non-CT modality,
// multi-frame or colour images, gantry tilt, uneven spacing without resample_uneven), kInvalidInput
// (missing or inconsistent geometry, duplicate slice positions, no PixelData, corrupt or truncated
// file).
[[nodiscard]] Volume read_dicom_series(const std::filesystem::path& folder,
                                       const ReadOptions& options);

}  // namespace voxir::io
