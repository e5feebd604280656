// The node-to-node transport over gRPC: one client stream from each node to each peer
// (proto/transport.proto), carrying batches of encoded RaftFrames.
//
// Sending: Send() (loop thread) queues the frame and returns at once. The queue is bounded (frames
// and bytes, core/limits.h); a full queue, or a peer whose stream is down and backing off, answers
// UNAVAILABLE, which the node reports to Raft as unreachable. Whatever is queued goes out as one
// batch, written by the loop itself when the stream is idle and otherwise when the write before
// completes, so a frame is not handed to another thread on its way out. A thread per peer opens
// the stream; on a broken stream it drops what was queued (Raft resends), waits a jittered,
// doubling backoff and reconnects.
//
// Receiving: the service checks the stream's metadata before reading a frame: cluster id, sender
// and receiver must match, or the stream is refused (PERMISSION_DENIED / FAILED_PRECONDITION).
// Each batch is posted to the node's loop; batches beyond a bound of undelivered bytes are dropped.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/transport.h"
#include "net/real_env.h"

namespace grpc {
class Service;
}
namespace meta::transportpb {
class FrameBatch;
}

namespace meta::net {

struct TransportOptions {
  NodeId self = 0;
  uint64_t cluster_id = 0;
  Duration min_backoff = Millis(20);
  Duration max_backoff = Millis(1000);
};

class GrpcTransport final : public Transport {
 public:
  GrpcTransport(RealEnv& env, TransportOptions options);
  ~GrpcTransport() override;  // Shutdown()

  // Where peer `id` listens (host:port). Any thread; a changed address reconnects.
  void SetPeerAddress(NodeId id, const std::string& addr);

  // Loop thread.
  Status Send(NodeId to, std::string payload) override;
  void SetReceiver(Receiver receiver) override;

  // The receiving side, to register with the gRPC server.
  grpc::Service* service();

  // Closes every stream and joins the peers' threads (queued frames are dropped). Idempotent.
  void Shutdown();

  // Frames dropped on receipt because the loop was too far behind (see kTransportPendingDelivery).
  uint64_t dropped_on_receipt() const { return dropped_on_receipt_.load(); }

 private:
  class Peer;
  class StreamService;
  class StreamReactor;

  // Called by the service: hands the frames of `batch` (moved out) from `from` to the loop.
  void Deliver(NodeId from, transportpb::FrameBatch& batch);

  RealEnv& env_;
  const TransportOptions options_;
  Receiver receiver_;  // loop thread only
  std::mutex mu_;
  std::map<NodeId, std::unique_ptr<Peer>> peers_;  // guarded by mu_
  std::unique_ptr<StreamService> service_;
  std::atomic<size_t> pending_delivery_bytes_{0};
  std::atomic<uint64_t> dropped_on_receipt_{0};
};

}  // namespace meta::net
