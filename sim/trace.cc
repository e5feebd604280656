#include "sim/trace.h"

#include <cinttypes>
#include <cstdio>

#include "core/hash.h"

namespace meta::sim {

void Trace::Record(Instant at, uint64_t node, uint8_t kind, uint64_t digest) {
  hash_ = HashCombine(hash_, static_cast<uint64_t>(at.nanos()));
  hash_ = HashCombine(hash_, node);
  hash_ = HashCombine(hash_, kind);
  hash_ = HashCombine(hash_, digest);
  ++events_;
  if (keep_lines_) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s n%" PRIu64 " kind=%u digest=%016" PRIx64 " hash=%016" PRIx64,
                  at.ToString().c_str(), node, static_cast<unsigned>(kind), digest, hash_);
    lines_.emplace_back(buf);
  }
}

std::string HexHash(uint64_t h) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64, h);
  return buf;
}

}  // namespace meta::sim
