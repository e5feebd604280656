// Errors are values: Status and Result<T> with the canonical gRPC codes. Converted to grpc::Status
// only at the edge, in net/.
//
// Retry meaning (as in gRPC and Abseil): UNAVAILABLE = retry this call; ABORTED = retry the whole
// transaction higher up; FAILED_PRECONDITION = fix the state first, a retry alone will not help.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "core/check.h"

namespace meta {

enum class Code : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

std::string_view CodeName(Code code);
std::ostream& operator<<(std::ostream& os, Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Prefixes the message with context, keeping the code: "reading segment 7: file is truncated".
  Status Annotate(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

  // Explicitly discards a status whose failure the caller has decided not to act on.
  void IgnoreError() const {}

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& s);

inline Status CancelledError(std::string m) { return Status(Code::kCancelled, std::move(m)); }
inline Status InvalidArgumentError(std::string m) {
  return Status(Code::kInvalidArgument, std::move(m));
}
inline Status DeadlineExceededError(std::string m) {
  return Status(Code::kDeadlineExceeded, std::move(m));
}
inline Status NotFoundError(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status AlreadyExistsError(std::string m) {
  return Status(Code::kAlreadyExists, std::move(m));
}
inline Status ResourceExhaustedError(std::string m) {
  return Status(Code::kResourceExhausted, std::move(m));
}
inline Status FailedPreconditionError(std::string m) {
  return Status(Code::kFailedPrecondition, std::move(m));
}
inline Status AbortedError(std::string m) { return Status(Code::kAborted, std::move(m)); }
inline Status OutOfRangeError(std::string m) { return Status(Code::kOutOfRange, std::move(m)); }
inline Status UnimplementedError(std::string m) {
  return Status(Code::kUnimplemented, std::move(m));
}
inline Status InternalError(std::string m) { return Status(Code::kInternal, std::move(m)); }
inline Status UnavailableError(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
inline Status DataLossError(std::string m) { return Status(Code::kDataLoss, std::move(m)); }

// Either a value or a non-OK Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    CHECK(!status_.ok()) << "Result constructed from an OK Status without a value";
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  const T& value() const& {
    CHECK(ok()) << "Result::value() on error: " << status_;
    return *value_;
  }
  T& value() & {
    CHECK(ok()) << "Result::value() on error: " << status_;
    return *value_;
  }
  T&& value() && {
    CHECK(ok()) << "Result::value() on error: " << status_;
    return std::move(*value_);
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

// A value for Result<Unit> / Future<Unit>: "done, nothing to return".
struct Unit {
  friend bool operator==(Unit, Unit) { return true; }
};

}  // namespace meta

#define META_CONCAT_INNER(a, b) a##b
#define META_CONCAT(a, b) META_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::meta::Status meta_status_ = (expr);        \
    if (!meta_status_.ok()) return meta_status_; \
  } while (false)

// ASSIGN_OR_RETURN(auto x, ComputeX()): binds the value or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(META_CONCAT(meta_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
