// The trace recorder: hashes every executed simulation event (virtual time, node, kind, payload
// digest) into one 64-bit trace hash, and optionally keeps a readable line per event.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/time.h"

namespace meta::sim {

class Trace {
 public:
  explicit Trace(bool keep_lines) : keep_lines_(keep_lines) {}

  void Record(Instant at, uint64_t node, uint8_t kind, uint64_t digest);

  uint64_t hash() const { return hash_; }
  uint64_t events() const { return events_; }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  bool keep_lines_;
  uint64_t hash_ = 0x6a09e667f3bcc908ULL;
  uint64_t events_ = 0;
  std::vector<std::string> lines_;
};

// "0x1234abcd..." with 16 hex digits.
std::string HexHash(uint64_t h);

}  // namespace meta::sim
