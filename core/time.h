// Time as integer nanoseconds: no floating-point time anywhere. `Instant` is a point on one Env's
// monotonic clock (virtual in simulation); `Duration` is a signed span.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace meta {

class Duration {
 public:
  constexpr Duration() = default;
  static constexpr Duration Nanos(int64_t n) { return Duration(n); }
  static constexpr Duration Micros(int64_t n) { return Duration(n * 1000); }
  static constexpr Duration Millis(int64_t n) { return Duration(n * 1000 * 1000); }
  static constexpr Duration Seconds(int64_t n) { return Duration(n * 1000 * 1000 * 1000); }
  static constexpr Duration Zero() { return Duration(0); }
  static constexpr Duration Max() { return Duration(INT64_MAX); }

  constexpr int64_t nanos() const { return ns_; }
  constexpr int64_t micros() const { return ns_ / 1000; }
  constexpr int64_t millis() const { return ns_ / 1000000; }
  constexpr int64_t seconds() const { return ns_ / 1000000000; }

  constexpr Duration operator+(Duration o) const { return Duration(ns_ + o.ns_); }
  constexpr Duration operator-(Duration o) const { return Duration(ns_ - o.ns_); }
  constexpr Duration operator*(int64_t k) const { return Duration(ns_ * k); }
  constexpr Duration operator/(int64_t k) const { return Duration(ns_ / k); }
  constexpr int64_t operator/(Duration o) const { return ns_ / o.ns_; }
  constexpr Duration& operator+=(Duration o) {
    ns_ += o.ns_;
    return *this;
  }
  constexpr Duration& operator-=(Duration o) {
    ns_ -= o.ns_;
    return *this;
  }
  constexpr auto operator<=>(const Duration&) const = default;

  // "1.250s", "3.5ms", "120us", "7ns": exact, for logs.
  std::string ToString() const;

 private:
  constexpr explicit Duration(int64_t ns) : ns_(ns) {}
  int64_t ns_ = 0;
};

class Instant {
 public:
  constexpr Instant() = default;
  static constexpr Instant FromNanos(int64_t ns) { return Instant(ns); }
  constexpr int64_t nanos() const { return ns_; }

  constexpr Instant operator+(Duration d) const { return Instant(ns_ + d.nanos()); }
  constexpr Instant operator-(Duration d) const { return Instant(ns_ - d.nanos()); }
  constexpr Duration operator-(Instant o) const { return Duration::Nanos(ns_ - o.ns_); }
  constexpr Instant& operator+=(Duration d) {
    ns_ += d.nanos();
    return *this;
  }
  constexpr auto operator<=>(const Instant&) const = default;

  // Seconds since the clock's origin with nanosecond precision: "12.000250000".
  std::string ToString() const;

 private:
  constexpr explicit Instant(int64_t ns) : ns_(ns) {}
  int64_t ns_ = 0;
};

constexpr Duration Nanos(int64_t n) { return Duration::Nanos(n); }
constexpr Duration Micros(int64_t n) { return Duration::Micros(n); }
constexpr Duration Millis(int64_t n) { return Duration::Millis(n); }
constexpr Duration Seconds(int64_t n) { return Duration::Seconds(n); }

inline std::ostream& operator<<(std::ostream& os, Duration d) { return os << d.ToString(); }
inline std::ostream& operator<<(std::ostream& os, Instant t) { return os << t.ToString(); }

}  // namespace meta
