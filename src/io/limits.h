// The bounds the volume readers put on untrusted input before allocating anything from it.
// docs/limits.md lists each one with its value, the error it gives and why the value was chosen;
// keep the two in step.
#pragma once

#include <cstdint>

namespace voxir::io {

// Largest extent of one axis (NIfTI dim[1..4]). NIfTI-1 stores dims as int16, so a larger value
// can only come from a NIfTI-2 header; no CT scanner produces 65536 samples along an axis.
inline constexpr std::int64_t kMaxDim = std::int64_t{1} << 16;

// Largest voxel data a header may declare (all frames, stored datatype): 16 GiB is 2048^3 int16,
// far above any CT (512x512x2000 int16 is 1 GiB), so a larger size is a corrupt or hostile header.
inline constexpr std::uint64_t kMaxVoxelBytes = std::uint64_t{16} << 30;

// Largest number of voxels in the canonical float32 volume a reader returns (8 GiB of floats):
// bounds DICOM series, whose size is Rows x Columns x files, before the float buffer exists.
inline constexpr std::uint64_t kMaxVolumeVoxels = std::uint64_t{1} << 31;

// Most bytes a .nii.gz may decompress to (header, extensions and voxel data). The stream is
// inflated into memory whole, so this is the most memory a hostile file can make the reader take.
// 8 GiB holds a 1024x1024x4096 int16 volume; ReadLimits lowers it (tests, services).
inline constexpr std::uint64_t kMaxGzipBytes = std::uint64_t{8} << 30;

// Deflate cannot expand data by more than 1032:1 (a 258-byte match costs at least 2 bits), so a
// header that promises more than 1032 x the compressed size is refused before allocating.
inline constexpr std::uint64_t kMaxDeflateRatio = 1032;

// Bytes a gzip stream may hold beyond what its header promises (padding some writers add). More
// than this is a decompression bomb dressed as a small image.
inline constexpr std::uint64_t kMaxGzipTrailingBytes = std::uint64_t{1} << 20;

// Largest NIfTI vox_offset: room for header extensions (label tables, JSON sidecars) but not for
// a header that puts the voxels gigabytes away.
inline constexpr std::uint64_t kMaxVoxOffset = std::uint64_t{64} << 20;

// Largest DICOM Rows or Columns. CT slices are 512 or 1024 wide; 8192 leaves room for micro-CT
// while refusing a corrupt header before Rows x Columns pixels are allocated per slice.
inline constexpr std::uint32_t kMaxDicomRowsColumns = 8192;

// Largest DICOM file read. Files are read whole (header scan and decoding); a slice at the
// Rows/Columns limit with 32-bit pixels is 256 MiB, so a larger file is not a CT slice.
inline constexpr std::uint64_t kMaxDicomFileBytes = std::uint64_t{1} << 30;

// Limits a reader applies; the defaults are the constants above. Lower them where memory is
// scarcer than in a batch job (a service reading uploads), or in tests.
struct ReadLimits {
  std::uint64_t max_gzip_bytes = kMaxGzipBytes;
};

}  // namespace voxir::io
