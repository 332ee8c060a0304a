// The built-in weight-free embedder "builtin:tissue": which level of the body a slice shows.
//
// Per slice (docs/embedders.md has the measurements behind each choice):
//   1. resample to a grid of grid_mm pixels (spacing-independent from here on);
//   2. body = largest connected component of HU > -300 after a morphological opening (drops the
//      scanner table and arms not fused to the trunk), holes filled (lungs, bowel gas);
//   3. tissue-class maps inside the body: bone > bone_hu (200), soft tissue 0..150, fat -200..-30,
//      air < -400 (lungs, bowel gas);
//   4. each map averaged over box_mm boxes on a fov_mm square window of cell_mm cells, centred on
//      the body's centre of mass: layout in physical units, independent of the field of view;
//   5. optional global tissue composition; all concatenated and L2-normalised.
#pragma once

#include "voxir/embed.h"

#include <memory>
#include <string>
#include <string_view>

namespace voxir::embed {

struct TissueConfig {
  // Defaults chosen by bench/embed_localize.cpp (table in docs/embedders.md).
  double grid_mm = 4;      // working pixel size: 5 is ~20% faster, 3 no better
  double fov_mm = 360;     // physical window side; wider than most trunks
  double cell_mm = 15;     // sampling step; dim = 4 * (fov/cell)^2 (+4); 20 mm: 1296-d, a bit worse
  double box_mm = 15;      // averaging box side; larger boxes blur the level contrast away
  int open_px = 2;         // opening radius in grid pixels; 0 keeps arms and table (worse)
  bool sqrt = false;       // sqrt of area fractions: tried, flattens the similarity profile
  double composition = 0;  // weight of a whole-body tissue-fraction block: tried, no gain
  bool center = true;      // subtract each vector's mean: sharper similarity profile
  double bone_hu = 200;    // bone class threshold (contrast-filled vessels reach 200-500 HU)

  // Throws Error(kUsage) naming the bad value.
  void validate() const;
  // "key=value,..." of the fields that differ from the defaults ("" when none).
  [[nodiscard]] std::string to_params() const;
  // Parses to_params()'s format; throws Error(kUsage) naming an unknown key or bad value.
  [[nodiscard]] static TissueConfig from_params(std::string_view params);
  [[nodiscard]] int cells() const;
  [[nodiscard]] int dim() const;
};

[[nodiscard]] std::unique_ptr<Embedder> make_tissue_embedder(const TissueConfig& config,
                                                             int threads);

}  // namespace voxir::embed
