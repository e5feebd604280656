// The simulated network: one Transport per node; every message becomes a World event on the
// receiving node after a latency drawn from the sending link's own random stream. Faults (drops,
// partitions, clogging) arrive with the nemesis; this is the reliable, reordering-free base.
#pragma once

#include <map>
#include <memory>

#include "core/time.h"
#include "core/transport.h"

namespace meta::sim {

class World;

struct LinkOptions {
  Duration latency_min = Micros(100);
  Duration latency_max = Millis(2);
};

class SimNetwork {
 public:
  explicit SimNetwork(World& world);
  ~SimNetwork();

  void AddNode(NodeId id);
  // A restarted node starts with no receiver (its new process installs one).
  void ResetNode(NodeId id);
  Transport& TransportOf(NodeId id);

  LinkOptions& options() { return options_; }
  uint64_t messages_sent() const { return messages_sent_; }
  uint64_t messages_delivered() const { return messages_delivered_; }

 private:
  class NodeTransport;
  friend class NodeTransport;

  Status Send(NodeId from, NodeId to, std::string payload);
  Random& LinkRandom(NodeId from, NodeId to);

  World& world_;
  LinkOptions options_;
  std::map<NodeId, std::unique_ptr<NodeTransport>> transports_;
  std::map<std::pair<NodeId, NodeId>, Random> link_random_;
  uint64_t messages_sent_ = 0;
  uint64_t messages_delivered_ = 0;
};

}  // namespace meta::sim
