// The node-to-node transport over gRPC: one client stream from each node to each peer
// (proto/transport.proto), carrying batches of encoded RaftFrames. Everything runs on the node's
// loop thread, which polls the server's completion queue (net/real_env.h): no frame is handed to
// another thread on its way out or in.
//
// Sending: Send() queues the frame and returns at once. The queue is bounded (frames and bytes,
// core/limits.h); a full queue, or a peer whose stream is down and backing off, answers
// UNAVAILABLE, which the node reports to Raft as unreachable. Whatever is queued goes out as one
// batch when the stream is idle, and otherwise when the write before completes. A broken stream
// drops what was queued (Raft resends), waits a jittered, doubling backoff and reconnects. A
// stream the receiver ended while nothing was being written is noticed at the next write (Raft
// heartbeats are at most a heartbeat interval apart).
//
// Receiving: the service checks the stream's metadata before reading a frame: cluster id, sender
// and receiver must match, or the stream is refused (PERMISSION_DENIED / FAILED_PRECONDITION).
// A stream has one read outstanding; each batch read is handed to the node at once, so a loop
// that falls behind reads more slowly and gRPC's flow control holds the sender back.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/transport.h"
#include "net/real_env.h"

namespace grpc {
class Service;
class ServerCompletionQueue;
}  // namespace grpc

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
  // After the loop drained its queue (RealEnv::Stop), so no operation of ours is in flight.
  ~GrpcTransport() override;

  // The receiving side, to register with the gRPC server before it is built.
  grpc::Service* service();

  // Loop thread, from here on. Starts accepting streams on `cq`, the queue the loop polls, and
  // connects to the peers whose addresses are known.
  void Start(grpc::ServerCompletionQueue* cq);
  // Where peer `id` listens (host:port). A changed address reconnects.
  void SetPeerAddress(NodeId id, const std::string& addr);

  Status Send(NodeId to, std::string payload) override;
  void SetReceiver(Receiver receiver) override;

  // Cancels every outgoing stream and stops reconnecting; queued frames are dropped. Incoming
  // streams end with the server's shutdown. Idempotent.
  void Stop();

 private:
  class Peer;
  class Inbound;

  RealEnv& env_;
  const TransportOptions options_;
  Receiver receiver_;
  struct Service;
  std::unique_ptr<Service> service_;
  grpc::ServerCompletionQueue* cq_ = nullptr;
  bool stopped_ = false;
  std::map<NodeId, std::unique_ptr<Peer>> peers_;
};

}  // namespace meta::net
