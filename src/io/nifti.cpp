#include "io/nifti.h"

#include "io/orientation.h"
#include "util/file.h"
#include "voxir/error.h"

#include <libdeflate.h>
#include <nifti/nifti2_io.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>

namespace voxir::io {
namespace {

constexpr std::size_t kNifti1HeaderSize = 348;
constexpr std::size_t kNifti2HeaderSize = 540;

bool is_gzip(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

// Inflates the first `want` bytes of a gzip stream (enough for a header), or fewer if it ends.
std::vector<std::uint8_t> inflate_prefix(std::span<const std::uint8_t> gz, std::size_t want,
                                         const std::filesystem::path& path) {
  std::vector<std::uint8_t> out(want);
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) fail(ErrorKind::kInternal, "zlib init failed");
  zs.next_in = const_cast<Bytef*>(gz.data());
  zs.avail_in = static_cast<uInt>(std::min<std::size_t>(gz.size(), std::numeric_limits<uInt>::max()));
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(want);
  const int rc = inflate(&zs, Z_SYNC_FLUSH);
  const std::size_t got = want - zs.avail_out;
  const std::string msg = zs.msg != nullptr ? zs.msg : "";
  inflateEnd(&zs);
  if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
    fail(ErrorKind::kInvalidInput, "{}: corrupt gzip data at the start of the file ({})",
         path.string(), msg.empty() ? "zlib error " + std::to_string(rc) : msg);
  }
  out.resize(got);
  return out;
}

struct NiftiImageDeleter {
  void operator()(nifti_image* nim) const { nifti_image_free(nim); }
};
using NiftiImagePtr = std::unique_ptr<nifti_image, NiftiImageDeleter>;

// Header fields as stored, before nifti_clib adjusts them: it turns a dim of 0 or less into 1 and
// moves a vox_offset inside the header to its end, which would read other bytes than the file
// says instead of refusing it.
struct StoredFields {
  std::int64_t ndim = 0;
  std::int64_t dim[8] = {};
  double vox_offset = 0;
};

StoredFields stored_fields(std::span<const std::uint8_t> bytes, int version) {
  StoredFields f;
  std::int32_t sizeof_hdr = 0;
  std::memcpy(&sizeof_hdr, bytes.data(), 4);
  const bool swapped = sizeof_hdr != (version == 1 ? 348 : 540);
  if (version == 1) {
    nifti_1_header hdr;
    std::memcpy(&hdr, bytes.data(), sizeof hdr);
    float offset = hdr.vox_offset;
    if (swapped) {
      nifti_swap_2bytes(8, hdr.dim);
      nifti_swap_4bytes(1, &offset);
    }
    for (int d = 0; d < 8; ++d) f.dim[d] = hdr.dim[d];
    f.vox_offset = offset;
  } else {
    nifti_2_header hdr;
    std::memcpy(&hdr, bytes.data(), sizeof hdr);
    if (swapped) {
      nifti_swap_8bytes(8, hdr.dim);
      nifti_swap_8bytes(1, &hdr.vox_offset);
    }
    for (int d = 0; d < 8; ++d) f.dim[d] = hdr.dim[d];
    f.vox_offset = static_cast<double>(hdr.vox_offset);
  }
  f.ndim = f.dim[0];
  return f;
}

// Checks the stored dims and vox_offset (see StoredFields). vox_offset 0 is accepted: old writers
// leave it unset, and nifti_clib (as nibabel) then reads the voxels right after the header.
void check_stored_fields(std::span<const std::uint8_t> bytes, int version, const std::filesystem::path& path) {
  const StoredFields f = stored_fields(bytes, version);
  for (std::int64_t d = 1; d <= f.ndim && d <= 7; ++d) {
    if (f.dim[d] < 1) {
      fail(ErrorKind::kInvalidInput, "{}: absurd dimension dim[{}] = {} (expected 1..{})", path.string(), d,
           f.dim[d], kMaxDim);
    }
  }
  const double header = version == 1 ? kNifti1HeaderSize : kNifti2HeaderSize;
  if (!std::isfinite(f.vox_offset) || f.vox_offset < 0 || (f.vox_offset > 0 && f.vox_offset < header) ||
      f.vox_offset > static_cast<double>(kMaxVoxOffset)) {
    fail(ErrorKind::kInvalidInput,
         "{}: vox_offset {} is outside {}..{} (the voxels must follow the {}-byte header and its extensions)",
         path.string(), f.vox_offset, header, kMaxVoxOffset, header);
  }
}

// Parses and validates the header held at the start of `bytes` (decompressed).
NiftiImagePtr parse_header(std::span<const std::uint8_t> bytes, const std::filesystem::path& path) {
  if (bytes.size() < kNifti1HeaderSize) {
    fail(ErrorKind::kInvalidInput, "{}: file too short for a NIfTI header ({} bytes, expected at least {})",
         path.string(), bytes.size(), kNifti1HeaderSize);
  }
  const int version = nifti_header_version(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  nifti_image* nim = nullptr;
  if (version == 1) {
    check_stored_fields(bytes, version, path);
    nifti_1_header hdr;
    std::memcpy(&hdr, bytes.data(), sizeof hdr);
    nim = nifti_convert_n1hdr2nim(hdr, nullptr);
  } else if (version == 2) {
    if (bytes.size() < kNifti2HeaderSize) {
      fail(ErrorKind::kInvalidInput, "{}: file too short for a NIfTI-2 header ({} bytes, expected {})",
           path.string(), bytes.size(), kNifti2HeaderSize);
    }
    check_stored_fields(bytes, version, path);
    nifti_2_header hdr;
    std::memcpy(&hdr, bytes.data(), sizeof hdr);
    nim = nifti_convert_n2hdr2nim(hdr, nullptr);
  } else {
    std::string magic;
    for (std::size_t i = 344; i < 348 && bytes[i] != 0; ++i) {
      magic += std::isprint(bytes[i]) != 0 ? static_cast<char>(bytes[i]) : '?';
    }
    fail(ErrorKind::kInvalidInput,
         "{}: not a NIfTI file (magic '{}', expected 'n+1', 'ni1', 'n+2' or 'ni2' with header size "
         "348 or 540)",
         path.string(), magic);
  }
  if (nim == nullptr) {
    fail(ErrorKind::kInvalidInput, "{}: NIfTI-{} header is invalid (nifti_clib rejected it)",
         path.string(), version);
  }
  return NiftiImagePtr(nim);
}

bool supported_datatype(int datatype) {
  switch (datatype) {
    case DT_UINT8: case DT_INT8: case DT_INT16: case DT_UINT16: case DT_INT32: case DT_UINT32:
    case DT_INT64: case DT_UINT64: case DT_FLOAT32: case DT_FLOAT64: return true;
    default: return false;
  }
}

// Calls fn.template operator()<T>() with T the C++ type of a supported NIfTI datatype.
template <typename Fn>
void visit_datatype(int datatype, Fn&& fn) {
  switch (datatype) {
    case DT_UINT8: fn.template operator()<std::uint8_t>(); break;
    case DT_INT8: fn.template operator()<std::int8_t>(); break;
    case DT_INT16: fn.template operator()<std::int16_t>(); break;
    case DT_UINT16: fn.template operator()<std::uint16_t>(); break;
    case DT_INT32: fn.template operator()<std::int32_t>(); break;
    case DT_UINT32: fn.template operator()<std::uint32_t>(); break;
    case DT_INT64: fn.template operator()<std::int64_t>(); break;
    case DT_UINT64: fn.template operator()<std::uint64_t>(); break;
    case DT_FLOAT32: fn.template operator()<float>(); break;
    case DT_FLOAT64: fn.template operator()<double>(); break;
    default: fail(ErrorKind::kInternal, "datatype {} passed supported_datatype()", datatype);
  }
}

std::int64_t frame_count(const nifti_image& nim) {
  return nim.ndim >= 4 && nim.dim[4] > 1 ? nim.dim[4] : 1;
}

// Checks dims and datatype; returns the bytes of voxel data the header declares (all frames).
// Every product is bounded before it is formed, so no header can overflow it.
std::uint64_t check_geometry(const nifti_image& nim, const std::filesystem::path& path) {
  const std::int64_t dims[3] = {nim.nx, nim.ny, nim.nz};
  for (int a = 0; a < 3; ++a) {
    if (dims[a] < 1 || dims[a] > kMaxDim) {
      fail(ErrorKind::kInvalidInput, "{}: absurd dimension {} = {} (expected 1..{})", path.string(),
           "xyz"[a], dims[a], kMaxDim);
    }
  }
  for (int d = 5; d <= nim.ndim && d <= 7; ++d) {
    if (nim.dim[d] > 1) {
      fail(ErrorKind::kUnsupported,
           "{}: a {}-D image with dim[{}] = {}; expected a 3-D volume or a 4-D series of them",
           path.string(), nim.ndim, d, nim.dim[d]);
    }
  }
  const std::int64_t frames = frame_count(nim);
  if (frames > kMaxDim) {
    fail(ErrorKind::kInvalidInput, "{}: absurd dimension t = {} (expected 1..{})", path.string(),
         frames, kMaxDim);
  }
  // Before any size is computed from nbyper: an unknown datatype has none.
  if (!supported_datatype(nim.datatype)) {
    fail(ErrorKind::kUnsupported,
         "{}: datatype {} ({}) is not supported (expected an integer or float32/float64 scalar type)",
         path.string(), nifti_datatype_string(nim.datatype), nim.datatype);
  }
  // nx*ny*nz <= 2^48 cannot overflow; the limit is then divided rather than the size multiplied.
  const auto voxels = static_cast<std::uint64_t>(nim.nx) * static_cast<std::uint64_t>(nim.ny) *
                      static_cast<std::uint64_t>(nim.nz);
  const auto per_voxel = static_cast<std::uint64_t>(nim.nbyper);
  if (voxels > kMaxVolumeVoxels || voxels > kMaxVoxelBytes / per_voxel / static_cast<std::uint64_t>(frames)) {
    fail(ErrorKind::kInvalidInput,
         "{}: absurd size {}x{}x{}x{} of {} bytes per voxel (limits: {} voxels per frame, {} GiB of "
         "voxel data)",
         path.string(), nim.nx, nim.ny, nim.nz, frames, nim.nbyper, kMaxVolumeVoxels,
         kMaxVoxelBytes >> 30);
  }
  return voxels * per_voxel * static_cast<std::uint64_t>(frames);
}

// vox_offset: after the header, within kMaxVoxOffset.
std::size_t check_vox_offset(const nifti_image& nim, const std::filesystem::path& path) {
  const std::size_t header = nim.nifti_type >= NIFTI_FTYPE_NIFTI2_1 ? kNifti2HeaderSize : kNifti1HeaderSize;
  if (nim.iname_offset < static_cast<std::int64_t>(header) ||
      static_cast<std::uint64_t>(nim.iname_offset) > kMaxVoxOffset) {
    fail(ErrorKind::kInvalidInput, "{}: vox_offset {} is outside {}..{} (the voxels must follow the "
         "{}-byte header and its extensions)",
         path.string(), nim.iname_offset, header, kMaxVoxOffset, header);
  }
  return static_cast<std::size_t>(nim.iname_offset);
}

// The frame to read: `frame` checked against the file's frame count (dim[4]).
std::int64_t pick_frame(const nifti_image& nim, std::optional<std::int64_t> frame,
                        const std::filesystem::path& path) {
  const std::int64_t frames = frame_count(nim);
  if (!frame) {
    if (frames == 1) return 0;
    fail(ErrorKind::kUsage,
         "{}: a 4-D image with {} frames (dim[4] = {}); choose one with --frame 0..{} "
         "(ReadOptions::frame)",
         path.string(), frames, frames, frames - 1);
  }
  if (*frame < 0 || *frame >= frames) {
    fail(ErrorKind::kUsage, "{}: --frame {}: the image has {} frame{} (0..{})", path.string(),
         *frame, frames, frames == 1 ? "" : "s", frames - 1);
  }
  return *frame;
}

Affine best_affine(const nifti_image& nim) {
  Affine a{};
  const nifti_dmat44* m = nim.sform_code > 0 ? &nim.sto_xyz : nim.qform_code > 0 ? &nim.qto_xyz : nullptr;
  if (m == nullptr) {
    // NIfTI "method 1": no orientation information; pixdim scaling in the file's own order.
    a[0][0] = nim.dx > 0 ? nim.dx : 1.0;
    a[1][1] = nim.dy > 0 ? nim.dy : 1.0;
    a[2][2] = nim.dz > 0 ? nim.dz : 1.0;
  } else {
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) a[r][c] = m->m[r][c];
  }
  a[3] = {0, 0, 0, 1};
  return a;
}

std::string size_string(std::uint64_t bytes) {
  if (bytes < (1 << 20)) return fmt::format("{} bytes", bytes);
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
}

// Decompresses the whole gzip file, which must hold `expected` bytes (header, extensions and
// voxels): refused before allocating when the compressed size or `limits` cannot hold that, and
// stopped when the stream runs past it by more than kMaxGzipTrailingBytes, so memory never
// exceeds what a valid image of the declared size needs.
std::vector<std::uint8_t> gunzip_all(std::span<const std::uint8_t> gz, std::uint64_t expected,
                                     const ReadLimits& limits, const std::filesystem::path& path) {
  if (expected > limits.max_gzip_bytes) {
    fail(ErrorKind::kUnsupported,
         "{}: the image needs {} decompressed, over the limit of {} for .nii.gz files "
         "(docs/limits.md)",
         path.string(), size_string(expected), size_string(limits.max_gzip_bytes));
  }
  if (expected / kMaxDeflateRatio > gz.size()) {
    fail(ErrorKind::kInvalidInput,
         "{}: the header promises {} of image data, more than a gzip stream of {} bytes can hold "
         "(deflate expands at most {}:1): corrupt header or truncated file",
         path.string(), size_string(expected), gz.size(), kMaxDeflateRatio);
  }
  const std::uint64_t cap = std::min(limits.max_gzip_bytes, expected + kMaxGzipTrailingBytes);
  std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> dec(
      libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
  if (!dec) fail(ErrorKind::kInternal, "out of memory allocating a decompressor");
  std::vector<std::uint8_t> out;
  std::size_t in_pos = 0;
  // A .gz may hold several members; each is decompressed in turn, into at most what is left of
  // the cap (a member's trailer ISIZE is mod 2^32 and written by whoever made the file).
  while (in_pos < gz.size()) {
    const auto member = gz.subspan(in_pos);
    if (!is_gzip(member)) {
      if (out.size() >= expected) break;  // trailing garbage after a complete image: tolerated
      fail(ErrorKind::kInvalidInput, "{}: corrupt gzip data after {} decompressed bytes", path.string(),
           out.size());
    }
    const std::size_t room = static_cast<std::size_t>(cap - std::min<std::uint64_t>(cap, out.size()));
    const std::size_t want = expected > out.size() ? static_cast<std::size_t>(expected) - out.size() : 0;
    std::size_t capacity = std::min(room, want + 4096);
    for (;;) {
      const std::size_t offset = out.size();
      out.resize(offset + capacity);
      std::size_t in_used = 0;
      std::size_t produced = 0;
      const auto rc = libdeflate_gzip_decompress_ex(dec.get(), member.data(), member.size(),
                                                    out.data() + offset, capacity, &in_used, &produced);
      if (rc == LIBDEFLATE_SUCCESS) {
        out.resize(offset + produced);
        in_pos += in_used;
        break;
      }
      out.resize(offset);
      if (rc == LIBDEFLATE_INSUFFICIENT_SPACE) {
        if (capacity < room) {
          capacity = std::min(room, capacity * 2);
          continue;
        }
        fail(ErrorKind::kInvalidInput,
             "{}: the gzip stream decompresses to more than {}, though the header promises {} "
             "(limit: the promised size + {}; a decompression bomb or a corrupt header)",
             path.string(), size_string(cap), size_string(expected), size_string(kMaxGzipTrailingBytes));
      }
      fail(ErrorKind::kInvalidInput,
           "{}: gzip data is truncated or corrupt (decompression failed; {} bytes of image data "
           "expected)",
           path.string(), expected);
    }
  }
  return out;
}

// Extensions follow the header: a 4-byte extender whose first byte says whether any follow, then
// records of (esize, ecode, esize - 8 bytes of data) up to the voxel offset.
std::vector<NiftiExtension> parse_extensions(std::span<const std::uint8_t> raw, std::size_t header_size,
                                             std::size_t vox_offset, bool swapped) {
  std::vector<NiftiExtension> out;
  std::size_t pos = header_size + 4;
  if (raw.size() < pos || raw[header_size] == 0) return out;
  const auto read_int = [&](std::size_t at) {
    std::int32_t v = 0;
    std::memcpy(&v, raw.data() + at, 4);
    if (swapped) nifti_swap_4bytes(1, &v);
    return v;
  };
  while (pos + 8 <= vox_offset && pos + 8 <= raw.size()) {
    const std::int32_t esize = read_int(pos);
    const std::int32_t ecode = read_int(pos + 4);
    if (esize < 8 || pos + static_cast<std::size_t>(esize) > vox_offset) break;  // malformed: stop, data is still valid
    out.push_back({ecode, std::string(reinterpret_cast<const char*>(raw.data() + pos + 8),
                                      static_cast<std::size_t>(esize) - 8)});
    pos += static_cast<std::size_t>(esize);
  }
  return out;
}

}  // namespace

bool looks_like_nifti(const std::filesystem::path& path) {
  const auto head = read_file_prefix(path, kNifti2HeaderSize);
  if (is_gzip(head)) return true;
  return head.size() >= kNifti1HeaderSize &&
         nifti_header_version(reinterpret_cast<const char*>(head.data()), head.size()) >= 1;
}

namespace {

// A NIfTI file read and checked: its header, its bytes (decompressed) and where the chosen frame
// lies in them, byte-swapped to native order, with the mapping to canonical order.
struct LoadedNifti {
  NiftiImagePtr nim;
  std::vector<std::uint8_t> raw;
  std::size_t frame_offset = 0;
  Dims source_dims{};
  Affine source_affine{};
  AxisMap map{};
  double slope = 1;
  double inter = 0;

  [[nodiscard]] const std::uint8_t* frame() const { return raw.data() + frame_offset; }
};

LoadedNifti load_nifti(const std::filesystem::path& path, std::vector<NiftiExtension>* extensions,
                       std::optional<std::int64_t> frame, const ReadLimits& limits) {
  nifti_set_debug_level(0);  // errors are reported by voxir, not printed by the library
  LoadedNifti n;
  // The file is read whole: refuse one larger than any valid image before reading it.
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxVoxOffset + kMaxVoxelBytes) {
    fail(ErrorKind::kUnsupported, "{}: {} bytes, larger than any image voxir reads ({} bytes: "
         "vox_offset and voxel data limits, docs/limits.md)",
         path.string(), size, kMaxVoxOffset + kMaxVoxelBytes);
  }
  std::vector<std::uint8_t> file = read_file(path);
  const bool gz = is_gzip(file);
  const std::vector<std::uint8_t> head = gz ? inflate_prefix(file, kNifti2HeaderSize, path)
                                            : std::vector<std::uint8_t>();
  const std::span<const std::uint8_t> header_bytes = gz ? std::span<const std::uint8_t>(head)
                                                        : std::span<const std::uint8_t>(file);
  n.nim = parse_header(header_bytes, path);
  const nifti_image& nim = *n.nim;
  const std::uint64_t data_bytes = check_geometry(nim, path);
  const std::size_t offset = check_vox_offset(nim, path);
  const std::int64_t picked = pick_frame(nim, frame, path);
  if (!gz && offset >= file.size()) {
    fail(ErrorKind::kInvalidInput, "{}: vox_offset {} lies beyond the end of the file ({} bytes)",
         path.string(), offset, file.size());
  }

  n.raw = gz ? gunzip_all(file, offset + data_bytes, limits, path) : std::move(file);
  const std::vector<std::uint8_t>& raw = n.raw;
  if (raw.size() < offset + data_bytes) {
    fail(ErrorKind::kInvalidInput, "{}: truncated: {} bytes of image data, expected {} ({}x{}x{}x{} {} after "
         "vox_offset {})",
         path.string(), raw.size() > offset ? raw.size() - offset : 0, data_bytes, nim.nx, nim.ny,
         nim.nz, frame_count(nim), nifti_datatype_string(nim.datatype), offset);
  }
  if (extensions != nullptr) {
    *extensions = parse_extensions(raw, nim.nifti_type >= NIFTI_FTYPE_NIFTI2_1 ? kNifti2HeaderSize : kNifti1HeaderSize,
                                   offset, nim.byteorder != nifti_short_order());
  }
  const auto frame_voxels = static_cast<std::size_t>(nim.nx * nim.ny * nim.nz);
  n.frame_offset = offset + static_cast<std::size_t>(picked) * frame_voxels * static_cast<std::size_t>(nim.nbyper);
  int nbyper = 0;
  int swapsize = 0;
  nifti_datatype_sizes(nim.datatype, &nbyper, &swapsize);
  if (nim.byteorder != nifti_short_order() && swapsize > 1) {
    nifti_swap_Nbytes(frame_voxels, swapsize, n.raw.data() + n.frame_offset);
  }

  if (n.frame_offset % alignof(std::max_align_t) != 0) {
    // vox_offset need not be a multiple of the voxel size, and loading a misaligned voxel is
    // undefined: such a file's voxels are moved to the (aligned) start of the buffer first.
    n.raw.erase(n.raw.begin(), n.raw.begin() + static_cast<std::ptrdiff_t>(n.frame_offset));
    n.frame_offset = 0;
  }
  n.source_affine = best_affine(nim);
  n.source_dims = {nim.nx, nim.ny, nim.nz};
  n.map = with_context(path.string(), [&] { return closest_canonical(n.source_affine); });
  const bool scaled = nim.scl_slope != 0.0 && std::isfinite(nim.scl_slope) && std::isfinite(nim.scl_inter);
  n.slope = scaled ? nim.scl_slope : 1.0;
  n.inter = scaled ? nim.scl_inter : 0.0;
  return n;
}

}  // namespace

Volume read_nifti(const std::filesystem::path& path, std::vector<NiftiExtension>* extensions,
                  std::optional<std::int64_t> frame, const ReadLimits& limits) {
  const LoadedNifti n = load_nifti(path, extensions, frame, limits);
  std::vector<float> hu(static_cast<std::size_t>(n.source_dims[0] * n.source_dims[1] * n.source_dims[2]));
  visit_datatype(n.nim->datatype, [&]<typename T>() {
    reorient_to_float(reinterpret_cast<const T*>(n.frame()), n.source_dims, n.map, n.slope, n.inter,
                      hu.data());
  });
  return Volume(canonical_dims(n.source_dims, n.map), canonical_spacing(n.source_affine, n.map),
                canonical_affine(n.source_affine, n.source_dims, n.map), std::move(hu),
                axis_codes(n.source_affine));
}

Mask read_nifti_mask(const std::filesystem::path& path, const ReadLimits& limits) {
  const LoadedNifti n = load_nifti(path, nullptr, std::nullopt, limits);
  Mask mask;
  mask.values.resize(static_cast<std::size_t>(n.source_dims[0] * n.source_dims[1] * n.source_dims[2]));
  const auto slope = static_cast<float>(n.slope);
  const auto inter = static_cast<float>(n.inter);
  visit_datatype(n.nim->datatype, [&]<typename T>() {
    reorient(reinterpret_cast<const T*>(n.frame()), n.source_dims, n.map, mask.values.data(),
             [=](T v) { return static_cast<std::uint8_t>(scaled_value(v, slope, inter) > 0.5f); });
  });
  mask.dims = canonical_dims(n.source_dims, n.map);
  mask.affine = canonical_affine(n.source_affine, n.source_dims, n.map);
  return mask;
}

}  // namespace voxir::io

namespace voxir {
namespace {

template <typename T>
void quantize(std::span<const float> in, std::uint8_t* out) {
  constexpr double lo = static_cast<double>(std::numeric_limits<T>::lowest());
  constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());
  T* dst = reinterpret_cast<T*>(out);
  for (std::size_t i = 0; i < in.size(); ++i) {
    double v = std::clamp(static_cast<double>(in[i]), lo, hi);
    if constexpr (std::is_integral_v<T>) {
      // NaN has no integer value (the cast would be undefined): it is outside the scan, as the
      // readers treat it, clamped like any other value (0 for uint8 masks).
      if (std::isnan(v)) v = std::clamp(static_cast<double>(kOutsideScanHu), lo, hi);
      // Round to nearest, ties to even, as nearbyint does in the default rounding mode, but inline:
      // without SSE4.1 nearbyint is a libm call per voxel (~20% of writing a uint8 mask). Adding and
      // subtracting 1.5 * 2^52 leaves no fraction bits for |v| < 2^51 (T's range is far smaller).
      constexpr double kRound = 6755399441055744.0;
      v = (v + kRound) - kRound;
    }
    dst[i] = static_cast<T>(v);
  }
}

}  // namespace

void write_nifti(const Volume& volume, const std::filesystem::path& path, NiftiDatatype datatype) {
  const int dt = datatype == NiftiDatatype::kUint8   ? DT_UINT8
                 : datatype == NiftiDatatype::kInt16 ? DT_INT16
                                                     : DT_FLOAT32;
  const std::int64_t dims[8] = {3, volume.nx(), volume.ny(), volume.nz(), 1, 1, 1, 1};
  std::unique_ptr<nifti_image, void (*)(nifti_image*)> nim(nifti_make_new_nim(dims, dt, 0),
                                                           nifti_image_free);
  if (!nim) fail(ErrorKind::kInternal, "nifti_make_new_nim failed for {}", path.string());
  nim->dx = nim->pixdim[1] = volume.spacing()[0];
  nim->dy = nim->pixdim[2] = volume.spacing()[1];
  nim->dz = nim->pixdim[3] = volume.spacing()[2];
  nim->xyz_units = NIFTI_UNITS_MM;
  nim->sform_code = NIFTI_XFORM_SCANNER_ANAT;
  nim->qform_code = NIFTI_XFORM_SCANNER_ANAT;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) nim->sto_xyz.m[r][c] = volume.affine()[r][c];
  double dx = 0;
  double dy = 0;
  double dz = 0;
  nifti_dmat44_to_quatern(nim->sto_xyz, &nim->quatern_b, &nim->quatern_c, &nim->quatern_d,
                          &nim->qoffset_x, &nim->qoffset_y, &nim->qoffset_z, &dx, &dy, &dz,
                          &nim->qfac);
  nifti_1_header hdr;
  if (nifti_convert_nim2n1hdr(nim.get(), &hdr) != 0) {
    fail(ErrorKind::kInternal, "could not build a NIfTI-1 header for {}", path.string());
  }
  std::memcpy(hdr.magic, "n+1\0", 4);
  hdr.vox_offset = 352;

  const std::size_t nvox = volume.hu().size();
  const std::size_t bytes_per = dt == DT_UINT8 ? 1 : dt == DT_INT16 ? 2 : 4;
  std::vector<std::uint8_t> raw(352 + nvox * bytes_per, 0);
  std::memcpy(raw.data(), &hdr, sizeof hdr);
  std::uint8_t* data = raw.data() + 352;
  switch (datatype) {
    case NiftiDatatype::kUint8: quantize<std::uint8_t>(volume.hu(), data); break;
    case NiftiDatatype::kInt16: quantize<std::int16_t>(volume.hu(), data); break;
    case NiftiDatatype::kFloat32: quantize<float>(volume.hu(), data); break;
  }

  const std::string name = path.filename().string();
  if (name.size() > 3 && name.ends_with(".gz")) {
    // Level 6 is the zlib default: files compress as gzip users expect, libdeflate is ~2x faster.
    std::unique_ptr<libdeflate_compressor, void (*)(libdeflate_compressor*)> comp(
        libdeflate_alloc_compressor(6), libdeflate_free_compressor);
    std::vector<std::uint8_t> gz(libdeflate_gzip_compress_bound(comp.get(), raw.size()));
    const std::size_t n = libdeflate_gzip_compress(comp.get(), raw.data(), raw.size(), gz.data(), gz.size());
    if (n == 0) fail(ErrorKind::kInternal, "gzip compression failed for {}", path.string());
    gz.resize(n);
    write_file_atomic(path, gz, /*sync=*/false);
  } else {
    write_file_atomic(path, raw, /*sync=*/false);
  }
}

}  // namespace voxir
