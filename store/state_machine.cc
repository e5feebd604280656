#include "store/state_machine.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>

#include "core/check.h"
#include "core/hash.h"
#include "core/key_codec.h"
#include "core/sim_hooks.h"

namespace meta::store {
namespace {

void SetResult(storepb::ApplyResult& r, Code code, std::string message) {
  r.set_code(static_cast<int>(code));
  r.set_message(std::move(message));
}

void AppendLengthPrefixed(std::string& out, std::string_view s) {
  AppendBigEndian64(out, s.size());
  out.append(s);
}

}  // namespace

StateMachine::StateMachine(Engine& engine, GroupId group, const StateMachineOptions& options)
    : engine_(engine), group_(group), options_(options), cache_(options.cache_bytes) {}

rocksdb::ColumnFamilyHandle* StateMachine::cf() { return engine_.data(TypeOf(group_)); }

Result<uint64_t> StateMachine::ReadAppliedIndex(bool durable) {
  Result<std::string> applied = engine_.GetApplyState(group_, StateTag::kApplied, durable);
  if (!applied.ok()) {
    if (applied.status().code() == Code::kNotFound) return uint64_t{0};
    return applied.status().Annotate("group " + std::to_string(group_) + ": the applied index");
  }
  std::optional<uint64_t> v = ReadBigEndian64(*applied);
  if (!v || applied->size() != 8) {
    return DataLossError("corrupt applied index in group " + std::to_string(group_));
  }
  return *v;
}

Status StateMachine::Load() {
  ASSIGN_OR_RETURN(applied_index_, ReadAppliedIndex(/*durable=*/false));
  CHECK(staged_batch_.Count() == 0 && staged_.empty())
      << "group " << group_ << ": loading over staged writes";
  staged_index_ = applied_index_;
  clients_.clear();
  clients_by_time_.clear();
  const std::string prefix = DataKey(group_, Space::kClients, "");
  std::unique_ptr<rocksdb::Iterator> it(engine_.db()->NewIterator(rocksdb::ReadOptions(), cf()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::optional<uint64_t> id = ReadBigEndian64(it->key().ToStringView(), prefix.size());
    storepb::ClientRecord rec;
    if (!id || !rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return DataLossError("corrupt client record in group " + std::to_string(group_));
    }
    clients_by_time_.emplace(rec.last_time_ns(), *id);
    clients_.emplace(*id, std::move(rec));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "loading client records"));
  proposals_.clear();
  // Rows (origin, slot) -> (recorded count, id): rebuild each origin's window oldest first.
  const std::string pprefix = DataKey(group_, Space::kProposals, "");
  std::map<uint64_t, std::vector<std::pair<uint64_t, uint64_t>>> rows;
  it.reset(engine_.db()->NewIterator(rocksdb::ReadOptions(), cf()));
  for (it->Seek(pprefix); it->Valid() && it->key().starts_with(pprefix); it->Next()) {
    // A row of the 0.1.0 layout (one per origin: the whole window as a protobuf) is skipped: the
    // ids it held only guarded against duplicates of proposals long since applied.
    if (it->key().size() == pprefix.size() + 8) continue;
    std::optional<uint64_t> origin = ReadBigEndian64(it->key().ToStringView(), pprefix.size());
    std::optional<uint64_t> count = ReadBigEndian64(it->value().ToStringView(), 0);
    std::optional<uint64_t> id = ReadBigEndian64(it->value().ToStringView(), 8);
    if (!origin || !count || !id || it->value().size() != 16 ||
        it->key().size() != pprefix.size() + 12) {
      return DataLossError("corrupt proposal window row in group " + std::to_string(group_));
    }
    rows[*origin].emplace_back(*count, *id);
  }
  for (auto& [origin, list] : rows) {
    std::sort(list.begin(), list.end());
    Window& window = proposals_[origin];
    size_t skip =
        list.size() > options_.proposal_window ? list.size() - options_.proposal_window : 0;
    for (size_t i = skip; i < list.size(); ++i) {
      window.order.push_back(list[i].second);
      window.ids.insert(list[i].second);
    }
    window.recorded = list.back().first + 1;
  }
  return FromRocks(it->status(), "loading proposal windows");
}

bool StateMachine::SeenProposal(uint64_t origin, uint64_t id) const {
  auto it = proposals_.find(origin);
  return it != proposals_.end() && it->second.ids.count(id) != 0;
}

void StateMachine::RecordProposal(uint64_t origin, uint64_t id) {
  Window& w = proposals_[origin];
  w.order.push_back(id);
  w.ids.insert(id);
  while (w.order.size() > options_.proposal_window) {
    w.ids.erase(w.order.front());
    w.order.pop_front();
  }
  // One small row per slot, overwritten round-robin, so an apply writes 16 bytes however large the
  // window is (rewriting the whole window each time cost more than the command itself).
  uint64_t count = w.recorded++;
  uint32_t slot = static_cast<uint32_t>(count % options_.proposal_window);
  std::string key = BigEndian64(origin);
  for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>(slot >> shift));
  StagePut(DataKey(group_, Space::kProposals, key), BigEndian64(count) + BigEndian64(id));
}

StateMachine::Handler StateMachine::RouteOf(storepb::Command::OpCase op) {
  // DataRoute: one row per command type.
  switch (op) {
    case storepb::Command::kKvPut:
      return &StateMachine::ApplyKvPut;
    case storepb::Command::kKvDelete:
      return &StateMachine::ApplyKvDelete;
    case storepb::Command::kKvCas:
      return &StateMachine::ApplyKvCas;
    case storepb::Command::kOffsetCommit:
      return &StateMachine::ApplyOffsetCommit;
    case storepb::Command::kSessionBatch:
      return &StateMachine::ApplySessionBatch;
    case storepb::Command::kMemberUpdate:
      return &StateMachine::ApplyMemberUpdate;
    case storepb::Command::OP_NOT_SET:
      return nullptr;
  }
  return nullptr;
}

Result<storepb::ApplyResult> StateMachine::Apply(
    const raft::Entry& entry, const std::function<void(rocksdb::WriteBatch&)>& also) {
  ASSIGN_OR_RETURN(storepb::ApplyResult result, Stage(entry, also));
  RETURN_IF_ERROR(Flush());
  return result;
}

Result<storepb::ApplyResult> StateMachine::Stage(
    const raft::Entry& entry, const std::function<void(rocksdb::WriteBatch&)>& also,
    Proposer* proposer) {
  if (proposer) *proposer = Proposer{};
  storepb::ApplyResult result;
  result.set_index(entry.index());
  if (entry.index() <= staged_index_) {
    // Unreachable from Node (it skips what is applied, and stages each entry once); the proposer
    // stays unnamed, so a writer would time out rather than take this for its outcome.
    SetResult(result, Code::kAlreadyExists, "entry already applied");
    return result;
  }
  CHECK_EQ(entry.index(), staged_index_ + 1) << "group " << group_ << ": apply out of order";
  if (entry.type() == raftpb::ENTRY_NORMAL && !entry.data().empty()) {
    storepb::Command cmd;
    Handler handler = nullptr;
    const bool parsed = cmd.ParseFromString(entry.data());
    if (parsed && proposer) *proposer = Proposer{cmd.origin_node(), cmd.proposal_id()};
    if (!parsed) {
      SetResult(result, Code::kInvalidArgument, "command does not parse");
    } else if ((handler = RouteOf(cmd.op_case())) == nullptr) {
      SetResult(result, Code::kInvalidArgument, "command without an operation");
    } else if (cmd.proposal_id() != 0 && SeenProposal(cmd.origin_node(), cmd.proposal_id())) {
      // The same proposal twice (a duplicated message): applied once, this copy is a no-op.
      SetResult(result, Code::kAlreadyExists, "duplicate proposal");
    } else if (auto it = clients_.find(cmd.client_id()); cmd.client_id() != 0 &&
                                                         it != clients_.end() &&
                                                         cmd.sequence() <= it->second.sequence()) {
      // A retry of something already applied: answer as the first time, change nothing.
      if (cmd.sequence() == it->second.sequence()) {
        SIM_PROBE("store: a client's retry answered from its exactly-once record");
        result = it->second.result();
      } else {
        SetResult(result, Code::kFailedPrecondition,
                  "stale sequence " + std::to_string(cmd.sequence()) + " (client " +
                      std::to_string(cmd.client_id()) + " is at " +
                      std::to_string(it->second.sequence()) + ")");
      }
      result.set_index(entry.index());
    } else {
      // A client's (client_id, sequence) already makes a duplicate a no-op (the dedup record
      // answers it), so only commands without one need their proposal id remembered.
      if (cmd.proposal_id() != 0 && cmd.client_id() == 0) {
        RecordProposal(cmd.origin_node(), cmd.proposal_id());
      }
      Ctx ctx{cmd, entry.index(), result};
      RETURN_IF_ERROR((this->*handler)(ctx));
      if (result.code() == 0 && result.message().empty()) SetResult(result, Code::kOk, "");
      if (cmd.client_id() != 0) {
        storepb::ClientRecord rec;
        rec.set_sequence(cmd.sequence());
        *rec.mutable_result() = result;
        rec.set_last_time_ns(cmd.leader_time_ns());
        PutClientRecord(cmd.client_id(), std::move(rec));
      }
    }
  }
  if (also) also(staged_batch_);
  staged_index_ = entry.index();
  return result;
}

Status StateMachine::Flush() {
  if (staged_index_ == applied_index_) return Status::Ok();
  for (const auto& [key, value] : staged_) {
    if (value) {
      staged_batch_.Put(cf(), key, *value);
    } else {
      staged_batch_.Delete(cf(), key);
    }
  }
  staged_batch_.Put(cf(), ApplyStateKey(group_, StateTag::kApplied), BigEndian64(staged_index_));
  // Without the WAL: the Raft log holds every entry applied since the last flush of cf() (the
  // node compacts it only up to DurableAppliedIndex()), so a crash loses nothing a replay cannot
  // restore, and each entry goes through the WAL once instead of twice.
  Status s = engine_.WriteUnlogged(staged_batch_);
  staged_batch_.Clear();
  staged_.clear();
  // On failure the node fail-stops: the staged in-memory state is never used again.
  RETURN_IF_ERROR(s);
  applied_index_ = staged_index_;
  for (auto& [key, value] : staged_cache_) {
    if (value) {
      cache_.Put(key, std::move(*value));
    } else {
      cache_.Erase(key);
    }
  }
  staged_cache_.clear();
  return Status::Ok();
}

void StateMachine::StagePut(const std::string& key, std::string value) {
  staged_.insert_or_assign(key, std::move(value));
}

void StateMachine::StageDelete(const std::string& key) {
  staged_.insert_or_assign(key, std::nullopt);
}

Result<std::optional<std::string>> StateMachine::ReadStaged(const std::string& key) {
  if (auto it = staged_.find(key); it != staged_.end()) return it->second;
  Result<std::string> raw = engine_.Get(cf(), key);
  if (raw.ok()) return std::optional<std::string>(std::move(*raw));
  if (raw.status().code() == Code::kNotFound) return std::optional<std::string>();
  return raw.status();
}

void StateMachine::PutClientRecord(uint64_t client_id, storepb::ClientRecord rec) {
  auto it = clients_.find(client_id);
  if (it != clients_.end()) clients_by_time_.erase({it->second.last_time_ns(), client_id});
  StagePut(DataKey(group_, Space::kClients, BigEndian64(client_id)), rec.SerializeAsString());
  clients_by_time_.emplace(rec.last_time_ns(), client_id);
  clients_[client_id] = std::move(rec);
  // Bounded: expire records unused for the TTL (by leader time, so every replica agrees), and
  // the least recently used beyond the count limit.
  const int64_t now = clients_[client_id].last_time_ns();
  while (!clients_by_time_.empty()) {
    auto [time, id] = *clients_by_time_.begin();
    const bool expired = now - time > options_.client_record_ttl_ns;
    if (!expired && clients_.size() <= options_.max_client_records) break;
    if (id == client_id) break;
    clients_by_time_.erase(clients_by_time_.begin());
    clients_.erase(id);
    StageDelete(DataKey(group_, Space::kClients, BigEndian64(id)));
  }
}

Result<std::optional<storepb::KvValue>> StateMachine::ReadKv(const std::string& key, bool staged) {
  // Staged writes first (an earlier entry of this batch), then the cache of flushed values.
  if (!staged || !staged_.contains(key)) {
    if (const storepb::KvValue* hit = cache_.Lookup(key)) return std::optional(*hit);
  }
  std::optional<std::string> raw;
  if (staged) {
    ASSIGN_OR_RETURN(raw, ReadStaged(key));
  } else if (Result<std::string> r = engine_.Get(cf(), key); r.ok()) {
    raw = std::move(*r);
  } else if (r.status().code() != Code::kNotFound) {
    return r.status();
  }
  if (!raw) return std::optional<storepb::KvValue>();
  storepb::KvValue v;
  if (!v.ParseFromString(*raw)) return DataLossError("corrupt KV value");
  return std::optional<storepb::KvValue>(std::move(v));
}

void StateMachine::WriteKv(Ctx& c, const std::string& key,
                           const std::optional<storepb::KvValue>& old, const std::string& value) {
  storepb::KvValue v;
  v.set_value(value);
  v.set_create_index(old ? old->create_index() : c.index);
  v.set_mod_index(c.index);
  v.set_version(old ? old->version() + 1 : 1);
  v.set_mod_time_ns(c.cmd.leader_time_ns());
  StagePut(key, v.SerializeAsString());
  staged_cache_.emplace_back(key, std::move(v));
}

Status StateMachine::ApplyKvPut(Ctx& c) {
  const storepb::KvPut& op = c.cmd.kv_put();
  const std::string key = DataKey(group_, Space::kKv, op.key());
  ASSIGN_OR_RETURN(std::optional<storepb::KvValue> old, ReadKv(key));
  WriteKv(c, key, old, op.value());
  return Status::Ok();
}

Status StateMachine::ApplyKvDelete(Ctx& c) {
  const std::string key = DataKey(group_, Space::kKv, c.cmd.kv_delete().key());
  ASSIGN_OR_RETURN(std::optional<storepb::KvValue> old, ReadKv(key));
  if (!old) {
    SetResult(c.result, Code::kNotFound, "key not found");
    return Status::Ok();
  }
  StageDelete(key);
  staged_cache_.emplace_back(key, std::nullopt);
  return Status::Ok();
}

Status StateMachine::ApplyKvCas(Ctx& c) {
  const storepb::KvCompareAndSet& op = c.cmd.kv_cas();
  const std::string key = DataKey(group_, Space::kKv, op.key());
  ASSIGN_OR_RETURN(std::optional<storepb::KvValue> old, ReadKv(key));
  const bool match = op.expect_absent() ? !old : (old && old->value() == op.expected_value());
  c.result.set_succeeded(match);
  if (!match) {
    if (old) *c.result.mutable_previous() = *old;
    return Status::Ok();
  }
  if (op.delete_on_match()) {
    if (old) StageDelete(key);
    staged_cache_.emplace_back(key, std::nullopt);
    return Status::Ok();
  }
  WriteKv(c, key, old, op.new_value());
  return Status::Ok();
}

std::string StateMachine::OffsetKey(std::string_view consumer_group, std::string_view topic,
                                    uint32_t partition) const {
  std::string k;
  AppendLengthPrefixed(k, consumer_group);
  AppendLengthPrefixed(k, topic);
  AppendBigEndian64(k, partition);
  return DataKey(group_, Space::kOffset, k);
}

Status StateMachine::ApplyOffsetCommit(Ctx& c) {
  const storepb::OffsetCommit& op = c.cmd.offset_commit();
  // Check every precondition before writing anything: all or nothing.
  for (const storepb::OffsetEntry& e : op.entries()) {
    if (!e.has_expected()) continue;
    ASSIGN_OR_RETURN(std::optional<std::string> raw,
                     ReadStaged(OffsetKey(op.group(), e.topic(), e.partition())));
    const std::optional<uint64_t> current = raw ? ReadBigEndian64(*raw) : std::optional<uint64_t>();
    if (!current || *current != e.expected()) {
      c.result.set_succeeded(false);
      SetResult(c.result, Code::kFailedPrecondition,
                "offset of " + e.topic() + "/" + std::to_string(e.partition()) + " is " +
                    (current ? std::to_string(*current) : std::string("unset")) + ", expected " +
                    std::to_string(e.expected()));
      return Status::Ok();
    }
  }
  for (const storepb::OffsetEntry& e : op.entries()) {
    StagePut(OffsetKey(op.group(), e.topic(), e.partition()), BigEndian64(e.offset()));
  }
  c.result.set_succeeded(true);
  return Status::Ok();
}

Status StateMachine::ApplySessionBatch(Ctx& c) {
  const storepb::SessionBatch& op = c.cmd.session_batch();
  if (op.create_only()) {
    for (const storepb::Session& s : op.upserts()) {
      ASSIGN_OR_RETURN(std::optional<std::string> raw,
                       ReadStaged(DataKey(group_, Space::kSession, s.client_id())));
      if (raw) {
        SetResult(c.result, Code::kAlreadyExists, "session '" + s.client_id() + "' exists");
        return Status::Ok();
      }
    }
  }
  for (const storepb::Session& s : op.upserts()) {
    storepb::StoredSession stored;
    *stored.mutable_session() = s;
    stored.set_updated_time_ns(c.cmd.leader_time_ns());
    StagePut(DataKey(group_, Space::kSession, s.client_id()), stored.SerializeAsString());
  }
  for (const std::string& id : op.deletes()) {
    StageDelete(DataKey(group_, Space::kSession, id));
  }
  c.result.set_succeeded(true);
  return Status::Ok();
}

Status StateMachine::ApplyMemberUpdate(Ctx& c) {
  const storepb::MemberUpdate& op = c.cmd.member_update();
  const std::string key = DataKey(group_, Space::kMembers, BigEndian64(op.id()));
  if (op.remove()) {
    StageDelete(key);
  } else {
    StagePut(key, op.addr());
  }
  c.result.set_succeeded(true);
  return Status::Ok();
}

Result<raft::Snapshot> StateMachine::BuildSnapshot(uint64_t term, const raft::ConfState& conf) {
  const rocksdb::Snapshot* snap = engine_.db()->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  storepb::SnapshotData data;
  const std::string prefix = GroupPrefix(group_);
  std::unique_ptr<rocksdb::Iterator> it(engine_.db()->NewIterator(ro, cf()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto* pair = data.add_pairs();
    pair->set_key(it->key().data() + prefix.size(), it->key().size() - prefix.size());
    pair->set_value(it->value().data(), it->value().size());
  }
  Status s = FromRocks(it->status(), "reading the group for a snapshot");
  it.reset();
  engine_.db()->ReleaseSnapshot(snap);
  RETURN_IF_ERROR(s);
  raft::Snapshot out;
  out.mutable_metadata()->set_index(applied_index_);
  out.mutable_metadata()->set_term(term);
  *out.mutable_metadata()->mutable_conf_state() = conf;
  out.set_data(data.SerializeAsString());
  return out;
}

Status StateMachine::InstallSnapshot(rocksdb::WriteBatch& batch, const raft::Snapshot& snap) {
  CHECK_EQ(staged_index_, applied_index_) << "group " << group_ << ": snapshot over staged writes";
  storepb::SnapshotData data;
  if (!data.ParseFromString(snap.data())) {
    return DataLossError("snapshot data of group " + std::to_string(group_) + " does not parse");
  }
  const std::string prefix = GroupPrefix(group_);
  RETURN_IF_ERROR(FromRocks(batch.DeleteRange(cf(), prefix, GroupPrefix(group_ + 1)),
                            "deleting the group's range"));
  for (const auto& pair : data.pairs()) batch.Put(cf(), prefix + pair.key(), pair.value());
  batch.Put(cf(), ApplyStateKey(group_, StateTag::kApplied), BigEndian64(snap.metadata().index()));
  return Status::Ok();
}

Status StateMachine::OnSnapshotInstalled(uint64_t index) {
  cache_.Clear();
  RETURN_IF_ERROR(Load());
  CHECK_EQ(applied_index_, index);
  return Status::Ok();
}

Result<storepb::KvValue> StateMachine::Get(std::string_view k) {
  const std::string key = DataKey(group_, Space::kKv, k);
  if (const storepb::KvValue* hit = cache_.Lookup(key)) return *hit;
  ASSIGN_OR_RETURN(std::optional<storepb::KvValue> v, ReadKv(key, /*staged=*/false));
  if (!v) return NotFoundError("key not found");
  cache_.Put(key, *v);
  return *v;
}

Result<std::vector<std::pair<std::string, storepb::KvValue>>> StateMachine::List(
    std::string_view prefix, std::string_view start_after, size_t limit) {
  const std::string lo = DataKey(group_, Space::kKv, prefix);
  const std::string base = DataKey(group_, Space::kKv, "");
  std::vector<std::pair<std::string, storepb::KvValue>> out;
  std::unique_ptr<rocksdb::Iterator> it(engine_.db()->NewIterator(rocksdb::ReadOptions(), cf()));
  const std::string start = start_after.empty() || start_after < prefix
                                ? lo
                                : DataKey(group_, Space::kKv, start_after) + std::string(1, '\0');
  for (it->Seek(start); it->Valid() && it->key().starts_with(lo) && out.size() < limit;
       it->Next()) {
    storepb::KvValue v;
    if (!v.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return DataLossError("corrupt KV value");
    }
    out.emplace_back(it->key().ToString().substr(base.size()), std::move(v));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "listing keys"));
  return out;
}

Result<uint64_t> StateMachine::GetOffset(std::string_view consumer_group, std::string_view topic,
                                         uint32_t partition) {
  ASSIGN_OR_RETURN(std::string raw, engine_.Get(cf(), OffsetKey(consumer_group, topic, partition)));
  std::optional<uint64_t> v = ReadBigEndian64(raw);
  if (!v) return DataLossError("corrupt offset");
  return *v;
}

Result<storepb::StoredSession> StateMachine::GetSession(std::string_view client_id) {
  ASSIGN_OR_RETURN(std::string raw, engine_.Get(cf(), DataKey(group_, Space::kSession, client_id)));
  storepb::StoredSession s;
  if (!s.ParseFromString(raw)) return DataLossError("corrupt session");
  return s;
}

Result<std::vector<storepb::StoredSession>> StateMachine::ListSessions(std::string_view start_after,
                                                                       size_t limit) {
  const std::string base = DataKey(group_, Space::kSession, "");
  std::vector<storepb::StoredSession> out;
  std::unique_ptr<rocksdb::Iterator> it(engine_.db()->NewIterator(rocksdb::ReadOptions(), cf()));
  it->Seek(start_after.empty() ? base : base + std::string(start_after) + std::string(1, '\0'));
  for (; it->Valid() && it->key().starts_with(base) && out.size() < limit; it->Next()) {
    storepb::StoredSession s;
    if (!s.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return DataLossError("corrupt session");
    }
    out.push_back(std::move(s));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "listing sessions"));
  return out;
}

Result<std::map<uint64_t, std::string>> StateMachine::Members() {
  const std::string base = DataKey(group_, Space::kMembers, "");
  std::map<uint64_t, std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(engine_.db()->NewIterator(rocksdb::ReadOptions(), cf()));
  for (it->Seek(base); it->Valid() && it->key().starts_with(base); it->Next()) {
    std::optional<uint64_t> id = ReadBigEndian64(it->key().ToStringView().substr(base.size()));
    if (!id) return DataLossError("corrupt member key");
    out[*id] = it->value().ToString();
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "listing members"));
  return out;
}

Result<uint64_t> StateMachine::Digest() {
  uint64_t h = HashCombine(0, applied_index_);
  const std::string prefix = GroupPrefix(group_);
  std::unique_ptr<rocksdb::Iterator> it(engine_.db()->NewIterator(rocksdb::ReadOptions(), cf()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    h = HashCombine(h, HashBytes(it->key().ToStringView()));
    h = HashCombine(h, HashBytes(it->value().ToStringView()));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "digesting the group"));
  return h;
}

}  // namespace meta::store
