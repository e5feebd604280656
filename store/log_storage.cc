#include "store/log_storage.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "core/check.h"
#include "core/limits.h"
#include "core/sim_hooks.h"

namespace meta::store {
namespace {

template <class Proto>
Status ParseInto(Proto& out, const std::string& bytes, const char* what) {
  if (!out.ParseFromString(bytes)) return DataLossError(std::string("corrupt ") + what);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<LogStorage>> LogStorage::Load(Engine& engine, GroupId group,
                                                     const raft::ConfState& initial_conf,
                                                     size_t cache_entries) {
  std::unique_ptr<LogStorage> s(new LogStorage(engine, group, cache_entries));
  // Absent records are normal for a new group; any other failure to read one must stop the
  // load (taken for absent, a read error would reset the term, the vote or the membership).
  auto read = [&](StateTag tag) -> Result<std::optional<std::string>> {
    Result<std::string> r = engine.Get(engine.raft_state(), StateKey(group, tag));
    if (r.ok()) return std::optional<std::string>(std::move(*r));
    if (r.status().code() == Code::kNotFound) return std::optional<std::string>();
    return r.status().Annotate("group " + std::to_string(group) + ": loading the Raft state");
  };
  ASSIGN_OR_RETURN(std::optional<std::string> hs, read(StateTag::kHardState));
  if (hs) RETURN_IF_ERROR(ParseInto(s->hard_state_, *hs, "hard state"));
  // The conf state is kept with the applied index (see SetConfState).
  Result<std::string> conf = engine.GetApplyState(group, StateTag::kConfState);
  if (conf.ok()) {
    RETURN_IF_ERROR(ParseInto(s->conf_state_, *conf, "conf state"));
  } else if (conf.status().code() == Code::kNotFound) {
    rocksdb::WriteBatch batch;
    s->SetConfState(batch, initial_conf);
    RETURN_IF_ERROR(engine.Write(batch, /*sync=*/true));
  } else {
    return conf.status().Annotate("group " + std::to_string(group) + ": loading the conf state");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> snap, read(StateTag::kSnapshot));
  if (snap) {
    raft::SnapshotMetadata meta;
    RETURN_IF_ERROR(ParseInto(meta, *snap, "snapshot metadata"));
    s->snapshot_index_ = meta.index();
    s->snapshot_term_ = meta.term();
  }
  RETURN_IF_ERROR(s->LoadTail());
  // Everything in the snapshot is committed by definition.
  if (s->hard_state_.commit() < s->snapshot_index_) s->hard_state_.set_commit(s->snapshot_index_);
  if (s->hard_state_.commit() > s->last_index_) {
    return DataLossError("group " + std::to_string(group) + ": commit index " +
                         std::to_string(s->hard_state_.commit()) + " outside the log [" +
                         std::to_string(s->snapshot_index_) + ", " +
                         std::to_string(s->last_index_) + "]");
  }
  return s;
}

Status LogStorage::LoadTail() {
  // The last cache_entries_ entries, read backwards from the end of the group's range.
  std::unique_ptr<rocksdb::Iterator> it(
      engine_.db()->NewIterator(rocksdb::ReadOptions(), engine_.raft_log()));
  const std::string lower = LogKey(group_, snapshot_index_ + 1);
  last_index_ = snapshot_index_;
  for (it->SeekForPrev(LogKey(group_, UINT64_MAX)); it->Valid(); it->Prev()) {
    if (it->key().compare(rocksdb::Slice(lower)) < 0) break;
    raft::Entry e;
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return DataLossError("corrupt log entry in group " + std::to_string(group_));
    }
    if (last_index_ == snapshot_index_) last_index_ = e.index();
    if (!tail_.empty() && e.index() + 1 != tail_.front().index()) {
      return DataLossError("gap in the log of group " + std::to_string(group_) + " before index " +
                           std::to_string(tail_.front().index()));
    }
    // Terms never decrease along a Raft log: a later entry of an older term is a leftover of a
    // suffix that should have been truncated (or corruption).
    if (!tail_.empty() && e.term() > tail_.front().term()) {
      return DataLossError("the log of group " + std::to_string(group_) + " goes back from term " +
                           std::to_string(e.term()) + " to " +
                           std::to_string(tail_.front().term()) + " at index " +
                           std::to_string(tail_.front().index()));
    }
    tail_.push_front(std::move(e));
    if (tail_.size() >= cache_entries_) break;
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading the raft log"));
  return Status::Ok();
}

Status LogStorage::CheckApplied(uint64_t applied) {
  if (applied < snapshot_index_ || applied > last_index_) {
    return DataLossError("group " + std::to_string(group_) + ": applied index " +
                         std::to_string(applied) + " outside the log [" +
                         std::to_string(snapshot_index_) + ", " + std::to_string(last_index_) +
                         "]: the applied state and the log are not of one history");
  }
  if (applied > hard_state_.commit()) hard_state_.set_commit(applied);
  return Status::Ok();
}

Result<raft::InitialState> LogStorage::GetInitialState() const {
  return raft::InitialState{hard_state_, conf_state_};
}

Result<raft::Entry> LogStorage::ReadEntry(uint64_t index) const {
  SIM_PROBE("store: a log entry read from RocksDB");
  ASSIGN_OR_RETURN(std::string bytes, engine_.Get(engine_.raft_log(), LogKey(group_, index)));
  raft::Entry e;
  if (!e.ParseFromString(bytes)) return DataLossError("corrupt log entry " + std::to_string(index));
  return e;
}

Result<std::vector<raft::Entry>> LogStorage::Entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_bytes) const {
  if (lo <= snapshot_index_) return raft::CompactedError();
  if (hi > last_index_ + 1 || lo > hi) {
    return OutOfRangeError("entries [" + std::to_string(lo) + ", " + std::to_string(hi) +
                           ") outside the log (last " + std::to_string(last_index_) + ")");
  }
  std::vector<raft::Entry> out;
  uint64_t bytes = 0;
  const uint64_t cache_lo = tail_.empty() ? last_index_ + 1 : tail_.front().index();
  for (uint64_t i = lo; i < hi; ++i) {
    if (i >= cache_lo) {
      out.push_back(tail_[i - cache_lo]);
    } else {
      ASSIGN_OR_RETURN(raft::Entry e, ReadEntry(i));
      out.push_back(std::move(e));
    }
    bytes += raft::EntrySize(out.back());
    if (bytes > max_bytes && out.size() > 1) {
      out.pop_back();
      break;
    }
  }
  return out;
}

Result<uint64_t> LogStorage::Term(uint64_t i) const {
  if (i == snapshot_index_) return snapshot_term_;
  if (i < snapshot_index_) return raft::CompactedError();
  if (i > last_index_) return UnavailableError("index past the log end");
  if (!tail_.empty() && i >= tail_.front().index()) return tail_[i - tail_.front().index()].term();
  ASSIGN_OR_RETURN(raft::Entry e, ReadEntry(i));
  return e.term();
}

Result<raft::Snapshot> LogStorage::GetSnapshot() const {
  if (!snapshot_provider_) return raft::SnapshotTemporarilyUnavailableError();
  return snapshot_provider_();
}

void LogStorage::DeleteEntries(rocksdb::WriteBatch& batch, uint64_t lo, uint64_t hi) const {
  // Point deletes, not a range deletion: RocksDB 7 re-fragments every range tombstone of a memtable
  // on each read of it, so one per compaction made log reads slower and slower until a flush. The
  // log's entries are exactly [snapshot index + 1, last index], so the range is known.
  for (uint64_t i = lo; i <= hi; ++i) batch.Delete(engine_.raft_log(), LogKey(group_, i));
}

void LogStorage::Append(rocksdb::WriteBatch& batch, const std::vector<raft::Entry>& entries) {
  if (entries.empty()) return;
  const uint64_t first = entries.front().index();
  CHECK_GT(first, snapshot_index_) << "appending into the snapshot";
  CHECK_LE(first, last_index_ + 1) << "gap before appended entries";
  if (first <= last_index_) {
    // A new leader overwrote our suffix: drop it on disk and in memory.
    DeleteEntries(batch, first, last_index_);
    while (!tail_.empty() && tail_.back().index() >= first) tail_.pop_back();
  }
  for (const raft::Entry& e : entries) {
    batch.Put(engine_.raft_log(), LogKey(group_, e.index()), e.SerializeAsString());
    if (!tail_.empty() && tail_.back().index() + 1 != e.index()) tail_.clear();
    tail_.push_back(e);
  }
  while (tail_.size() > cache_entries_) tail_.pop_front();
  last_index_ = entries.back().index();
}

void LogStorage::SetHardState(rocksdb::WriteBatch& batch, const raft::HardState& hs) {
  batch.Put(engine_.raft_state(), StateKey(group_, StateTag::kHardState), hs.SerializeAsString());
  hard_state_ = hs;
}

void LogStorage::SetConfState(rocksdb::WriteBatch& batch, const raft::ConfState& cs) {
  batch.Put(engine_.data(TypeOf(group_)), ApplyStateKey(group_, StateTag::kConfState),
            cs.SerializeAsString());
  conf_state_ = cs;
}

void LogStorage::ApplySnapshot(rocksdb::WriteBatch& batch, const raft::SnapshotMetadata& meta) {
  DeleteEntries(batch, snapshot_index_ + 1, last_index_);
  batch.Put(engine_.raft_state(), StateKey(group_, StateTag::kSnapshot), meta.SerializeAsString());
  SetConfState(batch, meta.conf_state());
  snapshot_index_ = meta.index();
  snapshot_term_ = meta.term();
  last_index_ = meta.index();
  tail_.clear();
}

Status LogStorage::Compact(uint64_t index) {
  if (index <= snapshot_index_) return Status::Ok();
  if (index > last_index_) return OutOfRangeError("compacting past the log end");
  ASSIGN_OR_RETURN(uint64_t term, Term(index));
  raft::SnapshotMetadata meta;
  meta.set_index(index);
  meta.set_term(term);
  rocksdb::WriteBatch batch;
  batch.Put(engine_.raft_state(), StateKey(group_, StateTag::kSnapshot), meta.SerializeAsString());
  DeleteEntries(batch, snapshot_index_ + 1, index);
  RETURN_IF_ERROR(engine_.Write(batch, /*sync=*/true));
  snapshot_index_ = index;
  snapshot_term_ = term;
  while (!tail_.empty() && tail_.front().index() <= index) tail_.pop_front();
  return Status::Ok();
}

}  // namespace meta::store
