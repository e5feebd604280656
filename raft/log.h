// The Raft log: a stable prefix readable through Storage, then an unstable suffix (entries and
// perhaps a snapshot) not yet persisted. Indexes and terms are named as in the Raft paper.
//
//   snapshot/first.....applied....committed....stable_last....last
//   |------ Storage (persisted) -------------------|-- unstable --|
#pragma once

#include <algorithm>
#include <optional>
#include <vector>

#include "raft/storage.h"

namespace meta::raft {

class RaftLog {
 public:
  explicit RaftLog(const Storage& storage);

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;
  // Term of entry i; 0 when i is outside [FirstIndex()-1, LastIndex()] (compacted or past the end).
  uint64_t TermOr0(uint64_t i) const;
  Result<uint64_t> Term(uint64_t i) const;
  bool MatchTerm(uint64_t i, uint64_t term) const { return TermOr0(i) == term && Term(i).ok(); }

  // Leader's §5.3 consistency check and append: if entry (index, log_term) matches, appends `ents`
  // (truncating a conflicting suffix) and commits up to min(committed, last new index). Returns the
  // last new index, or nullopt on mismatch.
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                      const std::vector<Entry>& ents);
  // Appends after truncating whatever conflicts. Returns the new last index.
  uint64_t Append(const std::vector<Entry>& ents);
  // For a rejected append at `index`: the largest index <= index whose term <= `term` (fast
  // back-off: skip whole terms that cannot match).
  uint64_t FindConflictByTerm(uint64_t index, uint64_t term) const;

  // Commits up to `max_index` if that entry has `term` (§5.4.2: only current-term entries are
  // committed by counting replicas). True if the commit index moved.
  bool MaybeCommit(uint64_t max_index, uint64_t term);
  void CommitTo(uint64_t to);
  void AppliedTo(uint64_t i);

  // §5.4.1 election restriction: is (last_index, term) at least as up-to-date as our log?
  bool IsUpToDate(uint64_t last_index, uint64_t term) const;

  // Entries [lo, hi) within `max_bytes` (at least one). OUT_OF_RANGE (compacted) if lo is too old.
  Result<std::vector<Entry>> Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;
  // Committed entries not applied yet, within `max_bytes`.
  std::vector<Entry> NextCommittedEntries(uint64_t max_bytes) const;
  bool HasNextCommittedEntries() const;

  const std::vector<Entry>& unstable_entries() const { return unstable_; }
  const std::optional<Snapshot>& unstable_snapshot() const { return unstable_snapshot_; }
  // The caller persisted entries up to (index, term) / the snapshot at `index`.
  void StableTo(uint64_t index, uint64_t term);
  void StableSnapshotTo(uint64_t index);
  // The last index of the persisted prefix (everything before the unstable entries).
  uint64_t StableLastIndex() const {
    return unstable_.empty() ? LastIndex() : std::min(LastIndex(), unstable_offset_ - 1);
  }

  // Replaces the log with the snapshot (follower receiving InstallSnapshot).
  void Restore(const Snapshot& snapshot);
  Result<Snapshot> GetSnapshot() const;

  // The first read that Storage failed for a reason other than compaction or a snapshot still
  // being built — an I/O error, corruption, a missing entry — or OK. Raft answers such a read as
  // it would a compacted one, so its decisions since may rest on a wrong answer: the driver must
  // stop the node (fail-stop) before it persists or sends anything from then on.
  const Status& storage_error() const { return storage_error_; }

 private:
  uint64_t UnstableOffset() const { return unstable_offset_; }
  void TruncateAndAppendUnstable(const std::vector<Entry>& ents);
  uint64_t FindConflict(const std::vector<Entry>& ents) const;
  // Passes `r` through, remembering it in storage_error_ if it is a real failure.
  template <class T>
  Result<T> Checked(Result<T> r) const {
    if (!r.ok()) NoteReadFailure(r.status());
    return r;
  }
  void NoteReadFailure(const Status& s) const;

  const Storage& storage_;
  std::optional<Snapshot> unstable_snapshot_;
  std::vector<Entry> unstable_;
  uint64_t unstable_offset_;  // index of unstable_[0]
  uint64_t committed_;
  uint64_t applied_;
  mutable Status storage_error_;
};

}  // namespace meta::raft
