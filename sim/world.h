// The simulated world: one virtual clock and one event queue, ordered by (time, sequence), shared
// by every simulated node on a single thread. Time jumps straight to the next event. Every executed
// event is folded into a trace hash, so one seed must always give the same hash (DESIGN.md §2).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/env.h"
#include "core/random.h"
#include "core/time.h"
#include "sim/trace.h"

namespace spdlog::sinks {
class sink;
}

namespace meta::sim {

class World;
class SimNetwork;

// What an event is, for the trace.
enum class EventKind : uint8_t { kPost = 1, kTimer = 2, kDeliver = 3, kControl = 4 };

// A node's Env inside the World. Its tasks and timers are World events tagged with this node.
class SimEnv final : public Env {
 public:
  SimEnv(World& world, NodeId id, Random random, std::shared_ptr<spdlog::logger> logger);
  ~SimEnv() override;

  Instant Now() const override;
  TimerId After(Duration delay, Task fn) override;
  bool Cancel(TimerId id) override;
  void Post(Task fn) override;
  int64_t UnixNanos() const override;
  Transport* transport() override;
  uint64_t incarnation() const { return incarnation_; }

 private:
  friend class World;
  World& world_;
  uint64_t incarnation_ = 0;
};

struct WorldOptions {
  uint64_t seed = 1;
  bool record_trace_lines = false;  // keep a readable line per event (metasim --trace)
  // Extra log sinks for every node (tests capture lines); stderr is used when empty.
  std::vector<std::shared_ptr<spdlog::sinks::sink>> log_sinks;
};

class World {
 public:
  explicit World(WorldOptions options);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  Instant Now() const { return now_; }
  const WorldOptions& options() const { return options_; }
  // The world's own random stream (for workloads and faults; nodes get their own streams).
  Random& random() { return random_; }

  // Virtual time 0 is this calendar instant (2026-01-01T00:00:00Z).
  static constexpr int64_t kEpochUnixNanos = int64_t{1767225600} * 1000 * 1000 * 1000;

  // Adds node `id`; its Env draws from the independent stream ("node", id).
  SimEnv& AddNode(NodeId id);
  // A crashed process: the node's Env (its fibers, timers and queued events) is destroyed and a
  // fresh one takes its place. Whatever the node kept outside its Env (its disk) is the caller's.
  SimEnv& RestartNode(NodeId id);
  SimEnv& node(NodeId id);
  bool HasNode(NodeId id) const { return nodes_.count(id) != 0; }
  std::vector<NodeId> node_ids() const;

  SimNetwork& network() { return *network_; }

  // A paused process (SIGSTOP, a long GC pause): none of the node's events run before `until`;
  // they run then, in their original order. Unpause() ends every pause now.
  void Pause(NodeId id, Instant until);
  void Unpause() { paused_until_.clear(); }
  // The node's calendar clock (UnixNanos) runs `offset` ahead of (or behind) true time — a jump —
  // and from now on drifts by `drift_ppm` parts per million of the time that passes.
  void SetClockOffset(NodeId id, Duration offset, int64_t drift_ppm = 0) {
    clocks_[id] = Clock{offset, drift_ppm, now_};
  }
  Duration ClockOffset(NodeId id) const {
    auto it = clocks_.find(id);
    if (it == clocks_.end()) return Duration::Zero();
    const Clock& c = it->second;
    return c.offset + Nanos((now_ - c.since).nanos() / 1000000 * c.drift_ppm);
  }

  // The node's monotonic clock (Env::Now, and so its timers) runs `rate_ppm` parts per million
  // fast (negative: slow) from now on, like a crystal off its nominal frequency or a clock NTP
  // slews. It stays continuous across the change and across restarts (it is the machine's clock,
  // not the process's). Timers already pending keep their deadline on the node's clock: they
  // fire when it reads their deadline, at the new rate.
  void SetClockRate(NodeId id, int64_t rate_ppm);
  Instant NodeNow(NodeId id) const { return NodeTimeAt(id, now_); }
  // What the node's clock reads at true time `at`, on its current course.
  Instant NodeTimeAt(NodeId id, Instant at) const;
  // How long in true time the node's clock takes to advance by `d` (rounded up, so a node's timer
  // never fires early by its own clock).
  Duration TrueDuration(NodeId id, Duration d) const;

  // Schedules `fn` on node `node` at `at` (clamped to now). `digest` summarises the payload for the
  // trace. Returns the event's sequence number; timers can be cancelled by it.
  uint64_t Schedule(Instant at, NodeId node, EventKind kind, uint64_t digest, Task fn);
  bool CancelTimer(uint64_t seq);

  // Runs one event. False when the queue is empty.
  bool Step();
  // Runs events until the queue is empty or the next event lies past `deadline`; the clock then
  // stands at `deadline` if it was reached. Returns the number of events run.
  uint64_t RunUntil(Instant deadline);
  uint64_t RunFor(Duration d) { return RunUntil(now_ + d); }
  // Runs until nothing is queued (or `max_events` ran). Returns the number of events run.
  uint64_t RunUntilQuiescent(uint64_t max_events = UINT64_MAX);

  uint64_t events_run() const { return events_run_; }
  // The node whose event ran last (only its state can have changed).
  NodeId last_event_node() const { return last_event_node_; }
  size_t pending_events() const { return queue_.size(); }
  Trace& trace() { return trace_; }

 private:
  bool StepUntil(Instant deadline);

  struct Event {
    Instant at;
    uint64_t seq;
    NodeId node;
    uint64_t incarnation;
    EventKind kind;
    uint64_t digest;
    Task fn;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };

  WorldOptions options_;
  Random random_;
  Instant now_;
  uint64_t next_seq_ = 1;
  uint64_t events_run_ = 0;
  NodeId last_event_node_ = 0;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::unordered_set<uint64_t> pending_timers_;
  std::unordered_map<uint64_t, uint64_t> timer_aliases_;  // postponed timer: old seq -> new seq
  std::map<NodeId, std::unique_ptr<SimEnv>> nodes_;
  std::map<NodeId, Instant> paused_until_;
  struct Clock {
    Duration offset;
    int64_t drift_ppm = 0;
    Instant since;
  };
  std::map<NodeId, Clock> clocks_;
  struct Rate {
    int64_t ppm = 0;
    Instant true_since;  // the clock read node_since at true time true_since
    Instant node_since;
  };
  std::map<NodeId, Rate> rates_;
  std::unique_ptr<SimNetwork> network_;
  Trace trace_;
};

}  // namespace meta::sim
