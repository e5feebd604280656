// Small conversions between our types and gRPC's (net/ only: no other folder sees gRPC).
#pragma once

#include <grpcpp/support/status.h>
#include <grpcpp/support/string_ref.h>

#include <charconv>
#include <map>
#include <optional>
#include <string>

#include "core/status.h"

namespace meta::net {

// Our codes are gRPC's codes (core/status.h), so the conversion keeps them.
inline grpc::Status ToGrpc(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), s.message());
}

inline Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return Status::Ok();
  return Status(static_cast<Code>(s.error_code()), s.error_message());
}

// A decimal number from client or server metadata; nullopt if absent or not a number.
inline std::optional<uint64_t> MetadataU64(
    const std::multimap<grpc::string_ref, grpc::string_ref>& md, const char* key) {
  auto it = md.find(key);
  if (it == md.end()) return std::nullopt;
  uint64_t v = 0;
  const char* end = it->second.data() + it->second.size();
  auto [ptr, ec] = std::from_chars(it->second.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

}  // namespace meta::net
