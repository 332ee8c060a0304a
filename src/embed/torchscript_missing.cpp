// Stand-in for torchscript_embedder.cpp when voxir is built without libtorch.
#include "embed/torchscript_embedder.h"

#include "voxir/error.h"

namespace voxir::embed {

bool have_torchscript() {
  return false;
}

std::unique_ptr<Embedder> make_torchscript_embedder(const std::filesystem::path& model,
                                                    const EmbedderOptions&) {
  fail(ErrorKind::kUnsupported,
       "torchscript:{}: this voxir was built without libtorch (install libtorch-dev, see "
       "scripts/setup, and rebuild)",
       model.string());
}

}  // namespace voxir::embed

namespace voxir::embed {

std::vector<double> bare_forward_seconds(const std::filesystem::path& model, int, int, int,
                                         const std::function<void()>&) {
  fail(ErrorKind::kUnsupported, "{}: this voxir was built without libtorch", model.string());
}

}  // namespace voxir::embed
