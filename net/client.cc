#include "net/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "core/limits.h"
#include "net/grpc_util.h"
#include "proto/meta/cluster.grpc.pb.h"
#include "proto/meta/kv.grpc.pb.h"
#include "proto/meta/offset.grpc.pb.h"
#include "proto/meta/session.grpc.pb.h"

namespace meta::client {
namespace {

using net::FromGrpc;

struct Stubs {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::KV::Stub> kv;
  std::unique_ptr<v1::Offset::Stub> offset;
  std::unique_ptr<v1::Session::Stub> session;
  std::unique_ptr<v1::Cluster::Stub> cluster;
};

// An exactly-once identity, used by one write at a time.
struct WriteSlot {
  uint64_t client_id = 0;
  uint64_t next_sequence = 1;
};

std::string TrailingValue(const grpc::ClientContext& ctx, const char* key) {
  const auto& md = ctx.GetServerTrailingMetadata();
  auto it = md.find(key);
  return it == md.end() ? "" : std::string(it->second.data(), it->second.size());
}

}  // namespace

struct Client::Impl {
  ClientOptions options;
  mutable std::mutex mu;
  std::map<std::string, Stubs> stubs;              // guarded by mu
  size_t current = 0;                              // guarded by mu: index into options.endpoints
  std::vector<WriteSlot> free_slots;               // guarded by mu
  std::mt19937_64 random{std::random_device{}()};  // guarded by mu

  Stubs& StubsFor(const std::string& endpoint) {
    std::lock_guard lock(mu);
    auto it = stubs.find(endpoint);
    if (it != stubs.end()) return it->second;
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(static_cast<int>(kMaxRequestBytes));
    args.SetMaxSendMessageSize(static_cast<int>(kMaxRequestBytes));
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    Stubs s;
    s.channel = grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
    s.kv = v1::KV::NewStub(s.channel);
    s.offset = v1::Offset::NewStub(s.channel);
    s.session = v1::Session::NewStub(s.channel);
    s.cluster = v1::Cluster::NewStub(s.channel);
    return stubs.emplace(endpoint, std::move(s)).first->second;
  }

  std::string Current() const {
    std::lock_guard lock(mu);
    return options.endpoints[current];
  }

  // After a failure at `failed`: go to the hinted leader if it is one of ours, else the next one.
  void MoveOn(const std::string& failed, const std::string& hint) {
    std::lock_guard lock(mu);
    if (options.endpoints[current] != failed) return;  // another call moved already
    auto it = std::find(options.endpoints.begin(), options.endpoints.end(), hint);
    if (!hint.empty() && hint != failed && it != options.endpoints.end()) {
      current = static_cast<size_t>(it - options.endpoints.begin());
    } else {
      current = (current + 1) % options.endpoints.size();
    }
  }

  WriteSlot TakeSlot() {
    std::lock_guard lock(mu);
    if (free_slots.empty()) return WriteSlot{random() | 1, 1};
    WriteSlot s = free_slots.back();
    free_slots.pop_back();
    return s;
  }

  void ReturnSlot(WriteSlot s) {
    ++s.next_sequence;
    std::lock_guard lock(mu);
    free_slots.push_back(s);
  }

  Duration Jitter(Duration d) {
    std::lock_guard lock(mu);
    return d / 2 +
           Duration::Nanos(static_cast<int64_t>(random() % static_cast<uint64_t>(d.nanos())));
  }

  // Calls `rpc` until it succeeds, fails for good, or the total timeout passes. `write` marks a
  // call whose retries are safe only thanks to its write header (ABORTED and timeouts retried).
  template <class Req, class Resp, class Rpc>
  Result<Resp> Invoke(const Req& req, Rpc rpc, bool write, const std::string& pinned = "") {
    const auto start = std::chrono::steady_clock::now();
    const auto total = std::chrono::nanoseconds(options.total_timeout.nanos());
    Duration backoff = options.min_backoff;
    for (;;) {
      const std::string endpoint = pinned.empty() ? Current() : pinned;
      grpc::ClientContext ctx;
      const auto left = total - (std::chrono::steady_clock::now() - start);
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::min<std::chrono::nanoseconds>(
                           std::chrono::nanoseconds(options.attempt_timeout.nanos()),
                           std::chrono::duration_cast<std::chrono::nanoseconds>(left)));
      Resp resp;
      grpc::Status st = rpc(StubsFor(endpoint), &ctx, req, &resp);
      if (st.ok()) return resp;
      const grpc::StatusCode code = st.error_code();
      const bool retryable = code == grpc::StatusCode::UNAVAILABLE ||
                             (write && (code == grpc::StatusCode::ABORTED ||
                                        code == grpc::StatusCode::DEADLINE_EXCEEDED)) ||
                             (!write && code == grpc::StatusCode::DEADLINE_EXCEEDED);
      if (!retryable || std::chrono::steady_clock::now() - start >= total) {
        return FromGrpc(st).Annotate(endpoint);
      }
      if (pinned.empty()) MoveOn(endpoint, TrailingValue(ctx, "x-meta-leader-addr"));
      std::this_thread::sleep_for(std::chrono::nanoseconds(Jitter(backoff).nanos()));
      backoff = std::min(backoff * 2, options.max_backoff);
    }
  }

  // A write: stamps a slot's (client id, sequence), the same on every retry.
  template <class Req, class Resp, class Rpc>
  Result<Resp> Write(Req req, Rpc rpc) {
    WriteSlot slot = TakeSlot();
    req.mutable_write()->set_client_id(slot.client_id);
    req.mutable_write()->set_sequence(slot.next_sequence);
    Result<Resp> r = Invoke<Req, Resp>(req, rpc, /*write=*/true);
    ReturnSlot(slot);
    return r;
  }
};

Result<std::unique_ptr<Client>> Client::Connect(ClientOptions options) {
  if (options.endpoints.empty()) return InvalidArgumentError("no endpoints given");
  for (const std::string& e : options.endpoints) {
    if (e.find(':') == std::string::npos) {
      return InvalidArgumentError("endpoint '" + e + "' is not host:port");
    }
  }
  if (options.min_backoff <= Duration::Zero() || options.max_backoff < options.min_backoff) {
    return InvalidArgumentError("need 0 < min_backoff <= max_backoff");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

const ClientOptions& Client::options() const { return impl_->options; }
std::string Client::current_endpoint() const { return impl_->Current(); }

#define META_RPC(service, method)                                       \
  [](Stubs& s, grpc::ClientContext* ctx, const auto& req, auto* resp) { \
    return s.service->method(ctx, req, resp);                           \
  }

Result<v1::GetResponse> Client::Get(const std::string& key, v1::ReadConsistency consistency) {
  v1::GetRequest req;
  req.set_key(key);
  req.set_consistency(consistency);
  return impl_->Invoke<v1::GetRequest, v1::GetResponse>(req, META_RPC(kv, Get), false);
}

Result<v1::ListResponse> Client::List(v1::ListRequest req) {
  return impl_->Invoke<v1::ListRequest, v1::ListResponse>(req, META_RPC(kv, List), false);
}

Result<v1::PutResponse> Client::Put(const std::string& key, const std::string& value) {
  v1::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  return impl_->Write<v1::PutRequest, v1::PutResponse>(std::move(req), META_RPC(kv, Put));
}

Result<v1::DeleteResponse> Client::Delete(const std::string& key) {
  v1::DeleteRequest req;
  req.set_key(key);
  return impl_->Write<v1::DeleteRequest, v1::DeleteResponse>(std::move(req), META_RPC(kv, Delete));
}

Result<v1::CompareAndSetResponse> Client::CompareAndSet(v1::CompareAndSetRequest req) {
  return impl_->Write<v1::CompareAndSetRequest, v1::CompareAndSetResponse>(
      std::move(req), META_RPC(kv, CompareAndSet));
}

Result<v1::CommitOffsetsResponse> Client::CommitOffsets(v1::CommitOffsetsRequest req) {
  return impl_->Write<v1::CommitOffsetsRequest, v1::CommitOffsetsResponse>(
      std::move(req), META_RPC(offset, Commit));
}

Result<v1::GetOffsetsResponse> Client::GetOffsets(v1::GetOffsetsRequest req) {
  return impl_->Invoke<v1::GetOffsetsRequest, v1::GetOffsetsResponse>(req, META_RPC(offset, Get),
                                                                      false);
}

Result<v1::SessionBatchResponse> Client::SessionBatch(v1::SessionBatchRequest req) {
  return impl_->Write<v1::SessionBatchRequest, v1::SessionBatchResponse>(std::move(req),
                                                                         META_RPC(session, Batch));
}

Result<v1::GetSessionResponse> Client::GetSession(const std::string& client_id,
                                                  v1::ReadConsistency consistency) {
  v1::GetSessionRequest req;
  req.set_client_id(client_id);
  req.set_consistency(consistency);
  return impl_->Invoke<v1::GetSessionRequest, v1::GetSessionResponse>(req, META_RPC(session, Get),
                                                                      false);
}

Result<v1::ListSessionsResponse> Client::ListSessions(v1::ListSessionsRequest req) {
  return impl_->Invoke<v1::ListSessionsRequest, v1::ListSessionsResponse>(
      req, META_RPC(session, List), false);
}

Result<v1::StatusResponse> Client::Status(const std::string& endpoint, bool with_digests) {
  v1::StatusRequest req;
  req.set_with_digests(with_digests);
  return impl_->Invoke<v1::StatusRequest, v1::StatusResponse>(req, META_RPC(cluster, Status), false,
                                                              endpoint);
}

Result<v1::SnapshotResponse> Client::Snapshot(const std::string& endpoint) {
  return impl_->Invoke<v1::SnapshotRequest, v1::SnapshotResponse>(
      v1::SnapshotRequest(), META_RPC(cluster, Snapshot), false, endpoint);
}

// Membership changes and transfers are idempotent (the server waits for the target state), so
// they are retried like reads.
Result<v1::MemberAddResponse> Client::MemberAdd(uint64_t id, const std::string& addr,
                                                bool learner) {
  v1::MemberAddRequest req;
  req.mutable_member()->set_id(id);
  req.mutable_member()->set_addr(addr);
  req.set_learner_only(learner);
  return impl_->Invoke<v1::MemberAddRequest, v1::MemberAddResponse>(
      req, META_RPC(cluster, MemberAdd), false);
}

Result<v1::MemberRemoveResponse> Client::MemberRemove(uint64_t id) {
  v1::MemberRemoveRequest req;
  req.set_id(id);
  return impl_->Invoke<v1::MemberRemoveRequest, v1::MemberRemoveResponse>(
      req, META_RPC(cluster, MemberRemove), false);
}

Result<v1::TransferLeaderResponse> Client::TransferLeader(uint64_t group_id, uint64_t to) {
  v1::TransferLeaderRequest req;
  req.set_group_id(group_id);
  req.set_to(to);
  return impl_->Invoke<v1::TransferLeaderRequest, v1::TransferLeaderResponse>(
      req, META_RPC(cluster, TransferLeader), false);
}

#undef META_RPC

}  // namespace meta::client
