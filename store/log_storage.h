// Raft log storage of one group on the node's RocksDB: raft::Storage for reads, plus the write
// side the node driver uses while persisting a Ready. The recent tail of the log is kept in memory;
// older entries are read from RocksDB.
//
// Writes go into the caller's WriteBatch (all groups of one loop turn share one batch and one
// fsync) and update the in-memory view at once: if that batch then fails to write, the node must
// fail-stop (it does: Node CHECKs), so memory never runs ahead of a disk that is still in use.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>

#include "core/limits.h"
#include "raft/storage.h"
#include "store/engine.h"

namespace rocksdb {
class WriteBatch;
}

namespace meta::store {

class LogStorage final : public raft::Storage {
 public:
  // Loads the group's persisted state; a group never seen before starts with `initial_conf`
  // (written right away, so a restart sees the same membership). The newest `cache_entries`
  // entries (at least one) are kept in memory.
  static Result<std::unique_ptr<LogStorage>> Load(Engine& engine, GroupId group,
                                                  const raft::ConfState& initial_conf,
                                                  size_t cache_entries = kLogTailCacheEntries);

  Result<raft::InitialState> GetInitialState() const override;
  Result<std::vector<raft::Entry>> Entries(uint64_t lo, uint64_t hi,
                                           uint64_t max_bytes) const override;
  Result<uint64_t> Term(uint64_t i) const override;
  uint64_t FirstIndex() const override { return snapshot_index_ + 1; }
  uint64_t LastIndex() const override { return last_index_; }
  // Built on demand from the state machine by the provider the node installs.
  Result<raft::Snapshot> GetSnapshot() const override;
  void SetSnapshotProvider(std::function<Result<raft::Snapshot>()> provider) {
    snapshot_provider_ = std::move(provider);
  }

  // Write side.
  void Append(rocksdb::WriteBatch& batch, const std::vector<raft::Entry>& entries);
  void SetHardState(rocksdb::WriteBatch& batch, const raft::HardState& hs);
  // The conf state goes with the applied index (ApplyStateKey), so that after a crash it is the
  // configuration at the applied index a restart resumes from. Apply writes both without the WAL;
  // a new group and ApplySnapshot write it with the WAL.
  void SetConfState(rocksdb::WriteBatch& batch, const raft::ConfState& cs);
  // Replaces the whole log with a received snapshot (its data is installed by the state machine
  // into the same batch).
  void ApplySnapshot(rocksdb::WriteBatch& batch, const raft::SnapshotMetadata& meta);
  // Drops entries up to `index` (<= the durable applied index) after recording (index, its term)
  // as the log's base. Writes its own batch.
  Status Compact(uint64_t index);

  // Checks a group's applied index at load against the log: the log must hold every entry after
  // it (DATA_LOSS if not). Raises the commit index to it: a crash can keep applied state that a
  // flush made durable while losing the commit index from the WAL's unsynced tail, and whatever
  // was applied was committed.
  Status CheckApplied(uint64_t applied);

  const raft::HardState& hard_state() const { return hard_state_; }
  const raft::ConfState& conf_state() const { return conf_state_; }
  GroupId group() const { return group_; }

 private:
  LogStorage(Engine& engine, GroupId group, size_t cache_entries)
      : engine_(engine), group_(group), cache_entries_(std::max<size_t>(cache_entries, 1)) {}
  Status LoadTail();
  Result<raft::Entry> ReadEntry(uint64_t index) const;
  // Deletes entries [lo, hi] (none if lo > hi).
  void DeleteEntries(rocksdb::WriteBatch& batch, uint64_t lo, uint64_t hi) const;

  Engine& engine_;
  GroupId group_;
  size_t cache_entries_;
  raft::HardState hard_state_;
  raft::ConfState conf_state_;
  uint64_t snapshot_index_ = 0;
  uint64_t snapshot_term_ = 0;
  uint64_t last_index_ = 0;
  std::deque<raft::Entry> tail_;  // contiguous, ends at last_index_
  std::function<Result<raft::Snapshot>()> snapshot_provider_;
};

}  // namespace meta::store
