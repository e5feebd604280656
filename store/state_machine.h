// The replicated state machine of one group. Apply is deterministic on every replica: it reads no
// clock and no randomness (times come from the proposing leader inside the command), and it writes
// the business data and the applied index in one WriteBatch, so what a crash leaves is the state
// at some applied index, from which a restart re-applies the rest of the Raft log: no entry is
// applied twice onto its own effects and none is skipped. A false precondition (CAS mismatch,
// missing key, existing session) is a result for the proposer; only an I/O failure is an error (and
// the node fail-stops on it).
//
// Commands are dispatched by type through a route table (DataRoute): adding a command is one
// handler function and one table row.
#pragma once

#include <rocksdb/write_batch.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "proto/store.pb.h"
#include "raft/storage.h"
#include "store/cache_manager.h"
#include "store/engine.h"

namespace meta::store {

struct StateMachineOptions {
  size_t cache_bytes = 64 << 20;  // CacheManager bound (KV values)
  size_t max_client_records = 100000;
  // Proposal ids remembered per origin node, to apply a duplicated proposal only once.
  size_t proposal_window = 1024;
  int64_t client_record_ttl_ns = int64_t{3600} * 1000 * 1000 * 1000;
};

class StateMachine {
 public:
  StateMachine(Engine& engine, GroupId group, const StateMachineOptions& options);

  // Reads the applied index and the dedup table.
  Status Load();
  uint64_t applied_index() const { return applied_index_; }
  // The applied index a crash now would leave (Flush writes without the WAL): what the Raft log
  // must keep entries after.
  Result<uint64_t> DurableAppliedIndex() { return ReadAppliedIndex(/*durable=*/true); }
  GroupId group() const { return group_; }

  // Applies one committed entry at its index: a command for ENTRY_NORMAL with data; an empty
  // entry (a leader's no-op) or a conf change only advances the applied index. `also` may add
  // writes to the same batch (the node adds the new conf state). Entries at or below the applied
  // index are skipped (idempotent replay after a crash).
  //
  // Stage does that without writing: later staged entries read its effects, and Flush writes
  // every staged entry and the applied index as ONE RocksDB batch, atomic and without the WAL (see
  // Flush). Apply = Stage + Flush. Nothing staged is visible to
  // reads or counted in applied_index() before Flush; a failed Flush must fail-stop the node.
  Result<storepb::ApplyResult> Apply(
      const raft::Entry& entry, const std::function<void(rocksdb::WriteBatch&)>& also = nullptr);
  // `proposer`, if given, receives the command's (origin node, proposal id), or zeros, so that
  // the caller can find the writer to answer without parsing the entry again.
  struct Proposer {
    uint64_t origin = 0;
    uint64_t proposal_id = 0;
  };
  Result<storepb::ApplyResult> Stage(
      const raft::Entry& entry, const std::function<void(rocksdb::WriteBatch&)>& also = nullptr,
      Proposer* proposer = nullptr);
  Status Flush();
  bool staged() const { return staged_index_ != applied_index_; }

  // A snapshot of the group at the applied index: every key of its data range, read from one
  // RocksDB snapshot.
  Result<raft::Snapshot> BuildSnapshot(uint64_t term, const raft::ConfState& conf);
  // Adds to `batch` the install of `snap`: the group's range deleted by one range tombstone, its
  // pairs written, applied index set. Deleting only the keys a read sees now would not do: a key
  // whose deletion was applied without the WAL would come back from the last flush after a crash.
  // The tombstone slows reads of the memtable holding it, so the caller should start a flush once
  // the batch is written. Call OnSnapshotInstalled then.
  Status InstallSnapshot(rocksdb::WriteBatch& batch, const raft::Snapshot& snap);
  Status OnSnapshotInstalled(uint64_t index);

  // Local reads of applied state (the node adds ReadIndex for linearizability).
  Result<storepb::KvValue> Get(std::string_view key);
  // Up to `limit` keys with `prefix`, after `start_after` (paging), in key order.
  Result<std::vector<std::pair<std::string, storepb::KvValue>>> List(std::string_view prefix,
                                                                     std::string_view start_after,
                                                                     size_t limit);
  Result<uint64_t> GetOffset(std::string_view consumer_group, std::string_view topic,
                             uint32_t partition);
  Result<storepb::StoredSession> GetSession(std::string_view client_id);
  // Up to `limit` sessions after `start_after`, in client-id order.
  Result<std::vector<storepb::StoredSession>> ListSessions(std::string_view start_after,
                                                           size_t limit);
  // Member addresses replicated by MemberUpdate commands (metadata group).
  Result<std::map<uint64_t, std::string>> Members();

  // A digest of the group's whole data range and applied index: equal on converged replicas.
  Result<uint64_t> Digest();
  const CacheManager& cache() const { return cache_; }

 private:
  struct Ctx {
    const storepb::Command& cmd;
    uint64_t index;
    storepb::ApplyResult& result;
  };
  using Handler = Status (StateMachine::*)(Ctx&);

  // Stores `value` at `key` with its history counters advanced from `old`.
  void WriteKv(Ctx& c, const std::string& key, const std::optional<storepb::KvValue>& old,
               const std::string& value);
  Status ApplyKvPut(Ctx& c);
  Status ApplyKvDelete(Ctx& c);
  Status ApplyKvCas(Ctx& c);
  Status ApplyOffsetCommit(Ctx& c);
  Status ApplySessionBatch(Ctx& c);
  Status ApplyMemberUpdate(Ctx& c);
  static Handler RouteOf(storepb::Command::OpCase op);
  Result<uint64_t> ReadAppliedIndex(bool durable);

  // Handlers write data through these, and read through ReadStaged/ReadKv, so that an entry sees
  // the entries staged before it.
  void StagePut(const std::string& key, std::string value);
  void StageDelete(const std::string& key);
  Result<std::optional<std::string>> ReadStaged(const std::string& key);
  // A KV value: cache, then RocksDB; with `staged`, what this batch staged comes first.
  Result<std::optional<storepb::KvValue>> ReadKv(const std::string& key, bool staged = true);
  void PutClientRecord(uint64_t client_id, storepb::ClientRecord rec);
  std::string OffsetKey(std::string_view consumer_group, std::string_view topic,
                        uint32_t partition) const;
  rocksdb::ColumnFamilyHandle* cf();

  Engine& engine_;
  GroupId group_;
  StateMachineOptions options_;
  uint64_t applied_index_ = 0;  // flushed
  uint64_t staged_index_ = 0;   // staged, >= applied_index_
  rocksdb::WriteBatch staged_batch_;
  // Data key -> value (nullopt: deleted), written to staged_batch_ in key order by Flush: sorted
  // inserts let RocksDB's memtable skiplist start each search where the previous one ended, and a
  // key written twice in a turn is written once.
  std::map<std::string, std::optional<std::string>> staged_;
  std::vector<std::pair<std::string, std::optional<storepb::KvValue>>> staged_cache_;
  CacheManager cache_;
  // A proposal seen before (a duplicated or re-forwarded message) is applied once: for commands
  // without a client id (those with one have their dedup record), the last `proposal_window` ids
  // of each origin node are remembered, persisted and in snapshots.
  bool SeenProposal(uint64_t origin, uint64_t id) const;
  void RecordProposal(uint64_t origin, uint64_t id);
  struct Window {
    std::deque<uint64_t> order;
    std::unordered_set<uint64_t> ids;
    uint64_t recorded = 0;  // ids ever recorded: the next one's row is slot recorded % window
  };
  std::map<uint64_t, Window> proposals_;

  // Dedup table (Raft thesis §6.3), bounded: the oldest by last use go first.
  std::map<uint64_t, storepb::ClientRecord> clients_;
  std::set<std::pair<int64_t, uint64_t>> clients_by_time_;
};

}  // namespace meta::store
