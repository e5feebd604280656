#include "net/api_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>

#include "core/fiber.h"
#include "core/limits.h"
#include "net/grpc_transport.h"
#include "net/grpc_util.h"
#include "proto/meta/cluster.grpc.pb.h"
#include "proto/meta/kv.grpc.pb.h"
#include "proto/meta/offset.grpc.pb.h"
#include "proto/meta/session.grpc.pb.h"

namespace meta::net {
namespace {

using store::GroupId;

// The state of one call that outlives its body: the group it touched, for the leader hint.
struct Call {
  GroupId group = store::kMetadataGroup;
};

void AddLeaderHint(ApiContext& api, grpc::ServerContext& ctx, GroupId group) {
  if (api.node == nullptr) return;
  const NodeId lead = api.node->raft(group).lead();
  if (lead == 0) return;
  ctx.AddTrailingMetadata("x-meta-leader-id", std::to_string(lead));
  ctx.AddTrailingMetadata("x-meta-leader-addr", api.address_of(lead));
}

// One method of a service: how to ask gRPC for its next call, and the body that answers it.
template <class Svc, class Req, class Resp>
struct Method {
  using RequestFn = void (Svc::*)(grpc::ServerContext*, Req*,
                                  grpc::ServerAsyncResponseWriter<Resp>*, grpc::CompletionQueue*,
                                  grpc::ServerCompletionQueue*, void*);
  using BodyFn = Status (Svc::*)(Call&, const Req*, Resp*);
  const char* name;
  Svc* service;
  RequestFn request;
  BodyFn body;
  ApiContext* api;
  grpc::ServerCompletionQueue* cq;
};

// One unary call, from gRPC's match of a request to the answer. Everything happens on the loop
// thread: the match arrives on the loop's queue, the next call of the method is asked for at
// once, and the body runs in a fiber (it may wait for a commit or a read round), which answers
// the call. The object frees itself when the answer is sent, or when the server shuts down.
template <class Svc, class Req, class Resp>
class UnaryCall final : public CqTag {
 public:
  explicit UnaryCall(const Method<Svc, Req, Resp>& m) : m_(m), writer_(&ctx_) {
    (m_.service->*m_.request)(&ctx_, &req_, &writer_, m_.cq, m_.cq, static_cast<CqTag*>(this));
  }

  void Done(bool ok) override {
    ApiContext& api = *m_.api;
    // Not matched (the server is shutting down), or the answer went out: the call is over.
    if (!ok || answering_ || api.env->stopping()) {
      delete this;
      return;
    }
    new UnaryCall(m_);
    if (api.draining.load()) {
      Answer(UnavailableError("node is shutting down"));
      return;
    }
    api.in_flight.fetch_add(1);
    // The guard rides in the body's captures, so it goes with the fiber however the fiber ends:
    // after the body answered, unwound by a shutdown mid-body, or destroyed before it ever ran.
    auto guard = std::make_shared<AnswerGuard>(this);
    api.env->fibers().Spawn(m_.name, [this, guard] {
      ApiContext& api = *m_.api;
      Call call;
      Status s = UnavailableError("node is not serving");
      if (api.node != nullptr && api.node->running()) {
        s = std::invoke(m_.body, m_.service, call, &req_, &resp_);
      }
      if (!s.ok()) AddLeaderHint(api, ctx_, call.group);
      Answer(s);
    });
  }

 private:
  // Answers the call with UNAVAILABLE unless it was answered already, and ends its count in
  // flight.
  struct AnswerGuard {
    explicit AnswerGuard(UnaryCall* c) : call(c) {}
    AnswerGuard(const AnswerGuard&) = delete;
    AnswerGuard& operator=(const AnswerGuard&) = delete;
    ~AnswerGuard() {
      if (!call->answering_) call->Answer(UnavailableError("node shutting down"));
      call->m_.api->in_flight.fetch_sub(1);
    }
    UnaryCall* call;
  };

  void Answer(const Status& s) {
    answering_ = true;
    if (s.ok()) {
      writer_.Finish(resp_, grpc::Status::OK, static_cast<CqTag*>(this));
    } else {
      writer_.FinishWithError(ToGrpc(s), static_cast<CqTag*>(this));
    }
  }

  const Method<Svc, Req, Resp>& m_;
  grpc::ServerContext ctx_;
  Req req_;
  Resp resp_;
  grpc::ServerAsyncResponseWriter<Resp> writer_;
  bool answering_ = false;
};

// The methods of one service. `Svc` derives from the service's generated AsyncService.
template <class Svc>
class Methods {
 public:
  template <class Req, class Resp>
  void Add(const char* name, Svc* svc, typename Method<Svc, Req, Resp>::RequestFn request,
           Status (Svc::*body)(Call&, const Req*, Resp*), ApiContext& api,
           grpc::ServerCompletionQueue* cq) {
    auto m = std::make_shared<Method<Svc, Req, Resp>>(
        Method<Svc, Req, Resp>{name, svc, request, body, &api, cq});
    // A few calls of each method are asked for at once, so a burst of requests finds them.
    for (int i = 0; i < kCallsAskedPerMethod; ++i) new UnaryCall<Svc, Req, Resp>(*m);
    keep_.push_back(std::move(m));
  }

 private:
  static constexpr int kCallsAskedPerMethod = 8;
  std::vector<std::shared_ptr<const void>> keep_;  // the methods outlive their calls
};

void FillHeader(ApiContext& api, GroupId group, uint64_t index, v1::ResponseHeader* h) {
  const raft::Raft& r = api.node->raft(group);
  h->set_cluster_id(api.cluster_id);
  h->set_member_id(api.node->id());
  h->set_group_id(group);
  h->set_leader_id(r.lead());
  if (r.lead() != 0) h->set_leader_addr(api.address_of(r.lead()));
  h->set_raft_term(r.term());
  h->set_index(index != 0 ? index : api.node->state_machine(group).applied_index());
}

// ---- validation: every field is checked before anything is proposed ----

Status CheckBytes(std::string_view field, const std::string& v, size_t max, bool required) {
  if (required && v.empty()) return InvalidArgumentError(std::string(field) + " must not be empty");
  if (v.size() > max) {
    return InvalidArgumentError(std::string(field) + " is " + std::to_string(v.size()) +
                                " bytes; the limit is " + std::to_string(max));
  }
  return Status::Ok();
}

Status CheckKey(std::string_view field, const std::string& key) {
  return CheckBytes(field, key, kMaxKeyBytes, /*required=*/true);
}

Status CheckName(std::string_view field, const std::string& name) {
  return CheckBytes(field, name, kMaxNameBytes, /*required=*/true);
}

Status CheckCount(std::string_view field, size_t n, size_t max) {
  if (n > max) {
    return InvalidArgumentError(std::string(field) + " has " + std::to_string(n) +
                                " items; the limit is " + std::to_string(max));
  }
  return Status::Ok();
}

Result<bool> Linearizable(v1::ReadConsistency c) {
  switch (c) {
    case v1::LINEARIZABLE:
      return true;
    case v1::SERIALIZABLE:
      return false;
    default:
      return InvalidArgumentError("consistency " + std::to_string(static_cast<int>(c)) +
                                  " is not LINEARIZABLE (0) or SERIALIZABLE (1)");
  }
}

size_t PageLimit(uint32_t asked) {
  return asked == 0 ? kMaxListPage : std::min<size_t>(asked, kMaxListPage);
}

// Proposes `cmd` stamped with the client's write header and waits for its result. A result the
// state machine reports as a failed precondition of the protocol itself (a stale sequence, a
// command it could not parse) comes back as an error; business outcomes (CAS mismatch, missing
// key) are left to the caller.
Result<storepb::ApplyResult> Propose(ApiContext& api, Call& call, const v1::WriteHeader& w,
                                     storepb::Command cmd) {
  if (w.client_id() != 0 && w.sequence() == 0) {
    return InvalidArgumentError("write.sequence must be > 0 when write.client_id is set");
  }
  cmd.set_client_id(w.client_id());
  cmd.set_sequence(w.sequence());
  call.group = api.node->RouteCommand(cmd);
  ASSIGN_OR_RETURN(storepb::ApplyResult r, api.node->Write(std::move(cmd)));
  const Code code = static_cast<Code>(r.code());
  if (code == Code::kInvalidArgument ||
      (code == Code::kFailedPrecondition && r.message().starts_with("stale sequence"))) {
    return Status(code, r.message());
  }
  return r;
}

void ToKeyValue(const std::string& key, const storepb::KvValue& v, v1::KeyValue* out) {
  out->set_key(key);
  out->set_value(v.value());
  out->set_create_index(v.create_index());
  out->set_mod_index(v.mod_index());
  out->set_version(v.version());
  out->set_mod_time_unix_ns(v.mod_time_ns());
}

// ---- KV ----

class KvService final : public v1::KV::AsyncService, public ApiService {
 public:
  explicit KvService(ApiContext& api) : api_(api) {}

  grpc::Service* service() override { return this; }
  void Start(grpc::ServerCompletionQueue* cq) override {
    methods_.Add<v1::GetRequest, v1::GetResponse>("kv.get", this, &KvService::RequestGet,
                                                  &KvService::Get, api_, cq);
    methods_.Add<v1::ListRequest, v1::ListResponse>("kv.list", this, &KvService::RequestList,
                                                    &KvService::List, api_, cq);
    methods_.Add<v1::PutRequest, v1::PutResponse>("kv.put", this, &KvService::RequestPut,
                                                  &KvService::Put, api_, cq);
    methods_.Add<v1::DeleteRequest, v1::DeleteResponse>(
        "kv.delete", this, &KvService::RequestDelete, &KvService::Delete, api_, cq);
    methods_.Add<v1::CompareAndSetRequest, v1::CompareAndSetResponse>(
        "kv.cas", this, &KvService::RequestCompareAndSet, &KvService::CompareAndSet, api_, cq);
  }

  Status Get(Call& call, const v1::GetRequest* req, v1::GetResponse* resp) {
    RETURN_IF_ERROR(CheckKey("key", req->key()));
    ASSIGN_OR_RETURN(bool lin, Linearizable(req->consistency()));
    call.group = api_.node->RouteKv(req->key());
    Result<storepb::KvValue> v = api_.node->Get(req->key(), lin);
    if (v.ok()) {
      resp->set_found(true);
      ToKeyValue(req->key(), *v, resp->mutable_kv());
    } else if (v.status().code() != Code::kNotFound) {
      return v.status();
    }
    FillHeader(api_, call.group, 0, resp->mutable_header());
    return Status::Ok();
  }

  Status List(Call& call, const v1::ListRequest* req, v1::ListResponse* resp) {
    RETURN_IF_ERROR(CheckBytes("prefix", req->prefix(), kMaxKeyBytes, false));
    RETURN_IF_ERROR(CheckBytes("start_after", req->start_after(), kMaxKeyBytes, false));
    ASSIGN_OR_RETURN(bool lin, Linearizable(req->consistency()));
    const size_t limit = PageLimit(req->limit());
    ASSIGN_OR_RETURN(auto kvs, api_.node->List(req->prefix(), req->start_after(), limit + 1, lin));
    resp->set_more(kvs.size() > limit);
    if (kvs.size() > limit) kvs.resize(limit);
    for (const auto& [k, v] : kvs) ToKeyValue(k, v, resp->add_kvs());
    FillHeader(api_, call.group, 0, resp->mutable_header());
    return Status::Ok();
  }

  Status Put(Call& call, const v1::PutRequest* req, v1::PutResponse* resp) {
    RETURN_IF_ERROR(CheckKey("key", req->key()));
    RETURN_IF_ERROR(CheckBytes("value", req->value(), kMaxValueBytes, false));
    storepb::Command cmd;
    cmd.mutable_kv_put()->set_key(req->key());
    cmd.mutable_kv_put()->set_value(req->value());
    ASSIGN_OR_RETURN(storepb::ApplyResult r, Propose(api_, call, req->write(), std::move(cmd)));
    if (r.code() != 0) return Status(static_cast<Code>(r.code()), r.message());
    FillHeader(api_, call.group, r.index(), resp->mutable_header());
    return Status::Ok();
  }

  Status Delete(Call& call, const v1::DeleteRequest* req, v1::DeleteResponse* resp) {
    RETURN_IF_ERROR(CheckKey("key", req->key()));
    storepb::Command cmd;
    cmd.mutable_kv_delete()->set_key(req->key());
    ASSIGN_OR_RETURN(storepb::ApplyResult r, Propose(api_, call, req->write(), std::move(cmd)));
    const Code code = static_cast<Code>(r.code());
    if (code != Code::kOk && code != Code::kNotFound) return Status(code, r.message());
    resp->set_deleted(code == Code::kOk);
    FillHeader(api_, call.group, r.index(), resp->mutable_header());
    return Status::Ok();
  }

  Status CompareAndSet(Call& call, const v1::CompareAndSetRequest* req,
                       v1::CompareAndSetResponse* resp) {
    RETURN_IF_ERROR(CheckKey("key", req->key()));
    RETURN_IF_ERROR(CheckBytes("expected_value", req->expected_value(), kMaxValueBytes, false));
    RETURN_IF_ERROR(CheckBytes("new_value", req->new_value(), kMaxValueBytes, false));
    if (req->expect_absent() && !req->expected_value().empty()) {
      return InvalidArgumentError("expected_value must be empty when expect_absent is set");
    }
    if (req->delete_on_match() && !req->new_value().empty()) {
      return InvalidArgumentError("new_value must be empty when delete_on_match is set");
    }
    storepb::Command cmd;
    storepb::KvCompareAndSet* op = cmd.mutable_kv_cas();
    op->set_key(req->key());
    op->set_expect_absent(req->expect_absent());
    op->set_expected_value(req->expected_value());
    op->set_new_value(req->new_value());
    op->set_delete_on_match(req->delete_on_match());
    ASSIGN_OR_RETURN(storepb::ApplyResult r, Propose(api_, call, req->write(), std::move(cmd)));
    if (r.code() != 0) return Status(static_cast<Code>(r.code()), r.message());
    resp->set_succeeded(r.succeeded());
    if (!r.succeeded() && r.has_previous()) {
      resp->set_found(true);
      ToKeyValue(req->key(), r.previous(), resp->mutable_current());
    }
    FillHeader(api_, call.group, r.index(), resp->mutable_header());
    return Status::Ok();
  }

 private:
  ApiContext& api_;
  Methods<KvService> methods_;
};

// ---- offsets ----

class OffsetService final : public v1::Offset::AsyncService, public ApiService {
 public:
  explicit OffsetService(ApiContext& api) : api_(api) {}

  grpc::Service* service() override { return this; }
  void Start(grpc::ServerCompletionQueue* cq) override {
    methods_.Add<v1::CommitOffsetsRequest, v1::CommitOffsetsResponse>(
        "offset.commit", this, &OffsetService::RequestCommit, &OffsetService::Commit, api_, cq);
    methods_.Add<v1::GetOffsetsRequest, v1::GetOffsetsResponse>(
        "offset.get", this, &OffsetService::RequestGet, &OffsetService::Get, api_, cq);
  }

  Status Commit(Call& call, const v1::CommitOffsetsRequest* req, v1::CommitOffsetsResponse* resp) {
    RETURN_IF_ERROR(CheckName("group", req->group()));
    if (req->offsets().empty()) return InvalidArgumentError("offsets must not be empty");
    RETURN_IF_ERROR(CheckCount("offsets", req->offsets_size(), kMaxBatchItems));
    storepb::Command cmd;
    storepb::OffsetCommit* op = cmd.mutable_offset_commit();
    op->set_group(req->group());
    for (int i = 0; i < req->offsets_size(); ++i) {
      const v1::OffsetCommit& o = req->offsets(i);
      RETURN_IF_ERROR(CheckName("offsets[" + std::to_string(i) + "].topic", o.topic()));
      storepb::OffsetEntry* e = op->add_entries();
      e->set_topic(o.topic());
      e->set_partition(o.partition());
      e->set_offset(o.offset());
      if (o.has_expected()) {
        e->set_has_expected(true);
        e->set_expected(o.expected());
      }
    }
    ASSIGN_OR_RETURN(storepb::ApplyResult r, Propose(api_, call, req->write(), std::move(cmd)));
    const Code code = static_cast<Code>(r.code());
    if (code != Code::kOk && code != Code::kFailedPrecondition) {
      return Status(code, r.message());
    }
    resp->set_succeeded(r.succeeded());
    FillHeader(api_, call.group, r.index(), resp->mutable_header());
    return Status::Ok();
  }

  Status Get(Call& call, const v1::GetOffsetsRequest* req, v1::GetOffsetsResponse* resp) {
    RETURN_IF_ERROR(CheckName("group", req->group()));
    RETURN_IF_ERROR(CheckCount("partitions", req->partitions_size(), kMaxBatchItems));
    ASSIGN_OR_RETURN(bool lin, Linearizable(req->consistency()));
    for (int i = 0; i < req->partitions_size(); ++i) {
      RETURN_IF_ERROR(
          CheckName("partitions[" + std::to_string(i) + "].topic", req->partitions(i).topic()));
    }
    call.group = api_.node->RouteOffset(req->group());
    if (lin) RETURN_IF_ERROR(api_.node->ReadBarrier(call.group));
    for (const v1::TopicPartition& tp : req->partitions()) {
      v1::PartitionOffset* out = resp->add_offsets();
      out->set_topic(tp.topic());
      out->set_partition(tp.partition());
      Result<uint64_t> o = api_.node->GetOffset(req->group(), tp.topic(), tp.partition(), false);
      if (o.ok()) {
        out->set_found(true);
        out->set_offset(*o);
      } else if (o.status().code() != Code::kNotFound) {
        return o.status();
      }
    }
    FillHeader(api_, call.group, 0, resp->mutable_header());
    return Status::Ok();
  }

 private:
  ApiContext& api_;
  Methods<OffsetService> methods_;
};

// ---- sessions ----

class SessionService final : public v1::Session::AsyncService, public ApiService {
 public:
  explicit SessionService(ApiContext& api) : api_(api) {}

  grpc::Service* service() override { return this; }
  void Start(grpc::ServerCompletionQueue* cq) override {
    methods_.Add<v1::SessionBatchRequest, v1::SessionBatchResponse>(
        "session.batch", this, &SessionService::RequestBatch, &SessionService::Batch, api_, cq);
    methods_.Add<v1::GetSessionRequest, v1::GetSessionResponse>(
        "session.get", this, &SessionService::RequestGet, &SessionService::Get, api_, cq);
    methods_.Add<v1::ListSessionsRequest, v1::ListSessionsResponse>(
        "session.list", this, &SessionService::RequestList, &SessionService::List, api_, cq);
  }

  Status Batch(Call& call, const v1::SessionBatchRequest* req, v1::SessionBatchResponse* resp) {
    if (req->upserts().empty() && req->deletes().empty()) {
      return InvalidArgumentError("upserts and deletes must not both be empty");
    }
    RETURN_IF_ERROR(
        CheckCount("upserts + deletes", req->upserts_size() + req->deletes_size(), kMaxBatchItems));
    size_t bytes = 0;
    std::map<GroupId, storepb::SessionBatch> parts;
    for (int i = 0; i < req->upserts_size(); ++i) {
      const v1::MqttSession& s = req->upserts(i);
      const std::string field = "upserts[" + std::to_string(i) + "]";
      RETURN_IF_ERROR(CheckName(field + ".client_id", s.client_id()));
      RETURN_IF_ERROR(CheckBytes(field + ".data", s.data(), kMaxValueBytes, false));
      if (s.expiry_interval_ms() < 0) {
        return InvalidArgumentError(field + ".expiry_interval_ms must not be negative");
      }
      bytes += s.client_id().size() + s.data().size();
      storepb::Session* out = parts[api_.node->RouteSession(s.client_id())].add_upserts();
      out->set_client_id(s.client_id());
      out->set_data(s.data());
      out->set_expiry_interval_ms(s.expiry_interval_ms());
    }
    for (int i = 0; i < req->deletes_size(); ++i) {
      RETURN_IF_ERROR(CheckName("deletes[" + std::to_string(i) + "]", req->deletes(i)));
      bytes += req->deletes(i).size();
      parts[api_.node->RouteSession(req->deletes(i))].add_deletes(req->deletes(i));
    }
    if (bytes > kMaxBatchBytes) {
      return InvalidArgumentError("the batch holds " + std::to_string(bytes) +
                                  " bytes; the limit is " + std::to_string(kMaxBatchBytes));
    }
    // One command per data group; the same (client id, sequence) is valid in each, because
    // every group keeps its own dedup table.
    bool all = true;
    for (auto& [group, part] : parts) {
      part.set_create_only(req->create_only());
      v1::SessionBatchPart* out = resp->add_parts();
      out->set_group_id(group);
      out->set_upserts(part.upserts_size());
      out->set_deletes(part.deletes_size());
      storepb::Command cmd;
      *cmd.mutable_session_batch() = std::move(part);
      ASSIGN_OR_RETURN(storepb::ApplyResult r, Propose(api_, call, req->write(), std::move(cmd)));
      const Code code = static_cast<Code>(r.code());
      if (code != Code::kOk && code != Code::kAlreadyExists) return Status(code, r.message());
      out->set_succeeded(code == Code::kOk);
      out->set_error(r.message());
      all = all && code == Code::kOk;
    }
    resp->set_succeeded(all);
    FillHeader(api_, call.group, 0, resp->mutable_header());
    return Status::Ok();
  }

  Status Get(Call& call, const v1::GetSessionRequest* req, v1::GetSessionResponse* resp) {
    RETURN_IF_ERROR(CheckName("client_id", req->client_id()));
    ASSIGN_OR_RETURN(bool lin, Linearizable(req->consistency()));
    call.group = api_.node->RouteSession(req->client_id());
    Result<storepb::StoredSession> s = api_.node->GetSession(req->client_id(), lin);
    if (s.ok()) {
      resp->set_found(true);
      ToSession(*s, resp->mutable_session());
    } else if (s.status().code() != Code::kNotFound) {
      return s.status();
    }
    FillHeader(api_, call.group, 0, resp->mutable_header());
    return Status::Ok();
  }

  Status List(Call& call, const v1::ListSessionsRequest* req, v1::ListSessionsResponse* resp) {
    RETURN_IF_ERROR(CheckBytes("start_after", req->start_after(), kMaxNameBytes, false));
    ASSIGN_OR_RETURN(bool lin, Linearizable(req->consistency()));
    const size_t limit = PageLimit(req->limit());
    // Sessions are spread over the data groups: take a page from each, merge by client id.
    std::vector<storepb::StoredSession> all;
    for (GroupId g : api_.node->groups()) {
      if (store::TypeOf(g) != store::GroupType::kData) continue;
      call.group = g;
      if (lin) RETURN_IF_ERROR(api_.node->ReadBarrier(g));
      ASSIGN_OR_RETURN(auto page,
                       api_.node->state_machine(g).ListSessions(req->start_after(), limit + 1));
      for (auto& s : page) all.push_back(std::move(s));
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return a.session().client_id() < b.session().client_id();
    });
    resp->set_more(all.size() > limit);
    if (all.size() > limit) all.resize(limit);
    for (const auto& s : all) ToSession(s, resp->add_sessions());
    FillHeader(api_, call.group, 0, resp->mutable_header());
    return Status::Ok();
  }

 private:
  static void ToSession(const storepb::StoredSession& s, v1::MqttSession* out) {
    out->set_client_id(s.session().client_id());
    out->set_data(s.session().data());
    out->set_expiry_interval_ms(s.session().expiry_interval_ms());
    out->set_updated_time_unix_ns(s.updated_time_ns());
  }

  ApiContext& api_;
  Methods<SessionService> methods_;
};

// ---- cluster ----

Status FillGroupStatus(ApiContext& api, GroupId g, bool digest, v1::GroupStatus* out) {
  const raft::Raft& r = api.node->raft(g);
  const store::LogStorage& log = api.node->log(g);
  store::StateMachine& sm = api.node->state_machine(g);
  out->set_group_id(g);
  out->set_kind(store::GroupTypeName(store::TypeOf(g)));
  out->set_role(raft::StateName(r.state()));
  out->set_leader_id(r.lead());
  out->set_term(r.term());
  out->set_commit_index(r.log().committed());
  out->set_applied_index(sm.applied_index());
  out->set_first_index(log.FirstIndex());
  out->set_last_index(r.log().LastIndex());
  for (uint64_t v : log.conf_state().voters()) out->add_voters(v);
  for (uint64_t l : log.conf_state().learners()) out->add_learners(l);
  if (digest) {
    ASSIGN_OR_RETURN(uint64_t d, sm.Digest());
    out->set_digest(d);
  }
  return Status::Ok();
}

bool InConf(const raft::ConfState& cs, NodeId id, bool learner) {
  const auto& list = learner ? cs.learners() : cs.voters();
  return std::find(list.begin(), list.end(), id) != list.end();
}

class ClusterService final : public v1::Cluster::AsyncService, public ApiService {
 public:
  explicit ClusterService(ApiContext& api) : api_(api) {}

  grpc::Service* service() override { return this; }
  void Start(grpc::ServerCompletionQueue* cq) override {
    methods_.Add<v1::StatusRequest, v1::StatusResponse>(
        "cluster.status", this, &ClusterService::RequestStatus, &ClusterService::Status, api_, cq);
    methods_.Add<v1::MemberAddRequest, v1::MemberAddResponse>("cluster.member_add", this,
                                                              &ClusterService::RequestMemberAdd,
                                                              &ClusterService::MemberAdd, api_, cq);
    methods_.Add<v1::MemberRemoveRequest, v1::MemberRemoveResponse>(
        "cluster.member_remove", this, &ClusterService::RequestMemberRemove,
        &ClusterService::MemberRemove, api_, cq);
    methods_.Add<v1::TransferLeaderRequest, v1::TransferLeaderResponse>(
        "cluster.transfer", this, &ClusterService::RequestTransferLeader,
        &ClusterService::TransferLeader, api_, cq);
    methods_.Add<v1::SnapshotRequest, v1::SnapshotResponse>("cluster.snapshot", this,
                                                            &ClusterService::RequestSnapshot,
                                                            &ClusterService::Snapshot, api_, cq);
  }

  meta::Status Status(Call& call, const v1::StatusRequest* req, v1::StatusResponse* resp) {
    for (const auto& [id, addr] : api_.members()) {
      v1::Member* m = resp->add_members();
      m->set_id(id);
      m->set_addr(addr);
    }
    for (GroupId g : api_.node->groups()) {
      RETURN_IF_ERROR(FillGroupStatus(api_, g, req->with_digests(), resp->add_groups()));
    }
    resp->set_version(META_VERSION);
    FillHeader(api_, call.group, 0, resp->mutable_header());
    return meta::Status::Ok();
  }

  meta::Status MemberAdd(Call& call, const v1::MemberAddRequest* req, v1::MemberAddResponse* resp) {
    const v1::Member& m = req->member();
    if (m.id() == 0) return InvalidArgumentError("member.id must not be 0");
    RETURN_IF_ERROR(CheckName("member.addr", m.addr()));
    if (m.addr().find(':') == std::string::npos) {
      return InvalidArgumentError("member.addr must be host:port, not '" + m.addr() + "'");
    }
    storepb::Command cmd;
    cmd.mutable_member_update()->set_id(m.id());
    cmd.mutable_member_update()->set_addr(m.addr());
    RETURN_IF_ERROR(Propose(api_, call, v1::WriteHeader(), std::move(cmd)).status());
    api_.transport->SetPeerAddress(m.id(), m.addr());
    raft::ConfChange cc;
    cc.set_type(req->learner_only() ? raftpb::ADD_LEARNER : raftpb::ADD_NODE);
    cc.set_node_id(m.id());
    RETURN_IF_ERROR(ChangeEveryGroup(call, cc, [&](const raft::ConfState& cs) {
      return InConf(cs, m.id(), req->learner_only());
    }));
    FillHeader(api_, store::kMetadataGroup, 0, resp->mutable_header());
    return meta::Status::Ok();
  }

  meta::Status MemberRemove(Call& call, const v1::MemberRemoveRequest* req,
                            v1::MemberRemoveResponse* resp) {
    if (req->id() == 0) return InvalidArgumentError("id must not be 0");
    raft::ConfChange cc;
    cc.set_type(raftpb::REMOVE_NODE);
    cc.set_node_id(req->id());
    RETURN_IF_ERROR(ChangeEveryGroup(call, cc, [&](const raft::ConfState& cs) {
      return !InConf(cs, req->id(), false) && !InConf(cs, req->id(), true);
    }));
    FillHeader(api_, store::kMetadataGroup, 0, resp->mutable_header());
    return meta::Status::Ok();
  }

  meta::Status TransferLeader(Call& call, const v1::TransferLeaderRequest* req,
                              v1::TransferLeaderResponse* resp) {
    if (req->to() == 0) return InvalidArgumentError("to must not be 0");
    ASSIGN_OR_RETURN(std::vector<GroupId> groups, Groups(req->group_id()));
    for (GroupId g : groups) {
      call.group = g;
      if (!InConf(api_.node->log(g).conf_state(), req->to(), false)) {
        return FailedPreconditionError("node " + std::to_string(req->to()) +
                                       " is not a voter of group " + std::to_string(g));
      }
      if (api_.node->raft(g).lead() == req->to()) continue;
      RETURN_IF_ERROR(api_.node->TransferLeader(g, req->to()));
    }
    // Wait until every group reports the new leader (an election timeout at most, normally).
    const Instant deadline = api_.env->Now() + api_.node->options().write_timeout;
    for (GroupId g : groups) {
      call.group = g;
      while (api_.node->raft(g).lead() != req->to()) {
        if (api_.env->Now() > deadline) {
          return DeadlineExceededError("group " + std::to_string(g) +
                                       " did not move its leadership in time");
        }
        RETURN_IF_ERROR(fiber::Sleep(Millis(10)));
        if (!api_.node->running()) return UnavailableError("node stopped");
      }
    }
    FillHeader(api_, groups.front(), 0, resp->mutable_header());
    return meta::Status::Ok();
  }

  meta::Status Snapshot(Call& call, const v1::SnapshotRequest*, v1::SnapshotResponse* resp) {
    // Every group up to its applied index as of now, waiting for flushes of applied state (one
    // per column family serves all its groups).
    std::vector<std::pair<GroupId, uint64_t>> pending;
    for (GroupId g : api_.node->groups()) {
      pending.emplace_back(g, api_.node->state_machine(g).applied_index());
    }
    const Instant deadline = api_.env->Now() + api_.node->options().write_timeout;
    while (!pending.empty()) {
      for (auto it = pending.begin(); it != pending.end();) {
        call.group = it->first;
        ASSIGN_OR_RETURN(bool done, api_.node->CompactNow(it->first, it->second));
        it = done ? pending.erase(it) : it + 1;
      }
      if (pending.empty()) break;
      if (api_.env->Now() > deadline) {
        return DeadlineExceededError("group " + std::to_string(pending.front().first) +
                                     ": its applied state did not reach the disk in time");
      }
      RETURN_IF_ERROR(fiber::Sleep(Millis(10)));
    }
    for (GroupId g : api_.node->groups()) {
      RETURN_IF_ERROR(FillGroupStatus(api_, g, false, resp->add_groups()));
    }
    FillHeader(api_, store::kMetadataGroup, 0, resp->mutable_header());
    return meta::Status::Ok();
  }

 private:
  Result<std::vector<GroupId>> Groups(uint64_t group_id) {
    std::vector<GroupId> all = api_.node->groups();
    if (group_id == 0) return all;
    if (std::find(all.begin(), all.end(), group_id) == all.end()) {
      return NotFoundError("group_id " + std::to_string(group_id) + " does not exist");
    }
    return std::vector<GroupId>{group_id};
  }

  // Proposes `cc` to each group in turn (Raft changes one server at a time) and waits until this
  // node has applied it, retrying while a leader is being elected or an earlier change is pending.
  template <class Done>
  meta::Status ChangeEveryGroup(Call& call, const raft::ConfChange& cc, Done done) {
    const Instant deadline = api_.env->Now() + api_.node->options().write_timeout;
    for (GroupId g : api_.node->groups()) {
      call.group = g;
      Instant next_proposal;
      while (!done(api_.node->log(g).conf_state())) {
        if (!api_.node->running()) return UnavailableError("node stopped");
        if (api_.env->Now() > deadline) {
          return DeadlineExceededError("the membership change of group " + std::to_string(g) +
                                       " did not apply in time");
        }
        if (api_.env->Now() >= next_proposal) {
          meta::Status s = api_.node->ProposeConfChange(g, cc);
          if (!s.ok() && s.code() != Code::kUnavailable) return s;
          next_proposal = api_.env->Now() + Millis(500);  // a lost proposal is proposed again
        }
        RETURN_IF_ERROR(fiber::Sleep(Millis(10)));
      }
    }
    return meta::Status::Ok();
  }

  ApiContext& api_;
  Methods<ClusterService> methods_;
};

}  // namespace

std::vector<std::unique_ptr<ApiService>> MakeApiServices(ApiContext& api) {
  std::vector<std::unique_ptr<ApiService>> out;
  out.push_back(std::make_unique<KvService>(api));
  out.push_back(std::make_unique<OffsetService>(api));
  out.push_back(std::make_unique<SessionService>(api));
  out.push_back(std::make_unique<ClusterService>(api));
  return out;
}

}  // namespace meta::net
