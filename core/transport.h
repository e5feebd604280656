// Message transport between nodes: the network hook of core::Env. The Raft layer hands it batches
// already encoded; implementations are the simulated network (sim/) and gRPC streams (net/).
#pragma once

#include <functional>
#include <string>

#include "core/env.h"
#include "core/status.h"

namespace meta {

class Transport {
 public:
  // Called on the receiving node's loop, once per delivered message.
  using Receiver = std::function<void(NodeId from, std::string payload)>;

  virtual ~Transport() = default;

  // Queues `payload` for `to`. Delivery is best-effort (messages may be lost, delayed or
  // reordered); UNAVAILABLE when the peer is unknown or its send queue is full.
  virtual Status Send(NodeId to, std::string payload) = 0;

  // Installs the handler for incoming messages; replaces any earlier one.
  virtual void SetReceiver(Receiver receiver) = 0;
};

}  // namespace meta
