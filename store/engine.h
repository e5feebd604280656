// One RocksDB per node (DESIGN.md §4). Column families (keys big-endian):
//   raft_log    group(8) index(8)       -> raftpb::Entry (one range per group)
//   raft_state  group(8) tag(1)         -> hard state, snapshot metadata (older data directories
//                                          also hold the conf state and applied index here)
//   metadata / offset / data            -> the groups of that type:
//               group(8) space(1) key   -> business data
//               0xff group(8) tag(1)    -> applied index, conf state at it (ApplyStateKey)
// Apply writes the last two without the WAL (StateMachine::Flush): the Raft log is the record of
// what was applied, so a crash may lose only applied state that the log can replay. (Until it has,
// a restarted member's serializable reads may show state as old as its last flush.) Records of
// the older layout are read, never written: a data directory cannot go back to it.
// RocksDB is opened on the Env's file system (the simulator's in-memory one, or the real disk).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.h"
#include "core/status.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
class Env;
class Status;
}  // namespace rocksdb

namespace meta::store {

using GroupId = uint64_t;
enum class GroupType { kMetadata, kOffset, kData };
const char* GroupTypeName(GroupType t);

inline constexpr GroupId kMetadataGroup = 1;
inline constexpr GroupId OffsetGroup(uint32_t i) { return 100 + i; }
inline constexpr GroupId DataGroup(uint32_t i) { return 200 + i; }
GroupType TypeOf(GroupId group);

// Keys.
std::string GroupPrefix(GroupId group);
std::string LogKey(GroupId group, uint64_t index);
enum class StateTag : char {
  kHardState = 'h',
  kConfState = 'c',
  kSnapshot = 's',
  kApplied = 'a',
};
std::string StateKey(GroupId group, StateTag tag);
// A group's applied index (kApplied) or conf state at it (kConfState), in its type's column
// family, outside every group's data range.
std::string ApplyStateKey(GroupId group, StateTag tag);
// Subspaces of a group's data range.
enum class Space : char {
  kKv = 'k',
  kOffset = 'o',
  kSession = 's',
  kClients = 'd',    // exactly-once records of clients (client id -> last sequence, result)
  kProposals = 'p',  // recently applied proposal ids per origin node (duplicate proposals)
  kMembers = 'm',    // member id (big-endian) -> its address (metadata group)
};
std::string DataKey(GroupId group, Space space, std::string_view key);

struct EngineOptions {
  bool create_if_missing = true;
  size_t block_cache_bytes = 64 << 20;
  // Once the write-ahead logs hold this much, the memtables they back are flushed to table files.
  // It bounds the disk the WAL takes and what a restart replays: the Raft state column family
  // takes a few bytes per turn, so without the bound its memtable would keep every WAL file alive
  // up to RocksDB's default (0: four times the memtables' total size, about 2 GB here). The
  // simulator makes it small, so that flushes and compactions happen within a short run.
  uint64_t max_wal_bytes = 256 << 20;
  // Bloom filter bits per key in table files (0: none). A point read of an absent key (a create,
  // the first write of a key, a miss) then skips every file the filter rules out instead of
  // searching its index and reading a block; ~10 bits give a ~1 % false-positive rate.
  int bloom_bits_per_key = 10;
  // Memtable size of each group type's column family and of the Raft log's. A memtable is
  // a skiplist holding every version written since its last flush, and an insert's cost is a walk
  // down it whose cache misses grow with its length. The metadata and offset groups mostly
  // rewrite a working set of small records (KV values, consumer offsets, clients' exactly-once
  // records): a small memtable keeps that walk short and drops the stale versions at each flush.
  // The data groups take sessions and messages as new keys in bulk, which a big memtable keeps
  // out of level-0 compactions longer; the Raft log's entries are deleted soon after they are
  // written, mostly before a flush of a big memtable. Each column family's level 1 is sized to
  // four memtables (RocksDB's default ratio) and its table files to one. docs/BENCHMARKS.md has
  // the measurements.
  size_t metadata_memtable_bytes = 4 << 20;
  size_t offset_memtable_bytes = 4 << 20;
  size_t data_memtable_bytes = 64 << 20;
  size_t log_memtable_bytes = 64 << 20;
  // Universal compaction for the data groups' column family: it takes new keys in bulk (sessions,
  // messages), which leveled compaction rewrites level after level. Universal merges whole
  // sorted runs instead: less CPU and fewer bytes written per key, at the price of up to about
  // three times the live data on disk before a full merge (RocksDB's default size-amplification
  // limit), and of point reads checking more files (bloom filters skip most). A column family
  // written with leveled compaction opens with it (each level is a sorted run). docs/BENCHMARKS.md
  // has the measurements.
  bool data_universal_compaction = true;
};

Status FromRocks(const rocksdb::Status& s, std::string_view context);

class Engine {
 public:
  // Opens (or creates) the node's RocksDB in storage.data_dir on storage.file_system.
  static Result<std::unique_ptr<Engine>> Open(const StorageEnv& storage,
                                              const EngineOptions& options);
  // Closes without flushing memtables, as a crash would: the WAL and the Raft log have everything.
  ~Engine();

  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* raft_log() { return handles_[kRaftLog]; }
  rocksdb::ColumnFamilyHandle* raft_state() { return handles_[kRaftState]; }
  rocksdb::ColumnFamilyHandle* data(GroupType type);

  // Writes atomically; `sync` fsyncs the WAL before returning.
  Status Write(rocksdb::WriteBatch& batch, bool sync);
  // Writes atomically into the memtables only: a crash loses it unless a flush of each column
  // family it touches completed first. A column family written this way may take WAL writes only
  // of state that replaces everything the lost writes could have touched (a snapshot install),
  // since recovery replays the WAL's writes over the last flush without the unlogged ones.
  Status WriteUnlogged(rocksdb::WriteBatch& batch);
  // NOT_FOUND when absent.
  Result<std::string> Get(rocksdb::ColumnFamilyHandle* cf, std::string_view key);
  // A group's ApplyStateKey record, or that of the older layout in raft_state (written with the
  // WAL, so durable). `durable`: what a crash now would leave. Once anything was written
  // unlogged, memtables are skipped (also for what they hold from the WAL, which only makes the
  // answer older).
  Result<std::string> GetApplyState(GroupId group, StateTag tag, bool durable = false);
  // Starts a flush of `cf`'s memtable and returns without waiting (RocksDB's background jobs run
  // on the node's loop in the simulator, so waiting there would never end). Whether it started
  // one: not while a flush of `cf` is under way, since a second immutable memtable would stop
  // writes (and so the node's loop) until the first is flushed.
  Result<bool> StartFlush(rocksdb::ColumnFamilyHandle* cf);
  // Flushes the groups' column families and waits: for a clean shutdown of a real process only
  // (the Raft log and state are in the WAL anyway).
  Status FlushAppliedState();
  uint64_t syncs() const { return syncs_; }

  // Binds the data directory to one node of one cluster: records (cluster, node) on first use,
  // and afterwards refuses (FAILED_PRECONDITION) to serve any other pair, so a data directory
  // copied or misconfigured into the wrong node can never join the wrong cluster.
  Status CheckIdentity(std::string_view cluster_name, NodeId node_id);

 private:
  Result<std::string> GetDurable(rocksdb::ColumnFamilyHandle* cf, std::string_view key);
  enum Cf { kDefault, kRaftLog, kRaftState, kMetadata, kOffset, kData, kCfCount };
  Engine() = default;

  std::shared_ptr<rocksdb::Env> env_;  // the StorageEnv's, or one over its file system, or null
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  uint64_t syncs_ = 0;
};

}  // namespace meta::store
