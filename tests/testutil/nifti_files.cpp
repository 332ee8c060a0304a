#include "testutil/nifti_files.h"

#include <nifti/nifti2_io.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace voxir::testing {
namespace {

template <typename T>
void fill(void* data, const std::vector<double>& values) {
  T* out = static_cast<T*>(data);
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = static_cast<T>(values[i]);
}

}  // namespace

void write_raw_nifti(const std::filesystem::path& path, const RawNifti& raw) {
  const std::int64_t dims[8] = {raw.frames > 1 ? 4 : 3, raw.dims[0], raw.dims[1], raw.dims[2],
                                raw.frames, 1, 1, 1};
  nifti_image* nim = nifti_make_new_nim(dims, raw.datatype, 1);
  if (nim == nullptr) throw std::runtime_error("nifti_make_new_nim failed");
  if (static_cast<std::int64_t>(raw.values.size()) != nim->nvox) {
    nifti_image_free(nim);
    throw std::runtime_error("write_raw_nifti: wrong number of values");
  }
  switch (raw.datatype) {
    case DT_UINT8: fill<std::uint8_t>(nim->data, raw.values); break;
    case DT_INT16: fill<std::int16_t>(nim->data, raw.values); break;
    case DT_INT32: fill<std::int32_t>(nim->data, raw.values); break;
    case DT_FLOAT32: fill<float>(nim->data, raw.values); break;
    case DT_FLOAT64: fill<double>(nim->data, raw.values); break;
    default: std::memset(nim->data, 0, static_cast<std::size_t>(nim->nvox * nim->nbyper)); break;
  }
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) nim->sto_xyz.m[r][c] = raw.affine[r][c];
  nim->sform_code = NIFTI_XFORM_SCANNER_ANAT;
  nim->qform_code = 0;
  for (int a = 0; a < 3; ++a) {
    double n = 0;
    for (int w = 0; w < 3; ++w) n += raw.affine[w][a] * raw.affine[w][a];
    nim->pixdim[a + 1] = std::sqrt(n);
  }
  nim->dx = nim->pixdim[1];
  nim->dy = nim->pixdim[2];
  nim->dz = nim->pixdim[3];
  nim->scl_slope = raw.scl_slope;
  nim->scl_inter = raw.scl_inter;
  nim->nifti_type = raw.version == 2 ? NIFTI_FTYPE_NIFTI2_1 : NIFTI_FTYPE_NIFTI1_1;
  const std::string name = path.string();
  if (raw.version == 2) {
    // nifti_image_write drops the header of a NIfTI-2 image named .nii (it sets the type from
    // the name), so the single-file NIfTI-2 layout is written here: header, extender, voxels.
    nifti_2_header hdr;
    const bool ok = nifti_convert_nim2n2hdr(nim, &hdr) == 0;
    std::memcpy(hdr.magic, "n+2\0\r\n\032\n", 8);
    hdr.vox_offset = 544;
    std::vector<std::uint8_t> bytes(544 + static_cast<std::size_t>(nim->nvox * nim->nbyper), 0);
    std::memcpy(bytes.data(), &hdr, sizeof hdr);
    std::memcpy(bytes.data() + 544, nim->data, bytes.size() - 544);
    nifti_image_free(nim);
    if (!ok) throw std::runtime_error("nifti_convert_nim2n2hdr failed for " + name);
    if (name.ends_with(".gz")) bytes = gzip_bytes(bytes);
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + name);
    return;
  }
  if (nifti_set_filenames(nim, name.c_str(), 0, 1) != 0) {
    nifti_image_free(nim);
    throw std::runtime_error("nifti_set_filenames failed for " + name);
  }
  nifti_image_write(nim);
  nifti_image_free(nim);
  if (!std::filesystem::exists(path)) throw std::runtime_error("nifti_image_write wrote nothing: " + name);
}

std::vector<std::uint8_t> gzip_bytes(std::span<const std::uint8_t> data) {
  z_stream zs{};
  if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::vector<std::uint8_t> out(deflateBound(&zs, static_cast<uLong>(data.size())));
  zs.next_in = const_cast<Bytef*>(data.data());
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  return out;
}

}  // namespace voxir::testing
