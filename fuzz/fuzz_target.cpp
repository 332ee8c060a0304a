// One libFuzzer target per reader: VOXIR_FUZZ_TARGET (set by fuzz/CMakeLists.txt) names it in
// fuzz/inputs.h. A refusal (voxir::Error) is a normal outcome; anything else is a finding.
#include "inputs.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const voxir::fuzz::Reader read = voxir::fuzz::reader(VOXIR_FUZZ_TARGET);
  (void)read({data, size});
  return 0;
}
