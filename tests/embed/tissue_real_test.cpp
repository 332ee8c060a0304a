// The built-in embedder on the real CT samples (../shared/data/ct): it must tell body levels
// apart across scanners, pixel spacings and fields of view (docs/embedders.md).
#include "slicing/preprocess.h"
#include "testutil/shared_data.h"
#include "voxir/embed.h"
#include "voxir/error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <vector>

namespace voxir {
namespace {

struct Vectors {
  std::vector<float> v;
  std::size_t d = 0;
  std::int64_t n = 0;
};

Vectors embed_volume(const Volume& vol) {
  static const auto e = make_embedder("builtin");
  return {e->embed_all(vol), static_cast<std::size_t>(e->dim()), vol.nz()};
}

float sim(const Vectors& a, std::int64_t i, const Vectors& b, std::int64_t j) {
  float s = 0;
  for (std::size_t t = 0; t < a.d; ++t)
    s += a.v[static_cast<std::size_t>(i) * a.d + t] * b.v[static_cast<std::size_t>(j) * b.d + t];
  return s;
}

// Most similar slice of db in [lo, hi) to slice i of q, and its similarity.
std::pair<std::int64_t, float> nearest(const Vectors& q, std::int64_t i, const Vectors& db,
                                       std::int64_t lo = 0, std::int64_t hi = -1) {
  if (hi < 0) hi = db.n;
  std::pair<std::int64_t, float> best{-1, -2.0f};
  for (std::int64_t j = lo; j < hi; ++j) {
    const float s = sim(q, i, db, j);
    if (s > best.second) best = {j, s};
  }
  return best;
}

std::array<std::int64_t, 2> extent(const Volume& mask, float lo = 0.5f, float hi = 1e9f) {
  std::array<std::int64_t, 2> e{-1, -1};
  for (std::int64_t k = 0; k < mask.nz(); ++k) {
    const auto s = mask.slice(k);
    if (std::any_of(s.begin(), s.end(), [&](float v) { return v > lo && v < hi; })) {
      if (e[0] < 0) e[0] = k;
      e[1] = k;
    }
  }
  return e;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// The DICOM series, or nullopt while voxir cannot read DICOM yet.
std::optional<Volume> read_dicom_abdomen(const std::filesystem::path& data) {
  try {
    return read_volume(data / "ct/ts-dicom-abdomen/dicom");
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kUnsupported) return std::nullopt;
    throw;
  }
}

TEST(TissueEmbedderRealData, ThoraxCtaT12SlicesAlignToT12OfAnotherScan) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const Volume mini = read_volume(data / "ct/ts-mini/s0001/ct.nii.gz");
  const Volume cta = read_volume(data / "ct/ts-thorax-cta/aorta/ct_cropped.nii.gz");
  const auto t12_mini =
      extent(read_volume(data / "ct/ts-mini/s0001/segmentations/vertebrae_T12.nii.gz"));
  const auto t12_cta = extent(read_volume(data / "ct/ts-thorax-cta/aorta/vertebrae_T12.nii.gz"));
  ASSERT_GE(t12_mini[0], 0);
  ASSERT_GE(t12_cta[0], 0);
  const Vectors m = embed_volume(mini), c = embed_volume(cta);
  int hits = 0, total = 0;
  for (std::int64_t k = t12_cta[0]; k <= t12_cta[1]; ++k, ++total) {
    const auto [j, s] = nearest(c, k, m);
    hits += j >= t12_mini[0] - 2 && j <= t12_mini[1] + 2;
  }
  EXPECT_GE(hits, total * 9 / 10) << "T12 slices of the CTA aligned to ts-mini T12 " << t12_mini[0]
                                  << ".." << t12_mini[1];
}

TEST(TissueEmbedderRealData, RobustToPixelSpacing) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const Volume mini = read_volume(data / "ct/ts-mini/s0001/ct.nii.gz");
  // The same scan at 1 mm pixels (3x finer, as a 512-matrix scanner would store it), every 4th
  // slice.
  const double mm = 1.0;
  const auto w = static_cast<int>(static_cast<double>(mini.nx()) * mini.spacing()[0] / mm);
  const auto h = static_cast<int>(static_cast<double>(mini.ny()) * mini.spacing()[1] / mm);
  std::vector<float> hu;
  slicing::Scratch scratch;
  std::vector<std::int64_t> picked;
  for (std::int64_t k = 2; k < mini.nz(); k += 4) {
    std::vector<float> plane(static_cast<std::size_t>(w * h));
    slicing::resample_plane(mini.slice(k), mini.nx(), mini.ny(), mini.spacing()[0],
                            mini.spacing()[1], {0, mm, w}, {0, mm, h}, -1000, plane, scratch);
    hu.insert(hu.end(), plane.begin(), plane.end());
    picked.push_back(k);
  }
  const auto nz = static_cast<std::int64_t>(picked.size());
  const Volume fine({w, h, nz}, {mm, mm, 12}, mini.affine(), std::move(hu), "RAS");
  const Vectors m = embed_volume(mini), f = embed_volume(fine);
  int near = 0;
  for (std::int64_t i = 0; i < nz; ++i) {
    const auto [j, s] = nearest(f, i, m);
    near += std::abs(j - picked[static_cast<std::size_t>(i)]) <= 2;
    EXPECT_GT(sim(f, i, m, picked[static_cast<std::size_t>(i)]), 0.9f)
        << "slice " << picked[static_cast<std::size_t>(i)];
  }
  EXPECT_GE(near, nz * 9 / 10);
}

TEST(TissueEmbedderRealData, HeartLevelOfOneCtaIsNearerToTheOtherCtaThanToTheAbdomen) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const Volume mini = read_volume(data / "ct/ts-mini/s0001/ct.nii.gz");
  const Volume aorta = read_volume(data / "ct/ts-thorax-cta/aorta/ct_cropped.nii.gz");
  const Volume pulm = read_volume(data / "ct/ts-thorax-cta/pulmonary/ct_cropped.nii.gz");
  const auto pa = extent(read_volume(data / "ct/ts-thorax-cta/pulmonary/pulmonary_artery.nii.gz"));
  ASSERT_GE(pa[0], 0);
  const Vectors m = embed_volume(mini), a = embed_volume(aorta), p = embed_volume(pulm);
  int wins = 0, total = 0;
  for (std::int64_t k = pa[0]; k <= pa[1]; ++k, ++total) {
    // ts-mini below T11 (slices 0..85): abdomen and pelvis.
    wins += nearest(p, k, a).second > nearest(p, k, m, 0, 86).second;
  }
  EXPECT_GE(wins, total * 9 / 10)
      << "pulmonary-artery slices nearer to the other thorax than to the abdomen";
}

TEST(TissueEmbedderRealData, DicomAbdomenAlignsToItsLevelInAnotherScan) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const auto abdomen = read_dicom_abdomen(data);
  if (!abdomen) GTEST_SKIP() << "this voxir cannot read DICOM yet";
  const Volume mini = read_volume(data / "ct/ts-mini/s0001/ct.nii.gz");
  const Vectors q = embed_volume(*abdomen), m = embed_volume(mini);
  std::vector<double> aligned;
  for (std::int64_t k = 0; k < q.n; ++k)
    aligned.push_back(static_cast<double>(nearest(q, k, m).first));
  const double med = median(aligned);
  // T11-L1 of ts-mini (its vertebra labels): slices 86..111.
  EXPECT_GE(med, 86);
  EXPECT_LE(med, 111);
}

TEST(TissueEmbedderRealData, LiverSliceIsNearerToLiverOfAnotherScanThanToThoraxOrPelvis) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const auto abdomen = read_dicom_abdomen(data);
  if (!abdomen) GTEST_SKIP() << "this voxir cannot read DICOM yet";
  const Volume seg = read_volume(data / "ct/ts-dicom-abdomen/example_seg_dicom_v2.nii.gz");
  const auto liver_q = extent(seg, 4.5f, 5.5f);  // TotalSegmentator v2 id 5 = liver
  ASSERT_GE(liver_q[0], 0);
  const Volume mini = read_volume(data / "ct/ts-mini/s0001/ct.nii.gz");
  const auto liver_m = extent(read_volume(data / "ct/ts-mini/s0001/segmentations/liver.nii.gz"));
  const auto bladder_m =
      extent(read_volume(data / "ct/ts-mini/s0001/segmentations/urinary_bladder.nii.gz"));
  const Volume aorta = read_volume(data / "ct/ts-thorax-cta/aorta/ct_cropped.nii.gz");
  const Volume pulm = read_volume(data / "ct/ts-thorax-cta/pulmonary/ct_cropped.nii.gz");
  const Vectors q = embed_volume(*abdomen), m = embed_volume(mini), a = embed_volume(aorta),
                p = embed_volume(pulm);
  for (std::int64_t k = liver_q[0]; k <= liver_q[1]; ++k) {
    const float liver = nearest(q, k, m, liver_m[0], liver_m[1] + 1).second;
    const float thorax = std::max(nearest(q, k, a).second, nearest(q, k, p).second);
    const float pelvis = nearest(q, k, m, bladder_m[0], bladder_m[1] + 1).second;
    EXPECT_GT(liver, thorax) << "slice " << k;
    EXPECT_GT(liver, pelvis) << "slice " << k;
  }
}

}  // namespace
}  // namespace voxir
