// The JSON sidecar that describes a TorchScript model (written by tools/export_models.py).
//
//   {
//     "format": "voxir-model/1",
//     "name": "dinov2_vits14",               free text, shown in listings
//     "input": {"width": 224, "height": 224, "channels": 3},
//     "windows": [[-1000, 1000]],            HU windows, one or one per channel
//     "mean": [0.485, 0.456, 0.406],         per-channel normalisation after windowing
//     "std": [0.229, 0.224, 0.225],
//     "output": {"dim": 384,                 values per slice after pooling
//                "index": 0,                 which element when the model returns a tuple/list
//                "pooling": "none"}          none: [N, dim]; cls: [N, T, dim] -> token 0;
//                                            mean: [N, T, dim] -> mean over T, or
//                                                  [N, dim, H, W] -> mean over H, W
//   }
// Parsing needs no libtorch, so sidecar errors are testable on every build.
#pragma once

#include "voxir/embed.h"

#include <filesystem>
#include <string>

namespace voxir::embed {

enum class Pooling { kNone, kCls, kMean };

struct ModelSidecar {
  std::string name;
  Preprocessing preprocessing;
  int output_dim = 0;
  int output_index = 0;
  Pooling pooling = Pooling::kNone;

  // Canonical text of every field that changes the vectors.
  [[nodiscard]] std::string to_string() const;
};

// The sidecar of a model file: <model>.json if it exists, else the model path with its extension
// replaced by .json. Throws Error(kNotFound) naming both candidates when neither exists.
[[nodiscard]] std::filesystem::path find_sidecar(const std::filesystem::path& model);

// Parses a sidecar. Throws Error(kInvalidInput) naming the file and the bad field.
[[nodiscard]] ModelSidecar parse_sidecar(std::string_view json_text,
                                         const std::filesystem::path& path);

}  // namespace voxir::embed
