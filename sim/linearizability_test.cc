// The checker checked: known linearizable and non-linearizable histories.
#include "sim/linearizability.h"

#include <gtest/gtest.h>

namespace meta::sim {
namespace {

Instant T(int64_t ms) { return Instant() + Millis(ms); }

KvOp Put(uint64_t c, std::string v, int64_t call, int64_t ret) {
  KvOp op;
  op.type = KvOp::Type::kPut;
  op.client = c;
  op.key = "x";
  op.value = std::move(v);
  op.call = T(call);
  op.ret = T(ret);
  return op;
}

KvOp Get(uint64_t c, std::optional<std::string> read, int64_t call, int64_t ret) {
  KvOp op;
  op.type = KvOp::Type::kGet;
  op.client = c;
  op.key = "x";
  op.read = std::move(read);
  op.call = T(call);
  op.ret = T(ret);
  return op;
}

KvOp Cas(uint64_t c, std::optional<std::string> expected, std::string v, bool ok, int64_t call,
         int64_t ret) {
  KvOp op;
  op.type = KvOp::Type::kCas;
  op.client = c;
  op.key = "x";
  op.expected = std::move(expected);
  op.value = std::move(v);
  op.ok = ok;
  op.call = T(call);
  op.ret = T(ret);
  return op;
}

KvOp Indeterminate(KvOp op) {
  op.indeterminate = true;
  return op;
}

bool Linearizable(const std::vector<KvOp>& h) { return CheckLinearizable(h).status.ok(); }

TEST(LinearizabilityTest, SequentialHistoryIsLinearizable) {
  EXPECT_TRUE(
      Linearizable({Put(1, "a", 0, 1), Get(2, "a", 2, 3), Put(1, "b", 4, 5), Get(2, "b", 6, 7)}));
}

TEST(LinearizabilityTest, StaleReadAfterACompletedWriteIsNot) {
  // The write of b finished before the read began, yet the read saw a.
  EXPECT_FALSE(Linearizable({Put(1, "a", 0, 1), Put(1, "b", 2, 3), Get(2, "a", 4, 5)}));
}

TEST(LinearizabilityTest, ConcurrentOperationsMayOrderEitherWay) {
  EXPECT_TRUE(Linearizable({Put(1, "a", 0, 10), Get(2, "a", 1, 2), Get(3, std::nullopt, 0, 1)}));
  // But two reads cannot disagree on the order of one write: once a reader saw the new value,
  // a later read may not see the old one.
  EXPECT_FALSE(
      Linearizable({Put(9, "a", 0, 1), Put(1, "b", 2, 100), Get(2, "b", 3, 4), Get(3, "a", 5, 6)}));
}

TEST(LinearizabilityTest, ReadOfAValueNeverWrittenIsNot) {
  EXPECT_FALSE(Linearizable({Put(1, "a", 0, 1), Get(2, "zzz", 2, 3)}));
}

TEST(LinearizabilityTest, CasMustAgreeWithTheState) {
  EXPECT_TRUE(Linearizable({Put(1, "a", 0, 1), Cas(2, "a", "b", true, 2, 3), Get(3, "b", 4, 5)}));
  // Two CAS from the same expected value cannot both succeed.
  EXPECT_FALSE(Linearizable(
      {Put(1, "a", 0, 1), Cas(2, "a", "b", true, 2, 5), Cas(3, "a", "c", true, 2, 5)}));
  EXPECT_TRUE(Linearizable({Cas(1, std::nullopt, "a", true, 0, 1), Get(2, "a", 2, 3)}));
}

TEST(LinearizabilityTest, IndeterminateWritesMayOrMayNotHaveHappened) {
  // A timed-out write that was never observed: fine either way.
  EXPECT_TRUE(Linearizable({Indeterminate(Put(1, "a", 0, 1)), Get(2, std::nullopt, 5, 6)}));
  // Observed long after it timed out: it took effect late, which is allowed.
  EXPECT_TRUE(Linearizable(
      {Indeterminate(Put(1, "a", 0, 1)), Get(2, std::nullopt, 5, 6), Get(2, "a", 50, 60)}));
  // But it cannot take effect before it was called.
  EXPECT_FALSE(Linearizable({Get(2, "a", 0, 1), Indeterminate(Put(1, "a", 5, 6))}));
}

TEST(LinearizabilityTest, KeysAreCheckedIndependently) {
  KvOp other = Put(1, "z", 0, 1);
  other.key = "y";
  auto r = CheckLinearizable({Put(1, "a", 0, 1), other, Get(2, "a", 2, 3)});
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.keys, 2u);
}

TEST(LinearizabilityTest, ViolationNamesTheKeyAndShowsItsHistory) {
  auto r = CheckLinearizable({Put(1, "a", 0, 1), Get(2, "b", 2, 3)});
  ASSERT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("key 'x'"), std::string::npos) << r.status;
  EXPECT_NE(r.status.message().find("get x -> 'b'"), std::string::npos) << r.status;
}

}  // namespace
}  // namespace meta::sim
