// Opening the generation a writer is writing, before CURRENT names it: how write_generation hands
// the new generation to WriteOptions::predict. Only a writer holding the folder's write lock may
// call it (no other writer can then delete the generation, so no reader registration is taken).
#pragma once

#include "voxir/index.h"

#include <filesystem>
#include <memory>

namespace voxir {

struct IndexStaging {
  [[nodiscard]] static std::unique_ptr<Index> open(const std::filesystem::path& dir,
                                                   const std::filesystem::path& gen_dir);
};

}  // namespace voxir
