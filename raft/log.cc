#include "raft/log.h"

#include <algorithm>

#include "core/check.h"
#include "core/sim_hooks.h"

namespace meta::raft {

RaftLog::RaftLog(const Storage& storage) : storage_(storage) {
  const uint64_t first = storage_.FirstIndex();
  const uint64_t last = storage_.LastIndex();
  unstable_offset_ = last + 1;
  committed_ = first - 1;  // the snapshot (or nothing) is committed by definition
  applied_ = first - 1;
}

uint64_t RaftLog::FirstIndex() const {
  if (unstable_snapshot_) return unstable_snapshot_->metadata().index() + 1;
  return storage_.FirstIndex();
}

uint64_t RaftLog::LastIndex() const {
  if (!unstable_.empty()) return unstable_offset_ + unstable_.size() - 1;
  if (unstable_snapshot_) return unstable_snapshot_->metadata().index();
  return storage_.LastIndex();
}

uint64_t RaftLog::LastTerm() const {
  Result<uint64_t> t = Term(LastIndex());
  CHECK(t.ok()) << "term of the last entry unavailable: " << t.status();
  return *t;
}

Result<uint64_t> RaftLog::Term(uint64_t i) const {
  if (i >= unstable_offset_ && i - unstable_offset_ < unstable_.size()) {
    return unstable_[i - unstable_offset_].term();
  }
  if (unstable_snapshot_ && i == unstable_snapshot_->metadata().index()) {
    return unstable_snapshot_->metadata().term();
  }
  if (i + 1 < FirstIndex()) return CompactedError();
  if (i > LastIndex()) return UnavailableError("index past the log end");
  return Checked(storage_.Term(i));
}

uint64_t RaftLog::TermOr0(uint64_t i) const {
  Result<uint64_t> t = Term(i);
  return t.ok() ? *t : 0;
}

uint64_t RaftLog::FindConflict(const std::vector<Entry>& ents) const {
  for (const Entry& e : ents) {
    if (!MatchTerm(e.index(), e.term())) return e.index();
  }
  return 0;
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                             const std::vector<Entry>& ents) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  const uint64_t last_new = index + ents.size();
  const uint64_t conflict = FindConflict(ents);
  if (!storage_error_.ok()) return std::nullopt;  // the terms compared may be wrong: do nothing
  if (conflict != 0) {
    CHECK_GT(conflict, committed_) << "entry " << conflict << " conflicts with a committed entry";
    if (conflict <= LastIndex()) SIM_PROBE("raft: conflicting log suffix truncated");
    const std::vector<Entry> rest(ents.begin() + static_cast<ptrdiff_t>(conflict - index - 1),
                                  ents.end());
    Append(rest);
  }
  CommitTo(std::min(committed, last_new));
  return last_new;
}

uint64_t RaftLog::Append(const std::vector<Entry>& ents) {
  if (ents.empty()) return LastIndex();
  CHECK_GT(ents.front().index(), committed_)
      << "appending over committed entries (committed " << committed_ << ")";
  TruncateAndAppendUnstable(ents);
  return LastIndex();
}

void RaftLog::TruncateAndAppendUnstable(const std::vector<Entry>& ents) {
  const uint64_t after = ents.front().index();
  if (after == unstable_offset_ + unstable_.size()) {
    unstable_.insert(unstable_.end(), ents.begin(), ents.end());
  } else if (after <= unstable_offset_) {
    // Replaces the whole unstable part (and hides a stable suffix from `after` on).
    unstable_offset_ = after;
    unstable_ = ents;
  } else {
    unstable_.resize(after - unstable_offset_);
    unstable_.insert(unstable_.end(), ents.begin(), ents.end());
  }
}

uint64_t RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  for (; index > 0; --index) {
    Result<uint64_t> t = Term(index);
    if (!t.ok() || *t <= term) break;
  }
  return index;
}

bool RaftLog::MaybeCommit(uint64_t max_index, uint64_t term) {
  if (max_index > committed_ && TermOr0(max_index) == term) {
    CommitTo(max_index);
    return true;
  }
  return false;
}

void RaftLog::CommitTo(uint64_t to) {
  if (to <= committed_) return;  // never decrease the commit index
  CHECK_LE(to, LastIndex()) << "commit index past the log end";
  committed_ = to;
}

void RaftLog::AppliedTo(uint64_t i) {
  if (i == 0) return;
  CHECK(i >= applied_ && i <= committed_)
      << "applied " << i << " outside [" << applied_ << ", " << committed_ << "]";
  applied_ = i;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t term) const {
  return term > LastTerm() || (term == LastTerm() && last_index >= LastIndex());
}

Result<std::vector<Entry>> RaftLog::Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
  CHECK_LE(lo, hi);
  if (lo < FirstIndex()) return CompactedError();
  CHECK_LE(hi, LastIndex() + 1) << "slice past the log end";
  std::vector<Entry> out;
  if (lo == hi) return out;
  if (lo < unstable_offset_) {
    ASSIGN_OR_RETURN(out, Checked(storage_.Entries(lo, std::min(hi, unstable_offset_), max_bytes)));
    if (out.size() < std::min(hi, unstable_offset_) - lo) return out;  // hit the size limit
  }
  if (hi > unstable_offset_) {
    const uint64_t from = std::max(lo, unstable_offset_);
    out.insert(out.end(), unstable_.begin() + static_cast<ptrdiff_t>(from - unstable_offset_),
               unstable_.begin() + static_cast<ptrdiff_t>(hi - unstable_offset_));
  }
  LimitSize(out, max_bytes);
  return out;
}

std::vector<Entry> RaftLog::NextCommittedEntries(uint64_t max_bytes) const {
  const uint64_t lo = std::max(applied_ + 1, FirstIndex());
  if (committed_ + 1 <= lo) return {};
  Result<std::vector<Entry>> ents = Slice(lo, committed_ + 1, max_bytes);
  if (!ents.ok() && !storage_error_.ok()) return {};  // the driver fail-stops the node
  CHECK(ents.ok()) << "committed entries unavailable: " << ents.status();
  return std::move(ents).value();
}

bool RaftLog::HasNextCommittedEntries() const {
  return committed_ + 1 > std::max(applied_ + 1, FirstIndex());
}

void RaftLog::StableTo(uint64_t index, uint64_t term) {
  // Only if the entry is still the one persisted: a newer leader may have replaced it since.
  if (index < unstable_offset_ || index - unstable_offset_ >= unstable_.size()) return;
  if (unstable_[index - unstable_offset_].term() != term) return;
  unstable_.erase(unstable_.begin(),
                  unstable_.begin() + static_cast<ptrdiff_t>(index - unstable_offset_ + 1));
  unstable_offset_ = index + 1;
}

void RaftLog::StableSnapshotTo(uint64_t index) {
  if (unstable_snapshot_ && unstable_snapshot_->metadata().index() == index) {
    unstable_snapshot_.reset();
  }
}

void RaftLog::Restore(const Snapshot& snapshot) {
  const uint64_t index = snapshot.metadata().index();
  CHECK_GE(index, committed_) << "restoring a snapshot older than the commit index";
  committed_ = index;
  unstable_offset_ = index + 1;
  unstable_.clear();
  unstable_snapshot_ = snapshot;
}

void RaftLog::NoteReadFailure(const Status& s) const {
  if (!storage_error_.ok() || IsCompacted(s) || s.code() == Code::kUnavailable) return;
  SIM_PROBE("raft: a storage read failed");
  storage_error_ = s.Annotate("raft: reading the log");
}

Result<Snapshot> RaftLog::GetSnapshot() const {
  if (unstable_snapshot_) return *unstable_snapshot_;
  return Checked(storage_.GetSnapshot());
}

}  // namespace meta::raft
