#include "raft/log.h"

#include <gtest/gtest.h>

namespace meta::raft {
namespace {

Entry E(uint64_t index, uint64_t term) {
  Entry e;
  e.set_index(index);
  e.set_term(term);
  return e;
}

TEST(RaftLogTest, AppendTruncatesConflictingSuffix) {
  MemoryStorage storage;
  RaftLog log(storage);
  log.Append({E(1, 1), E(2, 1), E(3, 2)});
  EXPECT_EQ(log.LastIndex(), 3u);
  EXPECT_EQ(log.LastTerm(), 2u);
  auto last = log.MaybeAppend(1, 1, 0, {E(2, 3)});
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, 2u);
  EXPECT_EQ(log.LastIndex(), 2u);
  EXPECT_EQ(log.TermOr0(2), 3u);
}

TEST(RaftLogTest, MaybeAppendRejectsMismatchAndCommitsOnlyWhatItHas) {
  MemoryStorage storage;
  RaftLog log(storage);
  log.Append({E(1, 1), E(2, 2)});
  EXPECT_FALSE(log.MaybeAppend(2, 1, 5, {}).has_value());
  auto last = log.MaybeAppend(2, 2, 5, {E(3, 2)});
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(log.committed(), 3u);  // min(leader commit, last new index)
}

TEST(RaftLogTest, FindConflictByTermSkipsWholeTerms) {
  MemoryStorage storage;
  RaftLog log(storage);
  log.Append({E(1, 1), E(2, 2), E(3, 2), E(4, 4), E(5, 4)});
  EXPECT_EQ(log.FindConflictByTerm(5, 3), 3u);
  EXPECT_EQ(log.FindConflictByTerm(5, 1), 1u);
  EXPECT_EQ(log.FindConflictByTerm(5, 4), 5u);
}

TEST(RaftLogTest, OnlyCurrentTermEntriesCommitByCounting) {
  MemoryStorage storage;
  RaftLog log(storage);
  log.Append({E(1, 1), E(2, 2)});
  EXPECT_FALSE(log.MaybeCommit(1, 2));  // index 1 is of term 1, not the current term 2
  EXPECT_TRUE(log.MaybeCommit(2, 2));
  EXPECT_EQ(log.committed(), 2u);
}

TEST(RaftLogTest, StableToIgnoresAReplacedEntry) {
  MemoryStorage storage;
  RaftLog log(storage);
  log.Append({E(1, 1), E(2, 1)});
  log.Append({E(2, 2)});  // a newer leader replaced index 2 before it was persisted
  log.StableTo(2, 1);     // the old persist completes: must not mark the new entry stable
  EXPECT_EQ(log.unstable_entries().size(), 2u);
  log.StableTo(2, 2);
  EXPECT_TRUE(log.unstable_entries().empty());
}

TEST(RaftLogTest, IsUpToDateComparesLastTermThenIndex) {
  MemoryStorage storage;
  RaftLog log(storage);
  log.Append({E(1, 1), E(2, 2)});
  EXPECT_TRUE(log.IsUpToDate(1, 3));
  EXPECT_TRUE(log.IsUpToDate(2, 2));
  EXPECT_FALSE(log.IsUpToDate(1, 2));
  EXPECT_FALSE(log.IsUpToDate(5, 1));
}

// Storage whose reads of persisted entries fail, as a disk returning EIO would.
class FailingStorage final : public Storage {
 public:
  explicit FailingStorage(const MemoryStorage& inner) : inner_(inner) {}
  Result<InitialState> GetInitialState() const override { return inner_.GetInitialState(); }
  Result<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi, uint64_t max) const override {
    if (failing) return InternalError("injected read error");
    return inner_.Entries(lo, hi, max);
  }
  Result<uint64_t> Term(uint64_t i) const override {
    if (failing && i != inner_.LastIndex()) return InternalError("injected read error");
    return inner_.Term(i);
  }
  uint64_t FirstIndex() const override { return inner_.FirstIndex(); }
  uint64_t LastIndex() const override { return inner_.LastIndex(); }
  Result<Snapshot> GetSnapshot() const override { return inner_.GetSnapshot(); }
  bool failing = false;

 private:
  const MemoryStorage& inner_;
};

TEST(RaftLogTest, AFailedStorageReadIsRecordedAndNeverTakenForAConflict) {
  MemoryStorage inner;
  ASSERT_TRUE(inner.Append({E(1, 1), E(2, 1), E(3, 1)}).ok());
  FailingStorage storage(inner);
  RaftLog log(storage);
  log.CommitTo(3);
  EXPECT_TRUE(log.storage_error().ok());
  storage.failing = true;
  // The leader re-sends entries 1..3; their terms cannot be read. Taking the failed read for a
  // mismatch would truncate committed entries: the append is refused and the failure recorded.
  EXPECT_FALSE(log.MaybeAppend(0, 0, 3, {E(1, 1), E(2, 1), E(3, 1), E(4, 1)}).has_value());
  EXPECT_EQ(log.storage_error().code(), Code::kInternal);
  EXPECT_EQ(log.LastIndex(), 3u);
  EXPECT_TRUE(log.NextCommittedEntries(UINT64_MAX).empty());  // no CHECK: the node fail-stops
}

TEST(RaftLogTest, CompactionIsNotAStorageFailure) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.Append({E(1, 1), E(2, 1), E(3, 1)}).ok());
  ASSERT_TRUE(storage.Compact(2).ok());
  RaftLog log(storage);
  EXPECT_FALSE(log.Slice(1, 3, UINT64_MAX).ok());
  EXPECT_EQ(log.TermOr0(1), 0u);
  EXPECT_TRUE(log.storage_error().ok());
}

}  // namespace
}  // namespace meta::raft
