// The simulated network: one Transport per node; every message becomes a World event on the
// receiving node after a latency drawn from the sending link's own random stream (so messages
// may overtake each other). Faults: random drops, duplicates and extra delay; cut links
// (symmetric or one-way partitions); clogged nodes whose traffic waits until a time
// (FoundationDB's clogging, and "swizzle" by clogging many nodes and unclogging them in turn).
#pragma once

#include <map>
#include <memory>
#include <set>

#include "core/time.h"
#include "core/transport.h"

namespace meta::sim {

class World;

struct LinkOptions {
  Duration latency_min = Micros(100);
  Duration latency_max = Millis(2);
  double drop = 0;                              // probability a message is lost
  double duplicate = 0;                         // probability it is delivered twice
  Duration extra_delay_max = Duration::Zero();  // uniform extra delay: more reordering
  // Messages overtake each other on one link (latencies drawn independently). False: each link
  // delivers in send order, as one TCP stream (the real transport's) does; latency still varies.
  bool reorder = true;
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

  // Partitions. Cut(a, b) stops messages from a to b only (asymmetric); Partition(side) cuts
  // every link between `side` and the rest, both ways.
  void Cut(NodeId from, NodeId to) { cut_.insert({from, to}); }
  void Partition(const std::set<NodeId>& side);
  void Heal() { cut_.clear(); }
  bool IsCut(NodeId from, NodeId to) const { return cut_.count({from, to}) != 0; }
  // Messages from or to `node` are held until `until` (then delivered, in some order).
  void Clog(NodeId node, Instant until);
  void Unclog() { clogged_until_.clear(); }

  uint64_t messages_sent() const { return messages_sent_; }
  uint64_t messages_delivered() const { return messages_delivered_; }
  uint64_t messages_dropped() const { return messages_dropped_; }
  uint64_t messages_duplicated() const { return messages_duplicated_; }

 private:
  class NodeTransport;
  friend class NodeTransport;

  Status Send(NodeId from, NodeId to, std::string payload);
  Random& LinkRandom(NodeId from, NodeId to);
  std::map<std::pair<NodeId, NodeId>, Instant> last_delivery_;  // per link, when !reorder

  World& world_;
  LinkOptions options_;
  std::map<NodeId, std::unique_ptr<NodeTransport>> transports_;
  std::map<std::pair<NodeId, NodeId>, Random> link_random_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::map<NodeId, Instant> clogged_until_;
  uint64_t messages_sent_ = 0;
  uint64_t messages_delivered_ = 0;
  uint64_t messages_dropped_ = 0;
  uint64_t messages_duplicated_ = 0;
};

}  // namespace meta::sim
