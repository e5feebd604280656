#include "sim/world.h"

#include <spdlog/logger.h>

#include "core/check.h"
#include "core/hash.h"
#include "core/log.h"
#include "sim/network.h"

namespace meta::sim {

SimEnv::SimEnv(World& world, NodeId id, Random random, std::shared_ptr<spdlog::logger> logger)
    : Env(id, random, std::move(logger)), world_(world) {}

SimEnv::~SimEnv() { ShutdownFibers(); }

Instant SimEnv::Now() const { return world_.NodeNow(node_id()); }

int64_t SimEnv::UnixNanos() const {
  return World::kEpochUnixNanos + world_.Now().nanos() + world_.ClockOffset(node_id()).nanos();
}

TimerId SimEnv::After(Duration delay, Task fn) {
  const uint64_t digest = static_cast<uint64_t>(delay.nanos());
  return TimerId{world_.Schedule(world_.Now() + world_.TrueDuration(node_id(), delay), node_id(),
                                 EventKind::kTimer, digest, std::move(fn))};
}

bool SimEnv::Cancel(TimerId id) { return world_.CancelTimer(id.value); }

void SimEnv::Post(Task fn) {
  world_.Schedule(world_.Now(), node_id(), EventKind::kPost, 0, std::move(fn));
}

void World::SetClockRate(NodeId id, int64_t rate_ppm) {
  CHECK(rate_ppm > -1000000 && rate_ppm < 1000000) << "clock rate " << rate_ppm << " ppm";
  const Instant node_now = NodeNow(id);
  // The node's pending timers keep their deadlines on its clock: each is read on the clock's old
  // course, then placed on the new one (the queue is rebuilt; sequence numbers, and so the order
  // of simultaneous events and the timer ids, stay).
  std::vector<Event> events;
  std::vector<Instant> node_deadlines;
  events.reserve(queue_.size());
  while (!queue_.empty()) {
    events.push_back(std::move(const_cast<Event&>(queue_.top())));
    queue_.pop();
    const Event& e = events.back();
    node_deadlines.push_back(e.node == id && e.kind == EventKind::kTimer ? NodeTimeAt(id, e.at)
                                                                         : Instant());
  }
  rates_[id] = Rate{rate_ppm, now_, node_now};
  for (size_t i = 0; i < events.size(); ++i) {
    Event& e = events[i];
    if (e.node == id && e.kind == EventKind::kTimer) {
      e.at = now_ + TrueDuration(id, node_deadlines[i] - node_now);
    }
    queue_.push(std::move(e));
  }
}

Instant World::NodeTimeAt(NodeId id, Instant at) const {
  auto it = rates_.find(id);
  if (it == rates_.end()) return at;
  const Rate& r = it->second;
  const __int128 elapsed = (at - r.true_since).nanos();
  return r.node_since + Nanos(static_cast<int64_t>(elapsed * (1000000 + r.ppm) / 1000000));
}

Duration World::TrueDuration(NodeId id, Duration d) const {
  auto it = rates_.find(id);
  if (it == rates_.end() || d <= Duration::Zero()) return d;
  const __int128 scale = 1000000 + it->second.ppm;
  const __int128 t = (d.nanos() * __int128{1000000} + scale - 1) / scale;
  return t > INT64_MAX ? Duration::Max() : Nanos(static_cast<int64_t>(t));
}

Transport* SimEnv::transport() { return &world_.network().TransportOf(node_id()); }

World::World(WorldOptions options)
    : options_(std::move(options)),
      random_(Random(options_.seed).Stream("world")),
      network_(std::make_unique<SimNetwork>(*this)),
      trace_(options_.record_trace_lines) {}

World::~World() {
  // Nodes first, while the queue still exists: unwinding fibers may cancel timers.
  nodes_.clear();
}

SimEnv& World::AddNode(NodeId id) {
  CHECK(!HasNode(id)) << "node " << id << " added twice";
  auto sinks = options_.log_sinks;
  if (sinks.empty()) sinks.push_back(StderrSink());
  auto logger = MakeNodeLogger(id, std::move(sinks), [this] { return now_; });
  auto env = std::make_unique<SimEnv>(*this, id, Random(options_.seed).Stream("node", id),
                                      std::move(logger));
  SimEnv& ref = *env;
  nodes_.emplace(id, std::move(env));
  network_->AddNode(id);
  return ref;
}

SimEnv& World::RestartNode(NodeId id) {
  auto it = nodes_.find(id);
  CHECK(it != nodes_.end()) << "restarting unknown node " << id;
  const uint64_t incarnation = it->second->incarnation() + 1;
  auto logger = it->second->logger();
  it->second.reset();  // unwinds its fibers while the world still works
  // A restarted process draws fresh randomness: a stream of its own per incarnation.
  auto env = std::make_unique<SimEnv>(
      *this, id, Random(options_.seed).Stream("node", HashCombine(id, incarnation)), logger);
  env->incarnation_ = incarnation;
  it->second = std::move(env);
  network_->ResetNode(id);
  return *it->second;
}

SimEnv& World::node(NodeId id) {
  auto it = nodes_.find(id);
  CHECK(it != nodes_.end()) << "unknown node " << id;
  return *it->second;
}

std::vector<NodeId> World::node_ids() const {
  std::vector<NodeId> ids;
  for (const auto& [id, env] : nodes_) ids.push_back(id);
  return ids;
}

uint64_t World::Schedule(Instant at, NodeId node, EventKind kind, uint64_t digest, Task fn) {
  if (at < now_) at = now_;
  const uint64_t seq = next_seq_++;
  if (kind == EventKind::kTimer) pending_timers_.insert(seq);
  auto it = nodes_.find(node);
  const uint64_t incarnation = it == nodes_.end() ? 0 : it->second->incarnation();
  queue_.push(Event{at, seq, node, incarnation, kind, digest, std::move(fn)});
  return seq;
}

bool World::CancelTimer(uint64_t seq) {
  // A timer postponed by a pause lives on under a new sequence number.
  for (auto alias = timer_aliases_.find(seq); alias != timer_aliases_.end();
       alias = timer_aliases_.find(seq)) {
    seq = alias->second;
  }
  return pending_timers_.erase(seq) != 0;
}

void World::Pause(NodeId id, Instant until) {
  Instant& u = paused_until_[id];
  if (until > u) u = until;
}

bool World::StepUntil(Instant deadline) {
  while (!queue_.empty()) {
    const Event& top = queue_.top();
    const bool cancelled = top.kind == EventKind::kTimer && pending_timers_.count(top.seq) == 0;
    // Its node is gone (or was restarted since): the event died with the process.
    auto node = nodes_.find(top.node);
    const bool orphaned = node == nodes_.end() || node->second->incarnation() != top.incarnation;
    if (!cancelled && !orphaned && top.at > deadline) return false;
    // priority_queue::top is const; the task is moved out just before pop, which never reads it.
    Event event = std::move(const_cast<Event&>(top));
    queue_.pop();
    if (cancelled || orphaned) continue;
    auto paused = paused_until_.find(event.node);
    if (paused != paused_until_.end() && paused->second > event.at) {
      // The process is stopped: the event waits (a new sequence number keeps the order of the
      // postponed events, which leave the queue in order).
      event.at = paused->second;
      const uint64_t old_seq = event.seq;
      event.seq = next_seq_++;
      if (event.kind == EventKind::kTimer && pending_timers_.erase(old_seq)) {
        pending_timers_.insert(event.seq);
        timer_aliases_[old_seq] = event.seq;
      }
      queue_.push(std::move(event));
      continue;
    }
    if (event.kind == EventKind::kTimer) pending_timers_.erase(event.seq);
    CHECK_GE(event.at, now_);
    now_ = event.at;
    trace_.Record(now_, event.node, static_cast<uint8_t>(event.kind), event.digest);
    ++events_run_;
    last_event_node_ = event.node;
    Env::ScopedCurrent scope(nodes_.at(event.node).get());
    event.fn();
    return true;
  }
  return false;
}

bool World::Step() { return StepUntil(Instant::FromNanos(INT64_MAX)); }

uint64_t World::RunUntil(Instant deadline) {
  const uint64_t start = events_run_;
  while (StepUntil(deadline)) {
  }
  if (now_ < deadline) now_ = deadline;
  return events_run_ - start;
}

uint64_t World::RunUntilQuiescent(uint64_t max_events) {
  const uint64_t start = events_run_;
  while (events_run_ - start < max_events && Step()) {
  }
  return events_run_ - start;
}

}  // namespace meta::sim
