// The one translation unit that includes libtorch (it costs ~13 s to compile).
#include "embed/torchscript_embedder.h"

#include "embed/model_sidecar.h"
#include "embed/embed_checks.h"
#include "embed/parallel.h"
#include "slicing/preprocess.h"
#include "util/exceptions.h"
#include "util/file.h"
#include "util/hash.h"
#include "voxir/error.h"

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <mutex>

namespace voxir::embed {
namespace {

// Loads a model for inference: eval mode, frozen and optimised (batch norms folded into
// convolutions, ops fused) when libtorch can; as loaded otherwise.
torch::jit::script::Module load_for_inference(const std::filesystem::path& model) {
  torch::jit::script::Module module =
      translate_exceptions(model, "not a loadable TorchScript model", ErrorKind::kInvalidInput,
                           [&] { return torch::jit::load(model.string()); });
  module.eval();
  try {
    return torch::jit::optimize_for_inference(module);
  } catch (const std::exception&) {
    return module;  // some graphs cannot be frozen; they run unoptimised
  }
}

class TorchScriptEmbedder final : public Embedder {
 public:
  TorchScriptEmbedder(const std::filesystem::path& model, const EmbedderOptions& options)
      : path_(model), threads_(options.threads), batch_(std::max(1, options.batch)) {
    const auto bytes = read_file(model);  // kNotFound / kIo with the path
    model_hash_ = hash64(bytes);
    const auto sidecar_path = find_sidecar(model);
    sidecar_ = parse_sidecar(read_text_file(sidecar_path), sidecar_path);
    const int threads = resolve_threads(threads_, 1 << 20);
    if (at::get_num_threads() != threads) at::set_num_threads(threads);
    module_ = load_for_inference(model);
    // One forward pass proves that the sidecar's input fits and its output.dim is right.
    const Preprocessing& p = sidecar_.preprocessing;
    torch::Tensor probe = torch::zeros({1, p.channels, p.input_height, p.input_width});
    torch::NoGradGuard guard;
    const torch::Tensor out = translate_exceptions(
        model,
        fmt::format("the model rejects the sidecar's input {}x{}x{} ({})", p.channels,
                    p.input_height, p.input_width, sidecar_path.string()),
        ErrorKind::kInvalidInput, [&] { return forward(probe); });
    if (out.dim() != 2 || out.size(1) != sidecar_.output_dim) {
      fail(ErrorKind::kInvalidInput,
           "{}: the model outputs shape {} per batch after pooling, sidecar {} says output.dim {}",
           model.string(), fmt::join(out.sizes(), "x"), sidecar_path.string(), sidecar_.output_dim);
    }
  }

  [[nodiscard]] std::string spec() const override { return "torchscript:" + path_.string(); }
  [[nodiscard]] std::string fingerprint() const override {
    return fmt::format("torchscript/v1;model={:016x};{}", model_hash_, sidecar_.to_string());
  }
  [[nodiscard]] int dim() const override { return sidecar_.output_dim; }

  void embed(const Volume& volume, std::int64_t k0, std::int64_t k1,
             std::span<float> out) const override {
    check_embed_args(volume, k0, k1, out.size(), dim());
    const auto d = static_cast<std::size_t>(dim());
    const Preprocessing& p = sidecar_.preprocessing;
    const std::size_t tensor = p.tensor_size();
    torch::NoGradGuard guard;
    for (std::int64_t b = k0; b < k1; b += batch_) {
      const std::int64_t n = std::min<std::int64_t>(batch_, k1 - b);
      torch::Tensor input = torch::empty({n, p.channels, p.input_height, p.input_width});
      float* in = input.data_ptr<float>();
      parallel_chunks(n, threads_, [&](std::int64_t s, std::int64_t e, int) {
        slicing::Scratch scratch;
        for (std::int64_t i = s; i < e; ++i) {
          slicing::preprocess_slice(volume, b + i, p,
                                    {in + static_cast<std::size_t>(i) * tensor, tensor}, scratch);
        }
      });
      // c10::Error here (out of memory, a shape the model refuses) fails this volume only.
      const torch::Tensor y =
          translate_exceptions(path_, "running the model", ErrorKind::kInvalidInput,
                               [&] { return forward(input).contiguous(); });
      const float* src = y.data_ptr<float>();
      float* dst = out.data() + static_cast<std::size_t>(b - k0) * d;
      for (std::int64_t i = 0; i < n; ++i) {
        const float* v = src + static_cast<std::size_t>(i) * d;
        double norm = 0;
        for (std::size_t j = 0; j < d; ++j) norm += static_cast<double>(v[j]) * v[j];
        const float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
        for (std::size_t j = 0; j < d; ++j) dst[static_cast<std::size_t>(i) * d + j] = v[j] * inv;
      }
    }
  }

 private:
  // Forward + output selection + pooling: a [N, dim] float tensor.
  torch::Tensor forward(const torch::Tensor& input) const {
    // Module::forward is not const; inference on a loaded module does not mutate it.
    auto& module = const_cast<torch::jit::script::Module&>(module_);
    torch::jit::IValue result = module.forward({input});
    if (result.isTuple()) {
      const auto& elems = result.toTupleRef().elements();
      if (sidecar_.output_index >= static_cast<int>(elems.size())) {
        fail(ErrorKind::kInvalidInput, "{}: output.index {} but the model returns {} outputs",
             path_.string(), sidecar_.output_index, elems.size());
      }
      result = elems[static_cast<std::size_t>(sidecar_.output_index)];
    } else if (result.isList()) {
      const auto list = result.toList();
      if (sidecar_.output_index >= static_cast<int>(list.size())) {
        fail(ErrorKind::kInvalidInput, "{}: output.index {} but the model returns {} outputs",
             path_.string(), sidecar_.output_index, list.size());
      }
      result = list.get(static_cast<std::size_t>(sidecar_.output_index));
    }
    if (!result.isTensor())
      fail(ErrorKind::kInvalidInput, "{}: the model's output is not a tensor", path_.string());
    torch::Tensor t = result.toTensor().to(torch::kFloat32);
    switch (sidecar_.pooling) {
      case Pooling::kNone:
        break;
      case Pooling::kCls:
        if (t.dim() != 3)
          fail(ErrorKind::kInvalidInput, "{}: pooling cls needs [N, tokens, dim], got {} dims",
               path_.string(), t.dim());
        t = t.select(1, 0);
        break;
      case Pooling::kMean:
        if (t.dim() == 3)
          t = t.mean(1);
        else if (t.dim() == 4)
          t = t.mean({2, 3});
        else
          fail(ErrorKind::kInvalidInput, "{}: pooling mean needs 3 or 4 dims, got {}",
               path_.string(), t.dim());
        break;
    }
    return t.reshape({t.size(0), -1});
  }

  std::filesystem::path path_;
  int threads_;
  int batch_;
  std::uint64_t model_hash_ = 0;
  ModelSidecar sidecar_;
  torch::jit::script::Module module_;
};

}  // namespace

bool have_torchscript() {
  return true;
}

std::unique_ptr<Embedder> make_torchscript_embedder(const std::filesystem::path& model,
                                                    const EmbedderOptions& options) {
  return std::make_unique<TorchScriptEmbedder>(model, options);
}

}  // namespace voxir::embed

namespace voxir::embed {

std::vector<double> bare_forward_seconds(const std::filesystem::path& model, int batch, int repeats,
                                         int threads, const std::function<void()>& between) {
  const auto sidecar_path = find_sidecar(model);
  const ModelSidecar sidecar = parse_sidecar(read_text_file(sidecar_path), sidecar_path);
  at::set_num_threads(resolve_threads(threads, 1 << 20));
  torch::jit::script::Module module = load_for_inference(model);
  const Preprocessing& p = sidecar.preprocessing;
  const torch::Tensor input = torch::randn({batch, p.channels, p.input_height, p.input_width});
  std::vector<double> times;
  for (int r = -1; r < repeats; ++r) {
    double s = 0;
    {
      torch::NoGradGuard guard;
      const auto t0 = std::chrono::steady_clock::now();
      const auto out = module.forward({input});
      s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    if (r >= 0) {
      times.push_back(s);
      between();
    }
  }
  return times;
}

}  // namespace voxir::embed
