// TorchScript models via libtorch (the only translation unit that includes torch headers).
#pragma once

#include "voxir/embed.h"

#include <filesystem>
#include <memory>

namespace voxir::embed {

// True when voxir was built with libtorch.
[[nodiscard]] bool have_torchscript();

// Loads `model` and its sidecar (see model_sidecar.h), checks with one forward pass that the
// model accepts the sidecar's input and returns output.dim values per slice. Throws Error:
// kNotFound (model or sidecar missing), kInvalidInput (sidecar malformed or not matching the
// model), kUnsupported (built without libtorch).
[[nodiscard]] std::unique_ptr<Embedder> make_torchscript_embedder(const std::filesystem::path& model,
                                                                  const EmbedderOptions& options);

}  // namespace voxir::embed

namespace voxir::embed {

// Benchmark support: best wall time in seconds of libtorch's bare forward pass of `model` on a
// random batch of `batch` inputs of its sidecar's size (no preprocessing, no pooling, no copy),
// over `repeats` runs after one warm-up, on `threads` threads. kUnsupported without libtorch.
[[nodiscard]] double bare_forward_seconds(const std::filesystem::path& model, int batch, int repeats, int threads);

}  // namespace voxir::embed
