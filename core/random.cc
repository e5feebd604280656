#include "core/random.h"

#include "core/check.h"
#include "core/hash.h"

namespace meta {
namespace {

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Random::Random(uint64_t seed) : seed_(seed) {
  // SplitMix64 expands the seed into xoshiro's 256-bit state (never all zero).
  uint64_t x = seed;
  for (uint64_t& word : s_) {
    x += 0x9e3779b97f4a7c15ULL;
    word = Mix64(x);
  }
}

Random Random::Stream(uint64_t id) const { return Random(HashCombine(Mix64(seed_), id)); }

Random Random::Stream(std::string_view name) const { return Stream(HashBytes(name)); }

Random Random::Stream(std::string_view name, uint64_t id) const {
  return Stream(HashCombine(HashBytes(name), id));
}

uint64_t Random::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

uint64_t Random::Uniform(uint64_t n) {
  CHECK_GT(n, 0u);
  // Lemire's multiply-and-reject: unbiased without a division on the common path.
  __uint128_t m = static_cast<__uint128_t>(Next()) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    const uint64_t threshold = -n % n;
    while (low < threshold) {
      m = static_cast<__uint128_t>(Next()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

int64_t Random::Range(int64_t lo, int64_t hi) {
  CHECK_LE(lo, hi);
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  if (span == UINT64_MAX) return static_cast<int64_t>(Next());
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + Uniform(span + 1));
}

Duration Random::Range(Duration lo, Duration hi) { return Nanos(Range(lo.nanos(), hi.nanos())); }

bool Random::OneIn(uint64_t n) { return Uniform(n) == 0; }

bool Random::Chance(double p) {
  if (p <= 0) return false;
  if (p >= 1) return true;
  return NextDouble() < p;
}

double Random::NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

}  // namespace meta
