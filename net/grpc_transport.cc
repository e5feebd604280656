#include "net/grpc_transport.h"

#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <spdlog/logger.h>

#include <condition_variable>
#include <deque>
#include <thread>

#include "core/limits.h"
#include "net/grpc_util.h"
#include "proto/transport.grpc.pb.h"

namespace meta::net {
namespace {

constexpr char kClusterHeader[] = "x-meta-cluster-id";
constexpr char kFromHeader[] = "x-meta-from";
constexpr char kToHeader[] = "x-meta-to";

}  // namespace

// One peer's outgoing stream and the thread that writes it.
class GrpcTransport::Peer {
 public:
  Peer(const TransportOptions& options, NodeId id, std::string addr, Random random,
       std::shared_ptr<spdlog::logger> log)
      : options_(options), id_(id), addr_(std::move(addr)), random_(random), log_(std::move(log)) {
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(),
                         ("meta-send-" + std::to_string(id_)).substr(0, 15).c_str());
      Run();
    });
  }

  ~Peer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      if (ctx_ != nullptr) ctx_->TryCancel();
    }
    cv_.notify_all();
    thread_.join();
  }

  void SetAddress(const std::string& addr) {
    std::lock_guard lock(mu_);
    if (addr == addr_) return;
    addr_ = addr;
    if (ctx_ != nullptr) ctx_->TryCancel();  // reconnect to the new address
  }

  Status Enqueue(std::string payload) {
    {
      std::lock_guard lock(mu_);
      if (down_) return UnavailableError("peer " + std::to_string(id_) + " is unreachable");
      if (queue_.size() >= kTransportQueueFrames ||
          queued_bytes_ + payload.size() > kTransportQueueBytes) {
        return UnavailableError("send queue to peer " + std::to_string(id_) + " is full");
      }
      queued_bytes_ += payload.size();
      queue_.push_back(std::move(payload));
    }
    cv_.notify_one();
    return Status::Ok();
  }

 private:
  void Run() {
    Duration backoff = options_.min_backoff;
    for (;;) {
      std::string addr;
      {
        std::lock_guard lock(mu_);
        if (stop_) return;
        addr = addr_;
        down_ = false;  // take frames again: the next attempt carries them
      }
      if (Stream(addr)) backoff = options_.min_backoff;
      std::unique_lock lock(mu_);
      if (stop_) return;
      down_ = true;  // refuse frames while backing off: Raft learns the peer is unreachable
      queue_.clear();
      queued_bytes_ = 0;
      // Jitter in [backoff/2, backoff*3/2) keeps peers that lost each other from reconnecting
      // in lockstep.
      const int64_t ns =
          backoff.nanos() / 2 +
          static_cast<int64_t>(random_.Uniform(static_cast<uint64_t>(backoff.nanos())));
      cv_.wait_for(lock, std::chrono::nanoseconds(ns), [this] { return stop_; });
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }

  // Opens a stream to `addr` and writes batches until it breaks or the peer stops. True if at
  // least one batch went through.
  bool Stream(const std::string& addr) {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(static_cast<int>(kMaxRequestBytes));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 1000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 1000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    auto channel = grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args);
    auto stub = transportpb::RaftTransport::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.AddMetadata(kClusterHeader, std::to_string(options_.cluster_id));
    ctx.AddMetadata(kFromHeader, std::to_string(options_.self));
    ctx.AddMetadata(kToHeader, std::to_string(id_));
    {
      std::lock_guard lock(mu_);
      if (stop_) return false;
      ctx_ = &ctx;
    }
    transportpb::StreamEnd end;
    std::unique_ptr<grpc::ClientWriter<transportpb::FrameBatch>> writer = stub->Stream(&ctx, &end);
    bool wrote = false;
    for (;;) {
      transportpb::FrameBatch batch;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) break;
        size_t bytes = 0;
        while (!queue_.empty() && (batch.frames_size() == 0 ||
                                   bytes + queue_.front().size() <= kTransportBatchBytes)) {
          bytes += queue_.front().size();
          queued_bytes_ -= queue_.front().size();
          batch.add_frames(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      if (!writer->Write(batch)) break;
      wrote = true;
    }
    ctx.TryCancel();
    const grpc::Status status = writer->Finish();
    {
      std::lock_guard lock(mu_);
      ctx_ = nullptr;
      if (stop_) return wrote;
    }
    if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
        status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      log_->error("peer {} at {} refused our stream: {}", id_, addr, status.error_message());
    } else {
      log_->debug("stream to peer {} at {} ended: {}", id_, addr, status.error_message());
    }
    return wrote;
  }

  const TransportOptions& options_;
  const NodeId id_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string addr_;                    // guarded by mu_
  std::deque<std::string> queue_;       // guarded by mu_
  size_t queued_bytes_ = 0;             // guarded by mu_
  bool down_ = false;                   // guarded by mu_
  bool stop_ = false;                   // guarded by mu_
  grpc::ClientContext* ctx_ = nullptr;  // guarded by mu_: the live stream, to cancel it
  Random random_;                       // sender thread only
  std::shared_ptr<spdlog::logger> log_;
  std::thread thread_;
};

// One incoming stream: checks who is speaking, then reads batches until the stream ends.
class GrpcTransport::StreamReactor final : public grpc::ServerReadReactor<transportpb::FrameBatch> {
 public:
  StreamReactor(GrpcTransport* transport, grpc::CallbackServerContext* ctx)
      : transport_(transport) {
    const auto& md = ctx->client_metadata();
    const std::optional<uint64_t> cluster = MetadataU64(md, kClusterHeader);
    const std::optional<uint64_t> from = MetadataU64(md, kFromHeader);
    const std::optional<uint64_t> to = MetadataU64(md, kToHeader);
    const TransportOptions& o = transport_->options_;
    if (!cluster || !from || !to || *from == 0) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a Raft stream must carry x-meta-cluster-id, x-meta-from and x-meta-to"));
      return;
    }
    if (*cluster != o.cluster_id) {
      Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "cluster id " + std::to_string(*cluster) + " is not this cluster's (" +
                              std::to_string(o.cluster_id) + ")"));
      return;
    }
    if (*to != o.self) {
      Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "this is node " + std::to_string(o.self) + ", not node " +
                              std::to_string(*to) + ": check meta_addrs"));
      return;
    }
    from_ = *from;
    StartRead(&batch_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    transport_->Deliver(from_, batch_);
    batch_.Clear();
    StartRead(&batch_);
  }

  void OnDone() override { delete this; }

 private:
  GrpcTransport* transport_;
  NodeId from_ = 0;
  transportpb::FrameBatch batch_;
};

class GrpcTransport::StreamService final : public transportpb::RaftTransport::CallbackService {
 public:
  explicit StreamService(GrpcTransport* transport) : transport_(transport) {}

  grpc::ServerReadReactor<transportpb::FrameBatch>* Stream(grpc::CallbackServerContext* ctx,
                                                           transportpb::StreamEnd*) override {
    return new StreamReactor(transport_, ctx);
  }

 private:
  GrpcTransport* transport_;
};

GrpcTransport::GrpcTransport(RealEnv& env, TransportOptions options)
    : env_(env), options_(options), service_(std::make_unique<StreamService>(this)) {}

GrpcTransport::~GrpcTransport() { Shutdown(); }

void GrpcTransport::SetPeerAddress(NodeId id, const std::string& addr) {
  std::lock_guard lock(mu_);
  auto it = peers_.find(id);
  if (it != peers_.end()) {
    it->second->SetAddress(addr);
    return;
  }
  peers_.emplace(id, std::make_unique<Peer>(options_, id, addr,
                                            Random(env_.UnixNanos() ^ (id * 0x9e3779b97f4a7c15)),
                                            env_.logger()));
}

Status GrpcTransport::Send(NodeId to, std::string payload) {
  std::lock_guard lock(mu_);
  auto it = peers_.find(to);
  if (it == peers_.end())
    return UnavailableError("no address known for node " + std::to_string(to));
  return it->second->Enqueue(std::move(payload));
}

void GrpcTransport::SetReceiver(Receiver receiver) { receiver_ = std::move(receiver); }

grpc::Service* GrpcTransport::service() { return service_.get(); }

void GrpcTransport::Shutdown() {
  std::map<NodeId, std::unique_ptr<Peer>> peers;
  {
    std::lock_guard lock(mu_);
    peers.swap(peers_);
  }
  peers.clear();  // joins the sender threads
}

void GrpcTransport::Deliver(NodeId from, transportpb::FrameBatch& frames) {
  size_t bytes = 0;
  for (const std::string& f : frames.frames()) bytes += f.size();
  if (pending_delivery_bytes_.fetch_add(bytes) + bytes > kTransportPendingDeliveryBytes) {
    pending_delivery_bytes_.fetch_sub(bytes);
    dropped_on_receipt_.fetch_add(static_cast<uint64_t>(frames.frames_size()));
    return;
  }
  std::vector<std::string> batch;
  batch.reserve(static_cast<size_t>(frames.frames_size()));
  for (std::string& f : *frames.mutable_frames()) batch.push_back(std::move(f));
  env_.Post([this, from, bytes, batch = std::move(batch)]() mutable {
    pending_delivery_bytes_.fetch_sub(bytes);
    if (!receiver_) return;
    for (std::string& frame : batch) receiver_(from, std::move(frame));
  });
}

}  // namespace meta::net
