// Measurement behind the built-in embedder's design (docs/embedders.md): how well slice vectors
// say which level of the body a slice shows, across scanners, on the real samples.
//
// For each embedder spec given, prints one markdown table row:
//   * abdomen->mini: each slice of the DICOM upper-abdomen series (0.98 mm pixels, arms, table)
//     is aligned to its most similar slice of ts-mini/s0001 (3 mm); median and p10..p90 of the
//     aligned slice; its true level T11-L1 is slices 86..111;
//   * T12 cta->mini: the same for the slices of the thorax CTA crop on which vertebrae_T12 is
//     present, against ts-mini's own vertebrae_T12 slices; "hit" = aligned slice within the
//     T12 extent widened by 2 slices (6 mm);
//   * liver sep: for each abdomen slice, max similarity to ts-mini liver slices minus the max
//     over thorax-CTA slices and ts-mini pelvis slices (0..32); fraction > 0 and the median gap;
//   * level error: mean |vertebral level of the query slice - that of its aligned slice|, levels
//     from the TotalSegmentator vertebra labels of both scans (L5 = 0 ... T9 = 8, voxel-weighted
//     on slices showing two vertebrae), in vertebrae; 1 = one vertebra off;
//   * profile: median over abdomen slices of (best - median) similarity along ts-mini: how far
//     the right level stands out of a flat profile.
//
// Usage: voxir_bench_embed_localize <shared data dir> <upper-abdomen volume: DICOM folder or
//        NIfTI> <spec>...
#include "voxir/embed.h"
#include "voxir/volume.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

namespace {

using voxir::Volume;

struct Embedded {
  std::vector<float> v;
  int d = 0;
  std::int64_t n = 0;
  [[nodiscard]] const float* row(std::int64_t k) const { return v.data() + k * d; }
};

Embedded embed(const voxir::Embedder& e, const Volume& vol) {
  return {e.embed_all(vol), e.dim(), vol.nz()};
}

float dot(const float* a, const float* b, int d) {
  float s = 0;
  for (int j = 0; j < d; ++j) s += a[j] * b[j];
  return s;
}

std::int64_t best_slice(const float* q, const Embedded& db, std::int64_t lo = 0,
                        std::int64_t hi = -1) {
  if (hi < 0) hi = db.n;
  std::int64_t best = lo;
  float bs = -2;
  for (std::int64_t k = lo; k < hi; ++k) {
    const float s = dot(q, db.row(k), db.d);
    if (s > bs) bs = s, best = k;
  }
  return best;
}

float max_sim(const float* q, const Embedded& db, std::int64_t lo, std::int64_t hi) {
  float bs = -2;
  for (std::int64_t k = lo; k < hi; ++k) bs = std::max(bs, dot(q, db.row(k), db.d));
  return bs;
}

template <typename T>
T quantile(std::vector<T> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto i = static_cast<std::size_t>(pos);
  const double t = pos - static_cast<double>(i);
  return static_cast<T>(i + 1 < v.size() ? v[i] * (1 - t) + v[i + 1] * t : v[i]);
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

std::array<std::int64_t, 2> extent(const Volume& mask) {
  std::int64_t lo = -1, hi = -1;
  for (std::int64_t k = 0; k < mask.nz(); ++k) {
    const auto s = mask.slice(k);
    if (std::any_of(s.begin(), s.end(), [](float v) { return v > 0.5f; })) {
      if (lo < 0) lo = k;
      hi = k;
    }
  }
  return {lo, hi};
}

// Vertebral level per slice: voxel-weighted mean of vertebra index (L5 = 0, L4 = 1, ... T9 = 8);
// -1 where no vertebra is labelled. masks[v] is the mask of vertebra index v.
std::vector<double> levels_from_masks(const std::vector<Volume>& masks) {
  std::vector<double> out;
  for (std::int64_t k = 0; k < masks.at(0).nz(); ++k) {
    double w = 0, s = 0;
    for (std::size_t v = 0; v < masks.size(); ++v) {
      const auto sl = masks[v].slice(k);
      const auto c = static_cast<double>(
          std::count_if(sl.begin(), sl.end(), [](float x) { return x > 0.5f; }));
      w += c;
      s += c * static_cast<double>(v);
    }
    out.push_back(w > 0 ? s / w : -1);
  }
  return out;
}

std::vector<double> levels_from_multilabel(const Volume& seg, int first_id, int count) {
  std::vector<double> out;
  for (std::int64_t k = 0; k < seg.nz(); ++k) {
    double w = 0, s = 0;
    for (float x : seg.slice(k)) {
      const int v = static_cast<int>(x + 0.5f) - first_id;
      if (v >= 0 && v < count) w += 1, s += v;
    }
    out.push_back(w > 0 ? s / w : -1);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s <shared data dir> <upper-abdomen volume> <spec>...\n", argv[0]);
    return 2;
  }
  const std::filesystem::path data = std::filesystem::path(argv[1]) / "ct";
  const Volume abdomen = voxir::read_volume(argv[2]);
  const Volume mini = voxir::read_volume(data / "ts-mini/s0001/ct.nii.gz");
  const Volume aorta = voxir::read_volume(data / "ts-thorax-cta/aorta/ct_cropped.nii.gz");
  const Volume pulm = voxir::read_volume(data / "ts-thorax-cta/pulmonary/ct_cropped.nii.gz");
  const auto t12_cta =
      extent(voxir::read_volume(data / "ts-thorax-cta/aorta/vertebrae_T12.nii.gz"));
  const auto t12_mini =
      extent(voxir::read_volume(data / "ts-mini/s0001/segmentations/vertebrae_T12.nii.gz"));
  const auto liver_mini =
      extent(voxir::read_volume(data / "ts-mini/s0001/segmentations/liver.nii.gz"));
  const char* kVertebrae[] = {"L5", "L4", "L3", "L2", "L1", "T12", "T11", "T10", "T9"};
  std::vector<Volume> masks;
  for (const char* v : kVertebrae) {
    masks.push_back(voxir::read_volume(
        data / fmt::format("ts-mini/s0001/segmentations/vertebrae_{}.nii.gz", v)));
  }
  const std::vector<double> level_mini = levels_from_masks(masks);
  const std::vector<double> level_abdomen = levels_from_multilabel(
      voxir::read_volume(data / "ts-dicom-abdomen/example_seg_dicom_v2.nii.gz"), 27, 9);
  fmt::print("T12: cta {}..{}, mini {}..{}; liver mini {}..{}\n\n", t12_cta[0], t12_cta[1],
             t12_mini[0], t12_mini[1], liver_mini[0], liver_mini[1]);
  fmt::print(
      "| spec | dim | abdomen->mini median (p10..p90) | in 86..111 | T12 cta->mini median | T12 "
      "hits | level error (vertebrae) | liver sep | gap | profile | slices/s |\n");
  fmt::print("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int a = 3; a < argc; ++a) {
    const auto e = voxir::make_embedder(argv[a]);
    const auto t0 = std::chrono::steady_clock::now();
    const Embedded qa = embed(*e, abdomen);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const Embedded m = embed(*e, mini), ca = embed(*e, aorta), cp = embed(*e, pulm);
    std::vector<double> aligned, profile, gaps;
    int in_range = 0, separated = 0;
    std::vector<double> level_error;
    for (std::int64_t k = 0; k < qa.n; ++k) {
      const std::int64_t b = best_slice(qa.row(k), m);
      aligned.push_back(static_cast<double>(b));
      in_range += (b >= 86 && b <= 111);
      const double lq = level_abdomen[static_cast<std::size_t>(k)],
                   lm = level_mini[static_cast<std::size_t>(b)];
      level_error.push_back(lq < 0 ? 0.0 : (lm < 0 ? 9.0 : std::abs(lq - lm)));
      std::vector<float> sims;
      for (std::int64_t j = 0; j < m.n; ++j) sims.push_back(dot(qa.row(k), m.row(j), m.d));
      profile.push_back(*std::max_element(sims.begin(), sims.end()) - quantile(sims, 0.5));
      const float liver = max_sim(qa.row(k), m, liver_mini[0], liver_mini[1] + 1);
      const float other = std::max({max_sim(qa.row(k), ca, 0, ca.n),
                                    max_sim(qa.row(k), cp, 0, cp.n), max_sim(qa.row(k), m, 0, 33)});
      gaps.push_back(liver - other);
      separated += liver > other;
    }
    std::vector<double> t12;
    int t12_hits = 0;
    for (std::int64_t k = t12_cta[0]; k <= t12_cta[1]; ++k) {
      const std::int64_t b = best_slice(ca.row(k), m);
      t12.push_back(static_cast<double>(b));
      t12_hits += (b >= t12_mini[0] - 2 && b <= t12_mini[1] + 2);
    }
    fmt::print(
        "| `{}` | {} | {:.1f} ({:.0f}..{:.0f}) | {}/{} | {:.1f} | {}/{} | {:.2f} | {}/{} | {:.3f} "
        "| {:.3f} | {:.0f} |\n",
        e->spec(), e->dim(), quantile(aligned, 0.5), quantile(aligned, 0.1), quantile(aligned, 0.9),
        in_range, qa.n, quantile(t12, 0.5), t12_hits, t12.size(), mean(level_error), separated,
        qa.n, quantile(gaps, 0.5), quantile(profile, 0.5), static_cast<double>(qa.n) / secs);
    std::fflush(stdout);
  }
  return 0;
}
