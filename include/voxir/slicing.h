// voxir/slicing.h: how an axial slice becomes a model's input (docs/method.md §2): HU windows, physical
// resize, normalisation. Embedders (voxir/embed.h) are configured with it; its fields are part of
// an embedder's fingerprint.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace voxir {

// A HU window mapped linearly to [0, 1], clamped outside.
struct HuWindow {
  float lo = -1000;
  float hi = 1000;
};

// How a slice becomes a model's input tensor (docs/method.md §2), in this order:
//   1. the slice is shown in radiological view (image column 0 = patient's right, row 0 =
//      anterior) and resized to input_width x input_height keeping its physical aspect (pixel
//      spacing counts), the rest padded with air (-1000 HU); antialiased (triangle filter);
//   2. each channel c gets window windows[c] (one window: the same for every channel);
//   3. (value - mean[c]) / std[c].
// Output layout: channels x height x width, row-major (a torch NCHW image without N).
struct Preprocessing {
  std::vector<HuWindow> windows{HuWindow{}};
  int input_width = 224;
  int input_height = 224;
  int channels = 3;
  std::vector<float> mean{0.485f, 0.456f, 0.406f};  // one per channel (ImageNet by default)
  std::vector<float> std{0.229f, 0.224f, 0.225f};

  // Throws Error(kUsage) saying which field is wrong and why (window with hi <= lo, size out of
  // 8..4096, channels not 1..4, windows/mean/std count not 1 or channels, std <= 0).
  void validate() const;
  // Canonical text of every field, e.g. "win=-1000:1000;in=224x224x3;mean=...;std=...";
  // part of an embedder's fingerprint.
  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] std::size_t tensor_size() const {
    return static_cast<std::size_t>(channels) * static_cast<std::size_t>(input_width) *
           static_cast<std::size_t>(input_height);
  }
};

}  // namespace voxir
