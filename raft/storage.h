// Raft's read-only view of stable storage. The caller persists what a Ready asks for and only then
// calls Advance; Raft reads back through this interface. Implementations: MemoryStorage (tests and
// simulation of Raft alone) and the RocksDB log storage in store/.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "proto/raft.pb.h"

namespace meta::raft {

using raftpb::ConfState;
using raftpb::Entry;
using raftpb::HardState;
using raftpb::Message;
using raftpb::Snapshot;
using raftpb::SnapshotMetadata;

// Entries below FirstIndex() were compacted into a snapshot: OUT_OF_RANGE with this message.
Status CompactedError();
bool IsCompacted(const Status& s);
// The snapshot is being built; try later: UNAVAILABLE.
Status SnapshotTemporarilyUnavailableError();

struct InitialState {
  HardState hard_state;
  ConfState conf_state;
};

class Storage {
 public:
  virtual ~Storage() = default;
  virtual Result<InitialState> GetInitialState() const = 0;
  // Entries [lo, hi), at most `max_bytes` in total but always at least one if any exist.
  virtual Result<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const = 0;
  // Term of entry `i`, for i in [FirstIndex()-1, LastIndex()].
  virtual Result<uint64_t> Term(uint64_t i) const = 0;
  virtual uint64_t FirstIndex() const = 0;
  virtual uint64_t LastIndex() const = 0;
  virtual Result<Snapshot> GetSnapshot() const = 0;
};

// Storage in memory, with the write side the driver uses after a Ready. Index 0 of `entries_` is a
// dummy holding the index and term of the last compacted entry (or the snapshot's).
class MemoryStorage final : public Storage {
 public:
  MemoryStorage();

  Result<InitialState> GetInitialState() const override;
  Result<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes) const override;
  Result<uint64_t> Term(uint64_t i) const override;
  uint64_t FirstIndex() const override;
  uint64_t LastIndex() const override;
  Result<Snapshot> GetSnapshot() const override;

  void SetHardState(const HardState& hs) { hard_state_ = hs; }
  const HardState& hard_state() const { return hard_state_; }
  void SetConfState(const ConfState& cs) { conf_state_ = cs; }
  // Replaces everything with the snapshot. FAILED_PRECONDITION if it is older than ours.
  Status ApplySnapshot(const Snapshot& snapshot);
  // Appends entries, truncating any conflicting suffix first.
  Status Append(const std::vector<Entry>& entries);
  // Builds a snapshot at `index` (<= last index) holding `data`.
  Result<Snapshot> CreateSnapshot(uint64_t index, const ConfState& cs, std::string data);
  // Discards entries before `compact_index`.
  Status Compact(uint64_t compact_index);

 private:
  HardState hard_state_;
  ConfState conf_state_;
  Snapshot snapshot_;
  std::vector<Entry> entries_;
};

uint64_t EntrySize(const Entry& e);
// Keeps the longest prefix within `max_bytes`, but at least one entry.
void LimitSize(std::vector<Entry>& entries, uint64_t max_bytes);

}  // namespace meta::raft
