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

// The DICOM series of the abdomen sample.
Volume read_dicom_abdomen(const std::filesystem::path& data) {
  return read_volume(data / "ct/ts-dicom-abdomen/dicom");
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

// Every 4th slice of `ct` re-acquired on another in-plane grid: pixel size `mm`, from `margin_mm`
// outside the original field of view (negative: cropped) on each side; with `table`, a 10 mm
// slab of 100 HU 40 mm behind the patient's back, across the whole width.
struct Acquisition {
  const char* what;
  double mm;
  double margin_x_mm;
  double margin_y_mm;
  bool table;
};

Volume reacquire(const Volume& ct, const Acquisition& a, std::vector<std::int64_t>& picked) {
  const double ex = static_cast<double>(ct.nx()) * ct.spacing()[0];
  const double ey = static_cast<double>(ct.ny()) * ct.spacing()[1];
  const auto w = static_cast<int>((ex + 2 * a.margin_x_mm) / a.mm);
  const auto h = static_cast<int>((ey + 2 * a.margin_y_mm) / a.mm);
  const slicing::AxisMap mx{-a.margin_x_mm, a.mm, w}, my{-a.margin_y_mm, a.mm, h};
  std::vector<float> hu;
  slicing::Scratch scratch;
  picked.clear();
  for (std::int64_t k = 2; k < ct.nz(); k += 4) {
    std::vector<float> plane(static_cast<std::size_t>(w) * static_cast<std::size_t>(h));
    slicing::resample_plane(ct.slice(k), ct.nx(), ct.ny(), ct.spacing()[0], ct.spacing()[1], mx, my,
                            -1000, plane, scratch);
    if (a.table) {
      // Row y lies at (y + 0.5) * mm - margin from the original's posterior edge (j = 0).
      for (int y = 0; y < h; ++y) {
        const double at = (y + 0.5) * a.mm - a.margin_y_mm;
        if (at >= -50 && at < -40) {
          std::fill_n(plane.begin() + static_cast<std::ptrdiff_t>(y) * w, w, 100.0f);
        }
      }
    }
    hu.insert(hu.end(), plane.begin(), plane.end());
    picked.push_back(k);
  }
  const auto nz = static_cast<std::int64_t>(picked.size());
  return Volume({w, h, nz}, {a.mm, a.mm, 4 * ct.spacing()[2]}, ct.affine(), std::move(hu), "RAS");
}

TEST(TissueEmbedderRealData, RobustToPixelSizeFieldOfViewAndTable) {
  VOXIR_REQUIRE_SHARED_DATA(data);
  const Volume mini = read_volume(data / "ct/ts-mini/s0001/ct.nii.gz");
  const Vectors m = embed_volume(mini);
  const Acquisition cases[] = {
      {"1 mm pixels", 1.0, 0, 0, false},
      {"0.8 mm pixels, 60 mm wider field of view, table", 0.8, 60, 60, true},
      {"field of view cropped by 25 mm left and right", 3.0, -25, 0, false},
  };
  for (const auto& c : cases) {
    std::vector<std::int64_t> picked;
    const Vectors f = embed_volume(reacquire(mini, c, picked));
    int near = 0;
    for (std::int64_t i = 0; i < f.n; ++i) {
      const std::int64_t own = picked[static_cast<std::size_t>(i)];
      near += std::abs(nearest(f, i, m).first - own) <= 2;
      EXPECT_GT(sim(f, i, m, own), 0.9f) << c.what << ", slice " << own;
    }
    EXPECT_GE(near, f.n * 9 / 10) << c.what << ": slices aligned to their own level (of " << f.n
                                  << ")";
  }
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
  const Volume abdomen = read_dicom_abdomen(data);
  const Volume mini = read_volume(data / "ct/ts-mini/s0001/ct.nii.gz");
  const Vectors q = embed_volume(abdomen), m = embed_volume(mini);
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
  const Volume abdomen = read_dicom_abdomen(data);
  const Volume seg = read_volume(data / "ct/ts-dicom-abdomen/example_seg_dicom_v2.nii.gz");
  const auto liver_q = extent(seg, 4.5f, 5.5f);  // TotalSegmentator v2 id 5 = liver
  ASSERT_GE(liver_q[0], 0);
  const Volume mini = read_volume(data / "ct/ts-mini/s0001/ct.nii.gz");
  const auto liver_m = extent(read_volume(data / "ct/ts-mini/s0001/segmentations/liver.nii.gz"));
  const auto bladder_m =
      extent(read_volume(data / "ct/ts-mini/s0001/segmentations/urinary_bladder.nii.gz"));
  const Volume aorta = read_volume(data / "ct/ts-thorax-cta/aorta/ct_cropped.nii.gz");
  const Volume pulm = read_volume(data / "ct/ts-thorax-cta/pulmonary/ct_cropped.nii.gz");
  const Vectors q = embed_volume(abdomen), m = embed_volume(mini), a = embed_volume(aorta),
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
