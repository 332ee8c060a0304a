#include "testutil/nifti_files.h"

#include <nifti/nifti2_io.h>

#include <cstring>
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
  if (nifti_set_filenames(nim, name.c_str(), 0, 1) != 0) {
    nifti_image_free(nim);
    throw std::runtime_error("nifti_set_filenames failed for " + name);
  }
  nifti_image_write(nim);
  nifti_image_free(nim);
  if (!std::filesystem::exists(path)) throw std::runtime_error("nifti_image_write wrote nothing: " + name);
}

}  // namespace voxir::testing
