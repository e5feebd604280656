#include "store/engine.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "core/check.h"
#include "core/key_codec.h"

namespace meta::store {
namespace {

const char* const kCfNames[] = {"default", "raft_log", "raft_state", "metadata", "offset", "data"};

}  // namespace

const char* GroupTypeName(GroupType t) {
  switch (t) {
    case GroupType::kMetadata:
      return "metadata";
    case GroupType::kOffset:
      return "offset";
    case GroupType::kData:
      return "data";
  }
  return "?";
}

GroupType TypeOf(GroupId group) {
  if (group >= 200) return GroupType::kData;
  if (group >= 100) return GroupType::kOffset;
  return GroupType::kMetadata;
}

std::string GroupPrefix(GroupId group) { return BigEndian64(group); }

std::string LogKey(GroupId group, uint64_t index) {
  std::string key = BigEndian64(group);
  AppendBigEndian64(key, index);
  return key;
}

std::string StateKey(GroupId group, StateTag tag) {
  std::string key = BigEndian64(group);
  key.push_back(static_cast<char>(tag));
  return key;
}

std::string ApplyStateKey(GroupId group, StateTag tag) {
  std::string key(1, '\xff');
  AppendBigEndian64(key, group);
  key.push_back(static_cast<char>(tag));
  return key;
}

std::string DataKey(GroupId group, Space space, std::string_view k) {
  std::string key = BigEndian64(group);
  key.push_back(static_cast<char>(space));
  key.append(k);
  return key;
}

Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return Status::Ok();
  std::string m(context);
  m += ": ";
  m += s.ToString();
  if (s.IsNotFound()) return NotFoundError(std::move(m));
  if (s.IsCorruption()) return DataLossError(std::move(m));
  if (s.IsIOError() && s.subcode() == rocksdb::Status::kNoSpace) {
    return ResourceExhaustedError(std::move(m));
  }
  if (s.IsInvalidArgument()) return InvalidArgumentError(std::move(m));
  return InternalError(std::move(m));
}

Result<std::unique_ptr<Engine>> Engine::Open(const StorageEnv& storage,
                                             const EngineOptions& options) {
  std::unique_ptr<Engine> engine(new Engine());
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = options.create_if_missing;
  // A close is a crash as far as data is concerned: everything acknowledged is in the synced
  // WAL as Raft log entries (applied state is replayed from them), so recovery never depends on
  // a clean shutdown (and the simulator can test exactly that).
  db_options.avoid_flush_during_shutdown = true;
  // Nor does an open write the replayed WAL out as level-0 tables: restarts stay fast (the WAL is
  // kept until the memtables are flushed in the normal course).
  db_options.avoid_flush_during_recovery = true;
  // WAL recovery stays point-in-time (RocksDB's default): replay stops at the first bad record.
  // Whatever follows a torn or missing page was never synced (a synced write syncs every live
  // WAL), so that is exactly the unsynced suffix. Refusing the open instead would keep a node
  // down after an ordinary power loss; the price is that bit rot inside synced WAL data is
  // silently cut there too.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db_options.max_background_jobs = 2;
  db_options.max_total_wal_size = options.max_wal_bytes;
  if (storage.rocksdb_env) {
    engine->env_ = storage.rocksdb_env;
    db_options.max_file_opening_threads = 1;  // no threads of RocksDB's own (core/env.h)
  } else if (storage.file_system) {
    engine->env_ = rocksdb::NewCompositeEnv(storage.file_system);
  }
  if (engine->env_) db_options.env = engine->env_.get();
  rocksdb::ColumnFamilyOptions cf_options;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  if (options.bloom_bits_per_key > 0) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(options.bloom_bits_per_key));
  }
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // By Cf; the default and raft_state column families keep RocksDB's default.
  const size_t memtable_bytes[kCfCount] = {
      cf_options.write_buffer_size,    options.log_memtable_bytes,    cf_options.write_buffer_size,
      options.metadata_memtable_bytes, options.offset_memtable_bytes, options.data_memtable_bytes};
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (int i = 0; i < kCfCount; ++i) {
    cfs.emplace_back(kCfNames[i], cf_options);
    rocksdb::ColumnFamilyOptions& o = cfs.back().options;
    o.write_buffer_size = memtable_bytes[i];
    o.target_file_size_base = memtable_bytes[i];
    o.max_bytes_for_level_base = uint64_t{4} * memtable_bytes[i];
    if (i == kData && options.data_universal_compaction) {
      o.compaction_style = rocksdb::kCompactionStyleUniversal;
    }
    if (storage.rocksdb_env) {
      // Background jobs run on the caller's loop (the simulator): a write that RocksDB stops
      // until a flush or compaction is done would wait for ever, since that job can only run
      // after the write returns. So nothing stops writes (a slowdown only skips the simulated
      // clock forward). A stop was seen there: a flush the node started and one a WAL switch
      // started within one turn left two immutable memtables.
      o.max_write_buffer_number = 64;
      o.level0_stop_writes_trigger = 1 << 30;
      o.hard_pending_compaction_bytes_limit = 0;
    }
  }
  rocksdb::DB* db = nullptr;
  RETURN_IF_ERROR(
      FromRocks(rocksdb::DB::Open(db_options, storage.data_dir, cfs, &engine->handles_, &db),
                "opening RocksDB at '" + storage.data_dir + "'"));
  engine->db_.reset(db);
  CHECK_EQ(engine->handles_.size(), static_cast<size_t>(kCfCount));
  return engine;
}

Engine::~Engine() {
  if (!db_) return;
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  db_->Close().PermitUncheckedError();
  db_.reset();
}

rocksdb::ColumnFamilyHandle* Engine::data(GroupType type) {
  switch (type) {
    case GroupType::kMetadata:
      return handles_[kMetadata];
    case GroupType::kOffset:
      return handles_[kOffset];
    case GroupType::kData:
      return handles_[kData];
  }
  return nullptr;
}

Status Engine::Write(rocksdb::WriteBatch& batch, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  if (sync) ++syncs_;
  return FromRocks(db_->Write(wo, &batch), "writing a batch");
}

Status Engine::WriteUnlogged(rocksdb::WriteBatch& batch) {
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  return FromRocks(db_->Write(wo, &batch), "writing a batch");
}

namespace {

Result<std::string> GetWith(rocksdb::DB& db, const rocksdb::ReadOptions& ro,
                            rocksdb::ColumnFamilyHandle* cf, std::string_view key) {
  std::string value;
  rocksdb::Status s = db.Get(ro, cf, rocksdb::Slice(key), &value);
  if (s.IsNotFound()) return NotFoundError("key not found");
  RETURN_IF_ERROR(FromRocks(s, "reading a key"));
  return value;
}

}  // namespace

Result<std::string> Engine::Get(rocksdb::ColumnFamilyHandle* cf, std::string_view key) {
  return GetWith(*db_, rocksdb::ReadOptions(), cf, key);
}

Result<std::string> Engine::GetDurable(rocksdb::ColumnFamilyHandle* cf, std::string_view key) {
  rocksdb::ReadOptions ro;
  ro.read_tier = rocksdb::kPersistedTier;
  return GetWith(*db_, ro, cf, key);
}

Result<std::string> Engine::GetApplyState(GroupId group, StateTag tag, bool durable) {
  rocksdb::ColumnFamilyHandle* cf = data(TypeOf(group));
  const std::string key = ApplyStateKey(group, tag);
  Result<std::string> r = durable ? GetDurable(cf, key) : Get(cf, key);
  if (r.ok() || r.status().code() != Code::kNotFound) return r;
  return Get(raft_state(), StateKey(group, tag));
}

Result<bool> Engine::StartFlush(rocksdb::ColumnFamilyHandle* cf) {
  uint64_t immutable = 0;
  if (db_->GetIntProperty(cf, rocksdb::DB::Properties::kNumImmutableMemTable, &immutable) &&
      immutable > 0) {
    return false;
  }
  rocksdb::FlushOptions fo;
  fo.wait = false;
  fo.allow_write_stall = true;  // else it may wait for a stall to clear
  RETURN_IF_ERROR(FromRocks(db_->Flush(fo, cf), "starting a flush"));
  return true;
}

Status Engine::FlushAppliedState() {
  return FromRocks(db_->Flush(rocksdb::FlushOptions(),
                              {handles_[kMetadata], handles_[kOffset], handles_[kData]}),
                   "flushing applied state");
}

Status Engine::CheckIdentity(std::string_view cluster_name, NodeId node_id) {
  std::string want = BigEndian64(node_id);  // then the cluster name
  want += cluster_name;
  const std::string key = "identity";
  Result<std::string> have = Get(raft_state(), key);
  if (have.ok()) {
    if (*have == want) return Status::Ok();
    if (std::optional<uint64_t> id = ReadBigEndian64(*have)) {
      return FailedPreconditionError("the data directory belongs to node " + std::to_string(*id) +
                                     " of cluster '" + have->substr(8) + "', not node " +
                                     std::to_string(node_id) + " of cluster '" +
                                     std::string(cluster_name) + "'");
    }
    return DataLossError("the data directory's identity record is corrupt");
  }
  if (have.status().code() != Code::kNotFound) return have.status();
  rocksdb::WriteBatch batch;
  batch.Put(raft_state(), key, want);
  return Write(batch, /*sync=*/true);
}

}  // namespace meta::store
