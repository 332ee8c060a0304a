#include "util/hash.h"

#include <algorithm>
#include <cstring>

namespace voxir {
namespace {

constexpr std::uint64_t kPrime1 = 0x9E3779B185EBCA87ull;
constexpr std::uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;

std::uint64_t rotl(std::uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}

// xxHash64-style round: four independent lanes so the loop runs at memory speed.
std::uint64_t round(std::uint64_t acc, std::uint64_t lane) {
  acc += lane * kPrime2;
  acc = rotl(acc, 31);
  return acc * kPrime1;
}

std::uint64_t load64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace

void Hasher::update(std::span<const std::uint8_t> bytes) {
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  total_ += n;
  if (tail_size_ > 0) {
    const std::size_t take = std::min(n, 32 - tail_size_);
    std::memcpy(tail_ + tail_size_, p, take);
    tail_size_ += take;
    p += take;
    n -= take;
    if (tail_size_ < 32) return;
    for (int l = 0; l < 4; ++l) state_[l] = round(state_[l], load64(tail_ + 8 * l));
    tail_size_ = 0;
  }
  while (n >= 32) {
    for (int l = 0; l < 4; ++l) state_[l] = round(state_[l], load64(p + 8 * l));
    p += 32;
    n -= 32;
  }
  std::memcpy(tail_, p, n);
  tail_size_ = n;
}

std::uint64_t Hasher::digest() const {
  std::uint64_t h =
      rotl(state_[0], 1) + rotl(state_[1], 7) + rotl(state_[2], 12) + rotl(state_[3], 18);
  h = mix(h ^ total_);
  for (std::size_t i = 0; i < tail_size_; ++i) h = mix(h ^ (tail_[i] + 0x100ull * (i + 1)));
  return h;
}

}  // namespace voxir
