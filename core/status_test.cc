#include "core/status.h"

#include <gtest/gtest.h>

namespace meta {
namespace {

Result<int> ParsePositive(int x) {
  if (x <= 0) return InvalidArgumentError("x must be positive, got " + std::to_string(x));
  return x;
}

Result<int> Doubled(int x) {
  ASSIGN_OR_RETURN(int v, ParsePositive(x));
  return v * 2;
}

Status Both(int a, int b) {
  RETURN_IF_ERROR(ParsePositive(a).status());
  RETURN_IF_ERROR(ParsePositive(b).status());
  return Status::Ok();
}

TEST(StatusTest, OkAndErrorsCarryCodeAndMessage) {
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "OK");
  Status s = NotFoundError("key 'a' not found");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.ToString(), "NOT_FOUND: key 'a' not found");
  EXPECT_EQ(s.Annotate("get").ToString(), "NOT_FOUND: get: key 'a' not found");
  EXPECT_EQ(CodeName(Code::kUnavailable), "UNAVAILABLE");
}

TEST(StatusTest, ResultPropagatesThroughMacros) {
  EXPECT_EQ(*Doubled(4), 8);
  Result<int> bad = Doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("got -1"), std::string::npos);
  EXPECT_TRUE(Both(1, 2).ok());
  EXPECT_EQ(Both(1, 0).code(), Code::kInvalidArgument);
}

TEST(StatusDeathTest, ValueOfErrorResultCrashes) {
  Result<int> bad = InternalError("boom");
  EXPECT_DEATH((void)bad.value(), "Result::value\\(\\) on error: INTERNAL: boom");
}

TEST(StatusDeathTest, CheckPrintsOperands) {
  int a = 3, b = 4;
  EXPECT_DEATH(CHECK_EQ(a, b) << "context", "a == b \\(3 vs. 4\\) context");
}

}  // namespace
}  // namespace meta
