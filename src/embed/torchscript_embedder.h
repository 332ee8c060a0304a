// TorchScript models via libtorch (the only translation unit that includes torch headers).
#pragma once

#include "voxir/embed.h"

#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

namespace voxir::embed {

// True when voxir was built with libtorch.
[[nodiscard]] bool have_torchscript();

// Loads `model` and its sidecar (see model_sidecar.h), checks with one forward pass that the
// model accepts the sidecar's input and returns output.dim values per slice. Throws Error:
// kNotFound (model or sidecar missing), kInvalidInput (sidecar malformed or not matching the
// model), kUnsupported (built without libtorch).
[[nodiscard]] std::unique_ptr<Embedder> make_torchscript_embedder(
    const std::filesystem::path& model, const EmbedderOptions& options);

}  // namespace voxir::embed

namespace voxir::embed {

// Benchmark support: libtorch's bare forward pass of `model` (loaded as the embedder loads it)
// on a random batch of `batch` inputs of its sidecar's size: no preprocessing, pooling or copy.
// Runs one warm-up, then `repeats` timed passes on `threads` threads, calling between() after
// each (so a caller can interleave its own timings under the same machine load). Returns the
// seconds of each timed pass. kUnsupported without libtorch.
[[nodiscard]] std::vector<double> bare_forward_seconds(const std::filesystem::path& model,
                                                       int batch, int repeats, int threads,
                                                       const std::function<void()>& between);

}  // namespace voxir::embed
