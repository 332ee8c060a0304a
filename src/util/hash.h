// A fast non-cryptographic 64-bit hash for content keys and corruption checks (not security).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace voxir {

// Streaming: feeding the same bytes in any chunking gives the same value.
class Hasher {
 public:
  void update(std::span<const std::uint8_t> bytes);
  void update(std::string_view text) {
    update({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  }
  template <typename T>
  void update_pod(std::span<const T> values) {
    update({reinterpret_cast<const std::uint8_t*>(values.data()), values.size_bytes()});
  }
  [[nodiscard]] std::uint64_t digest() const;

 private:
  std::uint64_t state_[4] = {0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull,
                             0x27D4EB2F165667C5ull};
  std::uint8_t tail_[32] = {};
  std::size_t tail_size_ = 0;
  std::uint64_t total_ = 0;
};

[[nodiscard]] inline std::uint64_t hash64(std::span<const std::uint8_t> bytes) {
  Hasher h;
  h.update(bytes);
  return h.digest();
}

}  // namespace voxir
