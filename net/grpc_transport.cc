#include "net/grpc_transport.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/logger.h>

#include <deque>

#include "core/limits.h"
#include "net/grpc_util.h"
#include "proto/transport.grpc.pb.h"

namespace meta::net {
namespace {

constexpr char kClusterHeader[] = "x-meta-cluster-id";
constexpr char kFromHeader[] = "x-meta-from";
constexpr char kToHeader[] = "x-meta-to";

}  // namespace

struct GrpcTransport::Service : transportpb::RaftTransport::AsyncService {};

// One peer's outgoing stream and its queue. Loop thread only. At most one write is in flight;
// a stream being torn down waits for its operations to complete, then reconnects after a backoff.
class GrpcTransport::Peer {
 public:
  Peer(GrpcTransport& t, NodeId id, std::string addr)
      : t_(t),
        id_(id),
        addr_(std::move(addr)),
        random_(t.env_.UnixNanos() ^ (id * 0x9e3779b97f4a7c15)),
        backoff_(t.options_.min_backoff) {}

  void SetAddress(const std::string& addr) {
    if (addr == addr_) return;
    addr_ = addr;
    channel_.reset();
    if (stream_ != nullptr) {
      reconnect_now_ = true;
      Teardown();
    }
  }

  Status Enqueue(std::string payload) {
    if (down_) return UnavailableError("peer " + std::to_string(id_) + " is unreachable");
    if (queue_.size() >= kTransportQueueFrames ||
        queued_bytes_ + payload.size() > kTransportQueueBytes) {
      return UnavailableError("send queue to peer " + std::to_string(id_) + " is full");
    }
    queued_bytes_ += payload.size();
    queue_.push_back(std::move(payload));
    MaybeWrite();
    return Status::Ok();
  }

  void Connect() {
    if (t_.stopped_ || stream_ != nullptr) return;
    if (backoff_timer_.valid()) t_.env_.Cancel(backoff_timer_);
    backoff_timer_ = TimerId{};
    if (channel_ == nullptr) {
      grpc::ChannelArguments args;
      args.SetMaxSendMessageSize(static_cast<int>(kMaxRequestBytes));
      args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 1000);
      // The loop thread is the connection's only poller, so a ping's answer waits for the loop:
      // the timeout must outlast a slow turn (an election has long started by then).
      args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
      args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
      channel_ = grpc::CreateCustomChannel(addr_, grpc::InsecureChannelCredentials(), args);
      stub_ = transportpb::RaftTransport::NewStub(channel_);
    }
    ctx_ = std::make_unique<grpc::ClientContext>();
    ctx_->AddMetadata(kClusterHeader, std::to_string(t_.options_.cluster_id));
    ctx_->AddMetadata(kFromHeader, std::to_string(t_.options_.self));
    ctx_->AddMetadata(kToHeader, std::to_string(id_));
    stream_ = stub_->PrepareAsyncStream(ctx_.get(), &end_, t_.cq_);
    down_ = false;  // take frames again: they go out once the stream is up
    up_ = wrote_ = tearing_down_ = false;
    ++ops_;
    stream_->StartCall(static_cast<CqTag*>(&started_));
  }

  // Cancels the stream (if any) and stops reconnecting.
  void Stop() {
    if (backoff_timer_.valid()) t_.env_.Cancel(backoff_timer_);
    backoff_timer_ = TimerId{};
    queue_.clear();
    queued_bytes_ = 0;
    down_ = true;
    if (stream_ != nullptr) Teardown();
  }

 private:
  void Started(bool ok) {
    --ops_;
    if (!ok || tearing_down_) {
      Teardown();
      return;
    }
    up_ = true;
    MaybeWrite();
  }

  // Starts a write of everything queued (up to kTransportBatchBytes) if the stream is up and idle.
  void MaybeWrite() {
    if (!up_ || writing_ || tearing_down_ || queue_.empty()) return;
    batch_.Clear();
    size_t bytes = 0;
    while (!queue_.empty() &&
           (batch_.frames_size() == 0 || bytes + queue_.front().size() <= kTransportBatchBytes)) {
      bytes += queue_.front().size();
      queued_bytes_ -= queue_.front().size();
      batch_.add_frames(std::move(queue_.front()));
      queue_.pop_front();
    }
    writing_ = true;
    ++ops_;
    stream_->Write(batch_, static_cast<CqTag*>(&written_));
  }

  void Written(bool ok) {
    --ops_;
    writing_ = false;
    if (!ok || tearing_down_) {
      Teardown();  // the batch is lost with the stream; Raft resends
      return;
    }
    wrote_ = true;
    MaybeWrite();
  }

  // Ends the stream: cancels what is in flight, and once nothing is, reads its status (while the
  // loop runs) or just releases it (while the loop drains its queue at shutdown).
  void Teardown() {
    if (!tearing_down_) {
      tearing_down_ = true;
      up_ = false;
      ctx_->TryCancel();
    }
    if (ops_ > 0) return;      // the operation in flight completes (failed) and calls back here
    if (t_.env_.stopping()) {  // no new operation may start
      Release();
      return;
    }
    ++ops_;
    stream_->Finish(&status_, static_cast<CqTag*>(&finished_));
  }

  void Finished(bool) {
    --ops_;
    if (!t_.stopped_ && !reconnect_now_) {
      const grpc::StatusCode code = status_.error_code();
      if (code == grpc::StatusCode::PERMISSION_DENIED ||
          code == grpc::StatusCode::FAILED_PRECONDITION) {
        t_.env_.log().error("peer {} at {} refused our stream: {}", id_, addr_,
                            status_.error_message());
      } else {
        t_.env_.log().debug("stream to peer {} at {} ended: {}", id_, addr_,
                            status_.error_message());
      }
    }
    Release();
  }

  // The stream is over: frees it, then reconnects at once (a new address) or after a backoff.
  void Release() {
    stream_.reset();
    ctx_.reset();
    if (t_.stopped_ || t_.env_.stopping()) return;
    if (reconnect_now_) {
      reconnect_now_ = false;
      Connect();
      return;
    }
    // Refuse frames while backing off: Raft learns the peer is unreachable.
    down_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    if (wrote_) backoff_ = t_.options_.min_backoff;
    // Jitter in [backoff/2, backoff*3/2) keeps peers that lost each other from reconnecting in
    // lockstep.
    const Duration wait = Duration::Nanos(
        backoff_.nanos() / 2 +
        static_cast<int64_t>(random_.Uniform(static_cast<uint64_t>(backoff_.nanos()))));
    backoff_ = std::min(backoff_ * 2, t_.options_.max_backoff);
    backoff_timer_ = t_.env_.After(wait, [this] {
      backoff_timer_ = TimerId{};
      Connect();
    });
  }

  GrpcTransport& t_;
  const NodeId id_;
  std::string addr_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<transportpb::RaftTransport::Stub> stub_;
  // The stream (null between streams) and the state of its operations.
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientAsyncWriter<transportpb::FrameBatch>> stream_;
  transportpb::StreamEnd end_;
  grpc::Status status_;
  transportpb::FrameBatch batch_;  // the write in flight
  int ops_ = 0;                    // operations in flight on the stream
  bool up_ = false;                // started, not torn down: writes may go
  bool writing_ = false;
  bool wrote_ = false;  // a write of this stream went through
  bool tearing_down_ = false;
  bool reconnect_now_ = false;  // the address changed: no backoff
  CqCallback<std::function<void(bool)>> started_{[this](bool ok) { Started(ok); }};
  CqCallback<std::function<void(bool)>> written_{[this](bool ok) { Written(ok); }};
  CqCallback<std::function<void(bool)>> finished_{[this](bool ok) { Finished(ok); }};

  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool down_ = false;  // backing off: frames refused
  Random random_;
  Duration backoff_;
  TimerId backoff_timer_;
};

// One incoming stream: waits for a peer to open it (and asks for the next one), checks who is
// speaking, then reads batches until the stream ends. Frees itself after its last operation.
class GrpcTransport::Inbound final : public CqTag {
 public:
  explicit Inbound(GrpcTransport& t) : t_(t), reader_(&ctx_) {
    t_.service_->RequestStream(&ctx_, &reader_, t_.cq_, t_.cq_, static_cast<CqTag*>(this));
  }

  void Done(bool ok) override {
    if (t_.env_.stopping()) {  // the server is shut down; nothing more starts
      delete this;
      return;
    }
    switch (state_) {
      case State::kRequested:
        if (!ok) {  // the server is shutting down
          delete this;
          return;
        }
        new Inbound(t_);
        if (grpc::Status refused = Check(); !refused.ok()) {
          state_ = State::kFinishing;
          reader_.FinishWithError(refused, static_cast<CqTag*>(this));
          return;
        }
        state_ = State::kReading;
        reader_.Read(&batch_, static_cast<CqTag*>(this));
        return;
      case State::kReading:
        if (!ok) {  // the sender closed the stream, or it broke
          state_ = State::kFinishing;
          reader_.Finish(end_, grpc::Status::OK, static_cast<CqTag*>(this));
          return;
        }
        if (t_.receiver_) {
          for (std::string& frame : *batch_.mutable_frames()) t_.receiver_(from_, std::move(frame));
        }
        batch_.Clear();
        reader_.Read(&batch_, static_cast<CqTag*>(this));
        return;
      case State::kFinishing:
        delete this;
        return;
    }
  }

 private:
  enum class State { kRequested, kReading, kFinishing };

  grpc::Status Check() {
    const auto& md = ctx_.client_metadata();
    const std::optional<uint64_t> cluster = MetadataU64(md, kClusterHeader);
    const std::optional<uint64_t> from = MetadataU64(md, kFromHeader);
    const std::optional<uint64_t> to = MetadataU64(md, kToHeader);
    const TransportOptions& o = t_.options_;
    if (!cluster || !from || !to || *from == 0) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a Raft stream must carry x-meta-cluster-id, x-meta-from and x-meta-to");
    }
    if (*cluster != o.cluster_id) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "cluster id " + std::to_string(*cluster) + " is not this cluster's (" +
                              std::to_string(o.cluster_id) + ")");
    }
    if (*to != o.self) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "this is node " + std::to_string(o.self) + ", not node " +
                              std::to_string(*to) + ": check meta_addrs");
    }
    from_ = *from;
    return grpc::Status::OK;
  }

  GrpcTransport& t_;
  grpc::ServerContext ctx_;
  grpc::ServerAsyncReader<transportpb::StreamEnd, transportpb::FrameBatch> reader_;
  State state_ = State::kRequested;
  NodeId from_ = 0;
  transportpb::FrameBatch batch_;
  transportpb::StreamEnd end_;
};

GrpcTransport::GrpcTransport(RealEnv& env, TransportOptions options)
    : env_(env), options_(options), service_(std::make_unique<Service>()) {}

GrpcTransport::~GrpcTransport() = default;

grpc::Service* GrpcTransport::service() { return service_.get(); }

void GrpcTransport::Start(grpc::ServerCompletionQueue* cq) {
  cq_ = cq;
  new Inbound(*this);
  for (auto& [id, peer] : peers_) peer->Connect();
}

void GrpcTransport::SetPeerAddress(NodeId id, const std::string& addr) {
  auto it = peers_.find(id);
  if (it == peers_.end()) {
    it = peers_.emplace(id, std::make_unique<Peer>(*this, id, addr)).first;
  } else {
    it->second->SetAddress(addr);
  }
  if (cq_ != nullptr) it->second->Connect();
}

Status GrpcTransport::Send(NodeId to, std::string payload) {
  auto it = peers_.find(to);
  if (it == peers_.end()) {
    return UnavailableError("no address known for node " + std::to_string(to));
  }
  return it->second->Enqueue(std::move(payload));
}

void GrpcTransport::SetReceiver(Receiver receiver) { receiver_ = std::move(receiver); }

void GrpcTransport::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& [id, peer] : peers_) peer->Stop();
}

}  // namespace meta::net
