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

// One peer's outgoing stream. A batch is written by whichever thread finds the stream idle: the
// loop, when it queues a frame (no hand-off to another thread, so no wake-up on the way out), or
// gRPC, when the previous write completes and more is queued. The peer's own thread only connects,
// notices a broken stream, and backs off.
class GrpcTransport::Peer {
 public:
  Peer(const TransportOptions& options, NodeId id, std::string addr, Random random,
       std::shared_ptr<spdlog::logger> log)
      : options_(options), id_(id), addr_(std::move(addr)), random_(random), log_(std::move(log)) {
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(),
                         ("meta-peer-" + std::to_string(id_)).substr(0, 15).c_str());
      Run();
    });
  }

  ~Peer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void SetAddress(const std::string& addr) {
    {
      std::lock_guard lock(mu_);
      if (addr == addr_) return;
      addr_ = addr;
      reconnect_ = true;
    }
    cv_.notify_all();
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
    MaybeWrite();
    return Status::Ok();
  }

 private:
  // The client side of one stream. It lives on the peer thread's stack for the stream's lifetime;
  // a hold keeps gRPC from finishing it while writes may still be started from outside reactions.
  class Writer final : public grpc::ClientWriteReactor<transportpb::FrameBatch> {
   public:
    explicit Writer(Peer* peer) : peer_(peer) {}
    void OnWriteDone(bool ok) override { peer_->WriteDone(ok); }
    void OnDone(const grpc::Status& status) override { peer_->StreamDone(status); }
    transportpb::FrameBatch batch;  // the write in flight

   private:
    Peer* peer_;
  };

  void Run() {
    Duration backoff = options_.min_backoff;
    for (;;) {
      std::string addr;
      {
        std::lock_guard lock(mu_);
        if (stop_) return;
        addr = addr_;
        reconnect_ = false;
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

  // Opens a stream to `addr` and lets batches be written on it until a write fails, the address
  // changes or the peer stops. True if at least one batch went through. A stream the receiver
  // ends while nothing is being written is noticed at the next write (Raft heartbeats are at
  // most a heartbeat interval apart).
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
    transportpb::StreamEnd end;
    Writer writer(this);
    stub->async()->Stream(&ctx, &end, &writer);
    writer.AddHold();  // after binding the reactor to the call, before starting it
    writer.StartCall();
    {
      std::unique_lock lock(mu_);
      broken_ = done_ = wrote_ = false;
      writer_ = &writer;
    }
    MaybeWrite();
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || reconnect_ || broken_; });
      writer_ = nullptr;  // no write starts from here on
    }
    ctx.TryCancel();  // fails a write in flight
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return !writing_; });
    }
    writer.RemoveHold();  // gRPC may now finish the stream: OnDone
    grpc::Status status;
    bool wrote;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return done_; });
      status = status_;
      wrote = wrote_;
      if (stop_ || reconnect_) return wrote;
    }
    if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
        status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      log_->error("peer {} at {} refused our stream: {}", id_, addr, status.error_message());
    } else {
      log_->debug("stream to peer {} at {} ended: {}", id_, addr, status.error_message());
    }
    return wrote;
  }

  // Starts a write of everything queued (up to kTransportBatchBytes) if the stream is up and
  // idle. Any thread; never with mu_ held (gRPC may run OnWriteDone inside StartWrite).
  void MaybeWrite() {
    Writer* w;
    {
      std::lock_guard lock(mu_);
      if (writer_ == nullptr || writing_ || queue_.empty()) return;
      w = writer_;
      w->batch.Clear();
      size_t bytes = 0;
      while (!queue_.empty() && (w->batch.frames_size() == 0 ||
                                 bytes + queue_.front().size() <= kTransportBatchBytes)) {
        bytes += queue_.front().size();
        queued_bytes_ -= queue_.front().size();
        w->batch.add_frames(std::move(queue_.front()));
        queue_.pop_front();
      }
      writing_ = true;
    }
    w->StartWrite(&w->batch);
  }

  void WriteDone(bool ok) {
    bool wake;  // the peer thread waits for a failed write, or for this one during a teardown
    {
      std::lock_guard lock(mu_);
      writing_ = false;
      if (ok) {
        wrote_ = true;
      } else {
        broken_ = true;  // the batch is lost with the stream; Raft resends
      }
      wake = !ok || writer_ == nullptr;
    }
    if (wake) cv_.notify_all();
    if (ok) MaybeWrite();
  }

  void StreamDone(const grpc::Status& status) {
    // Notified under the lock: once the peer thread sees done_ it may return, and ~Peer may free
    // cv_, before an unlocked notify would run.
    std::lock_guard lock(mu_);
    done_ = true;
    status_ = status;
    cv_.notify_all();
  }

  const TransportOptions& options_;
  const NodeId id_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string addr_;               // guarded by mu_
  std::deque<std::string> queue_;  // guarded by mu_
  size_t queued_bytes_ = 0;        // guarded by mu_
  bool down_ = false;              // guarded by mu_: backing off, frames refused
  bool stop_ = false;              // guarded by mu_
  bool reconnect_ = false;         // guarded by mu_: the address changed
  // The live stream (guarded by mu_): null when there is none, or while it is being torn down.
  Writer* writer_ = nullptr;
  bool writing_ = false;  // guarded by mu_: a write is in flight
  bool broken_ = false;   // guarded by mu_: a write failed
  bool wrote_ = false;    // guarded by mu_: a write of this stream went through
  bool done_ = false;     // guarded by mu_: OnDone ran
  grpc::Status status_;   // guarded by mu_: the stream's end, once done_
  Random random_;         // peer thread only
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
  peers.clear();  // joins the peers' threads
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
