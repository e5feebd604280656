#include "core/time.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>

namespace meta {

std::string Duration::ToString() const {
  char buf[64];
  const int64_t abs = ns_ < 0 ? -ns_ : ns_;
  const char* sign = ns_ < 0 ? "-" : "";
  // Pick the largest unit that divides exactly, so the text never rounds.
  if (abs == 0) return "0s";
  if (abs % 1000000000 == 0) {
    std::snprintf(buf, sizeof buf, "%s%" PRId64 "s", sign, abs / 1000000000);
  } else if (abs >= 1000000000) {
    std::snprintf(buf, sizeof buf, "%s%" PRId64 ".%09" PRId64 "s", sign, abs / 1000000000,
                  abs % 1000000000);
  } else if (abs % 1000000 == 0) {
    std::snprintf(buf, sizeof buf, "%s%" PRId64 "ms", sign, abs / 1000000);
  } else if (abs % 1000 == 0) {
    std::snprintf(buf, sizeof buf, "%s%" PRId64 "us", sign, abs / 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%s%" PRId64 "ns", sign, abs);
  }
  return buf;
}

std::string Instant::ToString() const {
  char buf[64];
  const int64_t abs = ns_ < 0 ? -ns_ : ns_;
  std::snprintf(buf, sizeof buf, "%s%" PRId64 ".%09" PRId64, ns_ < 0 ? "-" : "", abs / 1000000000,
                abs % 1000000000);
  return buf;
}

}  // namespace meta
