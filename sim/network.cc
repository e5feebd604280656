#include "sim/network.h"

#include "core/check.h"
#include "core/hash.h"
#include "sim/world.h"

namespace meta::sim {

class SimNetwork::NodeTransport final : public Transport {
 public:
  NodeTransport(SimNetwork& network, NodeId self) : network_(network), self_(self) {}

  Status Send(NodeId to, std::string payload) override {
    return network_.Send(self_, to, std::move(payload));
  }
  void SetReceiver(Receiver receiver) override { receiver_ = std::move(receiver); }
  const Receiver& receiver() const { return receiver_; }

 private:
  SimNetwork& network_;
  NodeId self_;
  Receiver receiver_;
};

SimNetwork::SimNetwork(World& world) : world_(world) {}
SimNetwork::~SimNetwork() = default;

void SimNetwork::AddNode(NodeId id) {
  transports_.emplace(id, std::make_unique<NodeTransport>(*this, id));
}

void SimNetwork::ResetNode(NodeId id) { TransportOf(id).SetReceiver(nullptr); }

Transport& SimNetwork::TransportOf(NodeId id) {
  auto it = transports_.find(id);
  CHECK(it != transports_.end()) << "no transport for node " << id;
  return *it->second;
}

Random& SimNetwork::LinkRandom(NodeId from, NodeId to) {
  auto key = std::make_pair(from, to);
  auto it = link_random_.find(key);
  if (it == link_random_.end()) {
    Random link = Random(world_.options().seed).Stream("link", HashCombine(from, to));
    it = link_random_.emplace(key, link).first;
  }
  return it->second;
}

void SimNetwork::Partition(const std::set<NodeId>& side) {
  for (const auto& [a, ta] : transports_) {
    for (const auto& [b, tb] : transports_) {
      if (side.count(a) != side.count(b)) cut_.insert({a, b});
    }
  }
}

void SimNetwork::Clog(NodeId node, Instant until) {
  Instant& u = clogged_until_[node];
  if (until > u) u = until;
}

Status SimNetwork::Send(NodeId from, NodeId to, std::string payload) {
  if (transports_.count(to) == 0) {
    return UnavailableError("no route to node " + std::to_string(to));
  }
  ++messages_sent_;
  Random& r = LinkRandom(from, to);
  // A cut link or a random drop loses the message silently, as a real network does.
  if (IsCut(from, to) || r.Chance(options_.drop)) {
    ++messages_dropped_;
    return Status::Ok();
  }
  const int copies = r.Chance(options_.duplicate) ? 2 : 1;
  messages_duplicated_ += copies - 1;
  for (int copy = 0; copy < copies; ++copy) {
    Instant at = world_.Now() + r.Range(options_.latency_min, options_.latency_max);
    if (options_.extra_delay_max > Duration::Zero()) {
      at += r.Range(Duration::Zero(), options_.extra_delay_max);
    }
    for (NodeId n : {from, to}) {
      auto it = clogged_until_.find(n);
      if (it != clogged_until_.end() && it->second > at) {
        at = it->second + r.Range(Duration::Zero(), options_.latency_max);
      }
    }
    if (!options_.reorder) {
      // Not before the link's previous message (same instant: the World keeps schedule order).
      Instant& last = last_delivery_[{from, to}];
      at = std::max(at, last);
      last = at;
    }
    const uint64_t digest = HashCombine(HashCombine(HashBytes(payload), from), to);
    world_.Schedule(at, to, EventKind::kDeliver, digest, [this, from, to, payload]() mutable {
      auto it = transports_.find(to);
      if (it == transports_.end() || !it->second->receiver()) return;
      // A link cut while the message was in flight loses it too.
      if (IsCut(from, to)) {
        ++messages_dropped_;
        return;
      }
      ++messages_delivered_;
      it->second->receiver()(from, std::move(payload));
    });
  }
  return Status::Ok();
}

}  // namespace meta::sim
