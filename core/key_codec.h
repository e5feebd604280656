// Order-preserving key encoding: big-endian integers so that RocksDB's bytewise order equals
// numeric order (a group's log is one contiguous range, read in index order).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meta {

inline void AppendBigEndian64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

// Reads 8 bytes at `pos`; nullopt when fewer remain.
inline std::optional<uint64_t> ReadBigEndian64(std::string_view in, size_t pos = 0) {
  if (in.size() < pos + 8) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[pos + i]);
  return v;
}

inline std::string BigEndian64(uint64_t v) {
  std::string out;
  AppendBigEndian64(out, v);
  return out;
}

}  // namespace meta
