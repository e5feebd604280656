// The public gRPC services of package meta.v1 (proto/meta/), served by one node.
//
// The services use gRPC's async API on the completion queue the node's loop polls
// (net/real_env.h): a call is matched, run and answered on the loop thread. Each call runs as a
// fiber; the fiber validates the request (INVALID_ARGUMENT naming the field, before anything
// is proposed), calls the node, fills the response header and finishes the call. A write sent to a
// follower is forwarded to the leader inside Raft; reads are linearizable unless the request asks
// for SERIALIZABLE. Errors carry the group's leader in trailing metadata (x-meta-leader-id,
// x-meta-leader-addr).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/real_env.h"
#include "store/node.h"

namespace grpc {
class Service;
class ServerCompletionQueue;
}  // namespace grpc

namespace meta::net {

class GrpcTransport;

// What the services share with the server that owns them.
struct ApiContext {
  RealEnv* env = nullptr;
  store::Node* node = nullptr;  // loop thread only; null until the node is open
  GrpcTransport* transport = nullptr;
  uint64_t cluster_id = 0;
  // The address a member listens on, or "" (loop thread).
  std::function<std::string(NodeId)> address_of;
  // All members known: configured and replicated (loop thread).
  std::function<std::map<NodeId, std::string>()> members;
  // Set when the server drains: new calls are refused with UNAVAILABLE.
  std::atomic<bool> draining{false};
  // Calls accepted and not yet finished.
  std::atomic<int> in_flight{0};
};

// One public service.
class ApiService {
 public:
  virtual ~ApiService() = default;
  // To register with the gRPC server before it is built.
  virtual grpc::Service* service() = 0;
  // Loop thread: starts taking calls from `cq`, the queue the loop polls. The service outlives
  // RealEnv::Stop, which frees the calls still open.
  virtual void Start(grpc::ServerCompletionQueue* cq) = 0;
};

std::vector<std::unique_ptr<ApiService>> MakeApiServices(ApiContext& api);

}  // namespace meta::net
