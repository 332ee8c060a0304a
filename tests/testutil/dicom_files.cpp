#include "testutil/dicom_files.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gdcmDataElement.h>
#include <gdcmDataSet.h>
#include <gdcmFile.h>
#include <gdcmImageChangeTransferSyntax.h>
#include <gdcmImageReader.h>
#include <gdcmImageWriter.h>
#include <gdcmReader.h>
#include <gdcmTransferSyntax.h>
#include <gdcmWriter.h>

#include <stdexcept>

namespace voxir::testing {
namespace {

void put(gdcm::DataSet& ds, std::uint16_t group, std::uint16_t element, gdcm::VR vr,
         std::string value) {
  if (value.size() % 2 != 0) value += vr == gdcm::VR::UI ? '\0' : ' ';
  gdcm::DataElement de(gdcm::Tag(group, element));
  de.SetVR(vr);
  de.SetByteValue(value.data(), static_cast<std::uint32_t>(value.size()));
  ds.Replace(de);
}

void put_us(gdcm::DataSet& ds, std::uint16_t group, std::uint16_t element, unsigned v) {
  const char bytes[2] = {static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff)};
  gdcm::DataElement de(gdcm::Tag(group, element));
  de.SetVR(gdcm::VR::US);
  de.SetByteValue(bytes, 2);
  ds.Replace(de);
}

// Re-encodes the raw file at `path` as JPEG 2000 lossless; with `declare_signed`, then sets
// Pixel Representation to 1 without touching the (unsigned) codestream.
void encode_jpeg2000(const std::filesystem::path& path, bool declare_signed) {
  gdcm::ImageReader reader;
  reader.SetFileName(path.c_str());
  if (!reader.Read())
    throw std::runtime_error("encode_jpeg2000: cannot read back " + path.string());
  gdcm::ImageChangeTransferSyntax change;
  change.SetTransferSyntax(gdcm::TransferSyntax::JPEG2000Lossless);
  change.SetInput(reader.GetImage());
  if (!change.Change())
    throw std::runtime_error("encode_jpeg2000: GDCM could not encode " + path.string());
  gdcm::ImageWriter writer;
  writer.SetFile(reader.GetFile());
  writer.SetImage(change.GetOutput());
  writer.SetFileName(path.c_str());
  if (!writer.Write()) throw std::runtime_error("encode_jpeg2000: cannot write " + path.string());
  if (!declare_signed) return;
  gdcm::Reader again;
  again.SetFileName(path.c_str());
  if (!again.Read()) throw std::runtime_error("encode_jpeg2000: cannot read back " + path.string());
  put_us(again.GetFile().GetDataSet(), 0x0028, 0x0103, 1);
  gdcm::Writer rewrite;
  rewrite.SetFile(again.GetFile());
  rewrite.SetFileName(path.c_str());
  if (!rewrite.Write()) throw std::runtime_error("encode_jpeg2000: cannot write " + path.string());
}

}  // namespace

void write_dicom_slice(const std::filesystem::path& path, const DicomSlice& s) {
  gdcm::Writer writer;
  gdcm::File& file = writer.GetFile();
  file.GetHeader().SetDataSetTransferSyntax(gdcm::TransferSyntax::ExplicitVRLittleEndian);
  gdcm::DataSet& ds = file.GetDataSet();
  put(ds, 0x0008, 0x0016, gdcm::VR::UI, "1.2.840.10008.5.1.4.1.1.2");  // CT Image Storage
  put(ds, 0x0008, 0x0018, gdcm::VR::UI,
      fmt::format("1.2.826.0.1.3680043.9.7777.2.{}",
                  std::hash<std::string>{}(path.string()) % 1000000007));
  put(ds, 0x0008, 0x0060, gdcm::VR::CS, s.modality);
  put(ds, 0x0008, 0x103e, gdcm::VR::LO, s.description);
  put(ds, 0x0020, 0x000e, gdcm::VR::UI, s.series_uid);
  put(ds, 0x0020, 0x0013, gdcm::VR::IS, std::to_string(s.instance_number));
  if (s.acquisition_number)
    put(ds, 0x0020, 0x0012, gdcm::VR::IS, std::to_string(*s.acquisition_number));
  if (s.temporal_position)
    put(ds, 0x0020, 0x0100, gdcm::VR::IS, std::to_string(*s.temporal_position));
  if (s.position)
    put(ds, 0x0020, 0x0032, gdcm::VR::DS, fmt::format("{}", fmt::join(*s.position, "\\")));
  if (s.orientation)
    put(ds, 0x0020, 0x0037, gdcm::VR::DS, fmt::format("{}", fmt::join(*s.orientation, "\\")));
  put_us(ds, 0x0028, 0x0002, 1);
  put(ds, 0x0028, 0x0004, gdcm::VR::CS, "MONOCHROME2");
  put_us(ds, 0x0028, 0x0010, s.rows);
  put_us(ds, 0x0028, 0x0011, s.columns);
  put(ds, 0x0028, 0x0030, gdcm::VR::DS,
      fmt::format("{}\\{}", s.pixel_spacing[0], s.pixel_spacing[1]));
  put_us(ds, 0x0028, 0x0100, 16);
  put_us(ds, 0x0028, 0x0101, s.bits_stored);
  put_us(ds, 0x0028, 0x0102, s.bits_stored - 1);
  put_us(ds, 0x0028, 0x0103, s.j2k_sign_mismatch ? 0 : 1);
  put(ds, 0x0028, 0x1052, gdcm::VR::DS, fmt::format("{}", s.intercept));
  put(ds, 0x0028, 0x1053, gdcm::VR::DS, fmt::format("{}", s.slope));
  if (s.pixel_data) {
    std::vector<std::int16_t> pixels = s.pixels;
    if (pixels.empty()) pixels.assign(std::size_t{s.rows} * s.columns, 0);
    if (pixels.size() != std::size_t{s.rows} * s.columns) {
      throw std::runtime_error("write_dicom_slice: pixels does not hold rows*columns values");
    }
    gdcm::DataElement de(gdcm::Tag(0x7fe0, 0x0010));
    de.SetVR(gdcm::VR::OW);
    de.SetByteValue(reinterpret_cast<const char*>(pixels.data()),
                    static_cast<std::uint32_t>(pixels.size() * sizeof(std::int16_t)));
    ds.Replace(de);
  }
  writer.SetFileName(path.c_str());
  if (!writer.Write())
    throw std::runtime_error("write_dicom_slice: GDCM could not write " + path.string());
  if (s.jpeg2000) encode_jpeg2000(path, s.j2k_sign_mismatch);
}

}  // namespace voxir::testing
