// CHECK: a broken invariant is a bug; crash with a message (on in every build type).
// DCHECK: the same for checks too expensive for release builds.
//
//   CHECK(index <= last_index) << "index " << index << " past the log end";
//   CHECK_EQ(a, b);  // prints both values on failure
#pragma once

#include <sstream>

namespace meta::internal {

// Collects the streamed message and aborts in its destructor.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Turns `CheckFailure(...).stream() << ...` into a void expression for the ternary in CHECK.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace meta::internal

#define CHECK(condition)                      \
  (condition) ? (void)0                       \
              : ::meta::internal::Voidify() & \
                    ::meta::internal::CheckFailure(__FILE__, __LINE__, #condition).stream()

#define META_CHECK_OP(a, b, op)                                                                   \
  ((a)op(b)) ? (void)0                                                                            \
             : ::meta::internal::Voidify() &                                                      \
                   ::meta::internal::CheckFailure(__FILE__, __LINE__, #a " " #op " " #b).stream() \
                       << "(" << (a) << " vs. " << (b) << ") "

#define CHECK_EQ(a, b) META_CHECK_OP(a, b, ==)
#define CHECK_NE(a, b) META_CHECK_OP(a, b, !=)
#define CHECK_LT(a, b) META_CHECK_OP(a, b, <)
#define CHECK_LE(a, b) META_CHECK_OP(a, b, <=)
#define CHECK_GT(a, b) META_CHECK_OP(a, b, >)
#define CHECK_GE(a, b) META_CHECK_OP(a, b, >=)

#ifdef NDEBUG
#define DCHECK(condition) \
  while (false) CHECK(condition)
#define DCHECK_EQ(a, b) \
  while (false) CHECK_EQ(a, b)
#define DCHECK_LE(a, b) \
  while (false) CHECK_LE(a, b)
#define DCHECK_LT(a, b) \
  while (false) CHECK_LT(a, b)
#else
#define DCHECK(condition) CHECK(condition)
#define DCHECK_EQ(a, b) CHECK_EQ(a, b)
#define DCHECK_LE(a, b) CHECK_LE(a, b)
#define DCHECK_LT(a, b) CHECK_LT(a, b)
#endif
