// A stable 64-bit hash for digests that must be identical across runs, processes and machines
// (trace hashes, state digests, routing). std::hash promises none of that.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace meta {

// SplitMix64's finalizer: a bijective mix of 64 bits.
constexpr uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Folds `value` into the running hash `h` (order-sensitive).
constexpr uint64_t HashCombine(uint64_t h, uint64_t value) {
  return Mix64(h ^ (value + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)));
}

// Hashes bytes 8 at a time (little-endian loads), then the length.
inline uint64_t HashBytes(std::string_view bytes, uint64_t seed = 0) {
  uint64_t h = Mix64(seed ^ 0x243f6a8885a308d3ULL);
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    h = HashCombine(h, word);
  }
  uint64_t tail = 0;
  if (i < bytes.size()) std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  h = HashCombine(h, tail);
  return HashCombine(h, bytes.size());
}

}  // namespace meta
