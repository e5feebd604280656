#include "sim/pingpong.h"

#include <charconv>
#include <map>
#include <memory>

#include "core/check.h"
#include "core/future.h"
#include "core/transport.h"
#include "sim/network.h"
#include "sim/world.h"

namespace meta::sim {
namespace {

constexpr Duration kPongTimeout = Millis(20);

struct Node {
  Env* env = nullptr;
  uint64_t next_ping = 1;
  std::map<uint64_t, Promise<Unit>> pending;  // ping id -> waiting pinger
  uint64_t round_trips = 0;
  uint64_t timeouts = 0;
};

uint64_t ParseId(std::string_view text) {
  uint64_t id = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  CHECK(ec == std::errc() && ptr == text.data() + text.size()) << "bad id '" << text << "'";
  return id;
}

void OnMessage(Node& node, NodeId from, const std::string& payload) {
  if (payload.starts_with("ping ")) {
    // Answer after a random processing delay of up to 30 ms: longer than the timeout sometimes.
    std::string pong = "pong " + payload.substr(5);
    node.env->After(node.env->random().Range(Duration::Zero(), Millis(30)),
                    [&node, from, pong = std::move(pong)]() mutable {
                      node.env->transport()->Send(from, std::move(pong)).IgnoreError();
                    });
    return;
  }
  CHECK(payload.starts_with("pong ")) << "unexpected message '" << payload << "'";
  auto it = node.pending.find(ParseId(std::string_view(payload).substr(5)));
  if (it != node.pending.end()) it->second.Set(Unit{});  // late pongs find nothing
}

void Pinger(Node& node, const std::vector<NodeId>& peers, Instant end) {
  Env& env = *node.env;
  while (env.Now() < end) {
    if (!fiber::Sleep(env.random().Range(Millis(1), Millis(50))).ok()) return;
    NodeId peer = peers[env.random().Uniform(peers.size())];
    if (peer == env.node_id()) continue;
    const uint64_t id = node.next_ping++;
    Future<Unit> pong = node.pending[id].GetFuture();
    CHECK(env.transport()->Send(peer, "ping " + std::to_string(id)).ok());
    Result<Unit> r = pong.Get(kPongTimeout);
    node.pending.erase(id);
    if (r.ok()) {
      ++node.round_trips;
    } else {
      CHECK_EQ(r.status().code(), Code::kDeadlineExceeded);
      ++node.timeouts;
    }
  }
}

}  // namespace

PingPongReport RunPingPongWorkload(const PingPongOptions& options) {
  CHECK_GE(options.nodes, 2) << "ping-pong needs two nodes";
  World world(WorldOptions{
      .seed = options.seed, .record_trace_lines = options.record_trace_lines, .log_sinks = {}});
  std::vector<NodeId> ids;
  for (int i = 1; i <= options.nodes; ++i) ids.push_back(static_cast<NodeId>(i));
  std::vector<std::unique_ptr<Node>> nodes;
  const Instant end = world.Now() + options.duration;
  for (NodeId id : ids) {
    auto node = std::make_unique<Node>();
    Node* n = node.get();
    n->env = &world.AddNode(id);
    n->env->transport()->SetReceiver(
        [n](NodeId from, std::string payload) { OnMessage(*n, from, payload); });
    for (int p = 0; p < options.pingers_per_node; ++p) {
      n->env->fibers().Spawn("pinger", [n, &ids, end] { Pinger(*n, ids, end); });
    }
    nodes.push_back(std::move(node));
  }
  world.RunUntilQuiescent();

  PingPongReport report;
  report.virtual_time = world.Now() - Instant();
  report.events = world.events_run();
  report.messages = world.network().messages_sent();
  for (const auto& n : nodes) {
    report.round_trips += n->round_trips;
    report.timeouts += n->timeouts;
  }
  report.trace_hash = world.trace().hash();
  report.trace_lines = world.trace().lines();
  return report;
}

}  // namespace meta::sim
