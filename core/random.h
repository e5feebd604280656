// Seeded pseudo-randomness (xoshiro256**). There is no global generator: every user is handed a
// Random. Independent streams come from Stream(id), which derives a new seed from this generator's
// *seed* (not its state), so adding a node or a stream never perturbs the numbers another draws.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/time.h"

namespace meta {

class Random {
 public:
  explicit Random(uint64_t seed);

  uint64_t seed() const { return seed_; }

  // An independent generator for sub-stream `id` (or a named one). Deterministic in (seed, id).
  Random Stream(uint64_t id) const;
  Random Stream(std::string_view name) const;
  Random Stream(std::string_view name, uint64_t id) const;

  uint64_t Next();
  // Uniform in [0, n); n > 0. Unbiased.
  uint64_t Uniform(uint64_t n);
  // Uniform in [lo, hi], inclusive; lo <= hi.
  int64_t Range(int64_t lo, int64_t hi);
  // Uniform in [lo, hi], inclusive.
  Duration Range(Duration lo, Duration hi);
  // True with probability 1/n (n >= 1).
  bool OneIn(uint64_t n);
  // True with probability p in [0, 1].
  bool Chance(double p);
  // Uniform in [0, 1).
  double NextDouble();

 private:
  uint64_t seed_;
  uint64_t s_[4];
};

}  // namespace meta
