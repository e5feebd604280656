#include "sim/scenario.h"

#include <spdlog/sinks/base_sink.h>

#include <map>
#include <mutex>
#include <optional>

#include "core/fiber.h"
#include "core/future.h"
#include "core/limits.h"
#include "core/sim_hooks.h"
#include "raft/invariants.h"
#include "sim/coverage.h"
#include "sim/linearizability.h"
#include "sim/network.h"
#include "sim/node_cluster.h"
#include "sim/raft_observer.h"

namespace meta::sim {
namespace {

constexpr NodeId kClient = 1000;
constexpr int kKvClients = 6;
constexpr int kKeys = 20;
constexpr Duration kOpTimeout = Seconds(3);

// Fault parameters drawn per seed (swarm testing): each run explores its own corner.
struct Swarm {
  double drop = 0;
  double duplicate = 0;
  bool reorder = false;
  Duration extra_delay;
  Duration latency_max = Millis(2);
  Duration nemesis_min = Millis(100);
  Duration nemesis_max = Seconds(1);
  int partition = 0, cut = 0, heal = 0, crash = 0, clog = 0, transfer = 0, pause = 0, clock = 0,
      membership = 0, lease_restart = 0, isolate = 0;
  DiskFaults disk;
  NodeId small_disk = 0;  // this node's WAL space is limited (disk full), if not 0
  uint64_t small_disk_bytes = 0;
  uint64_t max_wal_bytes = 0;  // RocksDB flushes memtables past this much WAL (0: its default)
  uint64_t block_cache_bytes = 64 << 20;            // small: most reads reach the (faulty) disk
  size_t log_cache_entries = kLogTailCacheEntries;  // small: Raft reads its log from RocksDB
  uint64_t max_append_bytes = 1 << 20;  // small: appends carry few entries, acks come in pieces
  size_t max_inflight_appends = 256;
  // Each node's monotonic clock runs up to this many parts per million fast or slow. The read
  // lease is safe while two clocks' rates differ by less than ~11 % (store::NodeOptions::
  // LeaseDuration keeps 90 % of what a voter waits): ±4 % stays inside that.
  int64_t clock_rate_ppm = 0;

  std::string ToString() const {
    char buf[1024];
    std::snprintf(
        buf, sizeof buf,
        "drop=%.3f duplicate=%.3f reorder=%d extra_delay=%s latency_max=%s nemesis=[%s,%s] "
        "weights{partition=%d cut=%d heal=%d crash=%d clog=%d transfer=%d pause=%d "
        "clock=%d membership=%d lease_restart=%d isolate=%d} disk{write_error=%.4f "
        "sync_error=%.4f read_error=%.4f slow_sync=%.3f<=%s "
        "small_disk=n%llu:%llu} max_wal=%llu block_cache=%llu log_cache=%zu max_append=%llu "
        "inflight=%zu clock_rate=%lld",
        drop, duplicate, reorder ? 1 : 0, extra_delay.ToString().c_str(),
        latency_max.ToString().c_str(), nemesis_min.ToString().c_str(),
        nemesis_max.ToString().c_str(), partition, cut, heal, crash, clog, transfer, pause, clock,
        membership, lease_restart, isolate, disk.write_error, disk.sync_error, disk.read_error,
        disk.slow_sync, disk.slow_sync_max.ToString().c_str(),
        static_cast<unsigned long long>(small_disk),
        static_cast<unsigned long long>(small_disk_bytes),
        static_cast<unsigned long long>(max_wal_bytes),
        static_cast<unsigned long long>(block_cache_bytes), log_cache_entries,
        static_cast<unsigned long long>(max_append_bytes), max_inflight_appends,
        static_cast<long long>(clock_rate_ppm));
    return buf;
  }
};

Swarm DrawSwarm(Random r, FaultMode mode, int nodes) {
  Swarm s;
  const bool network = mode == FaultMode::kNetwork || mode == FaultMode::kAll;
  const bool disk = mode == FaultMode::kDisk || mode == FaultMode::kAll;
  s.latency_max = r.Range(Micros(500), Millis(20));
  s.nemesis_min = r.Range(Millis(20), Millis(500));
  s.nemesis_max = s.nemesis_min + r.Range(Millis(100), Seconds(2));
  if (network) {
    s.drop = r.Chance(0.5) ? r.NextDouble() * 0.2 : 0;
    s.duplicate = r.Chance(0.5) ? r.NextDouble() * 0.1 : 0;
    s.extra_delay = r.Chance(0.5) ? r.Range(Duration::Zero(), Millis(100)) : Duration::Zero();
    s.partition = static_cast<int>(r.Range(0, 5));
    s.cut = static_cast<int>(r.Range(0, 5));
    s.heal = static_cast<int>(r.Range(1, 8));
    s.clog = static_cast<int>(r.Range(0, 3));
    s.transfer = static_cast<int>(r.Range(0, 3));
    s.membership = nodes >= 3 ? static_cast<int>(r.Range(0, 3)) : 0;
  }
  if (disk) {
    s.crash = static_cast<int>(r.Range(1, 5));
    s.pause = static_cast<int>(r.Range(0, 3));
    s.clock = static_cast<int>(r.Range(0, 2));
    if (r.Chance(0.5)) s.disk.write_error = r.NextDouble() * 0.003;
    if (r.Chance(0.5)) s.disk.sync_error = r.NextDouble() * 0.003;
    if (r.Chance(0.5)) {
      s.disk.slow_sync = r.NextDouble() * 0.05;
      s.disk.slow_sync_max = r.Range(Millis(10), Seconds(1));
    }
    if (r.Chance(0.3)) {
      s.small_disk = static_cast<NodeId>(r.Range(1, nodes));
      s.small_disk_bytes = static_cast<uint64_t>(r.Range(50 << 10, 500 << 10));
    }
  }
  if (!network && !disk) s.heal = 1;  // "none": the nemesis only ever heals (a no-op)
  if (r.Chance(0.5)) s.max_wal_bytes = static_cast<uint64_t>(r.Range(4 << 10, 64 << 10));
  if (disk && r.Chance(0.5)) s.disk.read_error = r.NextDouble() * 0.01;
  // Links keep order (a TCP stream) unless network faults are on; then half the runs reorder.
  s.reorder = network && r.Chance(0.5);
  if (r.Chance(0.5)) s.block_cache_bytes = static_cast<uint64_t>(r.Range(0, 256 << 10));
  if (r.Chance(0.5)) s.log_cache_entries = static_cast<size_t>(r.Range(1, 64));
  if (r.Chance(0.5)) {
    s.max_append_bytes = static_cast<uint64_t>(r.Range(1, 4096));
    s.max_inflight_appends = static_cast<size_t>(r.Range(1, 16));
  }
  // Drawn last, so that the draws above keep their values for a given seed.
  if (disk && r.Chance(0.5)) s.clock_rate_ppm = r.Range(1000, 40000);
  if (network && disk && nodes == 3) s.lease_restart = static_cast<int>(r.Range(0, 2));
  if (network) s.isolate = static_cast<int>(r.Range(0, 2));
  return s;
}

// Counts error-level log lines (any unexpected one fails the run) and echoes them to stderr.
class CountingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  uint64_t errors() const { return errors_; }
  uint64_t fail_stops() const { return fail_stops_; }
  // With injected disk faults, a node's fail-stop is the expected reaction, not a failure.
  void expect_fail_stops() { expect_fail_stops_ = true; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    const bool fail_stop = text.starts_with("fail-stop:");
    fail_stops_ += fail_stop ? 1 : 0;
    if (msg.level >= spdlog::level::err && !(fail_stop && expect_fail_stops_)) ++errors_;
    // Warnings (slow writes, dropped stale frames) are routine under faults: only errors are
    // echoed, so a failing run's cause stands out.
    if (msg.level >= spdlog::level::err) {
      spdlog::memory_buf_t buf;
      formatter_->format(msg, buf);
      std::fwrite(buf.data(), 1, buf.size(), stderr);
    }
  }
  void flush_() override { std::fflush(stderr); }

 private:
  uint64_t errors_ = 0;
  uint64_t fail_stops_ = 0;
  bool expect_fail_stops_ = false;
};

class Scenario {
 public:
  explicit Scenario(const ScenarioOptions& o)
      : options_(o),
        hooks_(Random(o.seed).Stream("buggify"), Random(o.seed).Stream("buggify-on").OneIn(2)),
        sink_(std::make_shared<CountingSink>()),
        cluster_(NodeClusterOptions{.seed = o.seed,
                                    .nodes = o.nodes,
                                    .base_dir = "/sim",
                                    .sim_disk = true,
                                    .tweak =
                                        [this, o](store::NodeOptions& n) {
                                          n.engine.max_wal_bytes = swarm_.max_wal_bytes;
                                          n.engine.block_cache_bytes = swarm_.block_cache_bytes;
                                          n.log_cache_entries = swarm_.log_cache_entries;
                                          n.max_append_bytes = swarm_.max_append_bytes;
                                          n.max_inflight_appends = swarm_.max_inflight_appends;
                                          n.offset_groups = o.groups_per_type;
                                          n.data_groups = o.groups_per_type;
                                          n.write_timeout = Seconds(2);
                                          n.snapshot_entries = 200;
                                        },
                                    .log_sinks = {sink_},
                                    .record_trace_lines = o.record_trace_lines}),
        swarm_(DrawSwarm(Random(o.seed).Stream("swarm"), o.faults, o.nodes)) {}

  ScenarioReport Run();

 private:
  // Runs the world until `done` (or the deadline), checking Raft safety after every event.
  bool RunUntil(const std::function<bool()>& done, Instant deadline) {
    while (violation_.ok() && !done()) {
      const Instant before = cluster_.world().Now();
      if (before >= deadline) return false;
      if (!cluster_.world().Step()) {
        cluster_.world().RunUntil(deadline);
        return done();
      }
      // Only the node whose event just ran can have changed. (Fail, not an assignment: the event
      // may have been a client's, which reports what it saw through Fail.)
      Fail(observer_.ObserveNode(cluster_, cluster_.world().last_event_node()));
      RestartFailedNodes();
      // Livelock: something keeps scheduling work without letting virtual time move.
      events_at_same_time_ = cluster_.world().Now() == before ? events_at_same_time_ + 1 : 0;
      if (events_at_same_time_ > kMaxEventsAtOneInstant) {
        Fail(InternalError("livelock: " + std::to_string(kMaxEventsAtOneInstant) +
                           " events at virtual time " + before.ToString()));
      }
    }
    return violation_.ok();
  }
  void Fail(Status s) {
    if (violation_.ok()) violation_ = std::move(s);
  }

  // A fail-stopped node's process exits (power-cycled: unsynced data is lost) and its supervisor
  // starts it again a little later.
  void RestartFailedNodes() {
    for (NodeId id : cluster_.ids()) {
      if (!cluster_.IsUp(id) || cluster_.node(id).failure().ok()) continue;
      cluster_.Crash(id);
      RestartLater(id, Millis(200));
    }
  }

  // Starts the node again after `delay`; a start that fails (an injected disk fault while
  // opening) is retried, as a supervisor would.
  void RestartLater(NodeId id, Duration delay) {
    client_->After(delay, [this, id] {
      if (cluster_.IsUp(id)) return;
      if (!cluster_.Restart(id).ok()) {
        SIM_PROBE("sim: a restart failed (a disk fault while opening)");
        RestartLater(id, Millis(200));
      }
    });
  }

  // One membership change of a random group through its leader: a missing node is added back
  // (as learner or voter), a learner is promoted, or — while at least three voters remain — a
  // voter (perhaps the leader itself) is removed.
  void ChangeMembership(Random& r) {
    const store::GroupId g = groups_[r.Uniform(groups_.size())];
    const NodeId leader = cluster_.Leader(g);
    if (leader == 0) return;
    const raft::ProgressTracker& t = cluster_.node(leader).raft(g).tracker();
    const std::vector<NodeId> ids = cluster_.ids();
    const NodeId x = ids[r.Uniform(ids.size())];
    raft::ConfChange cc;
    cc.set_node_id(x);
    if (t.learners().count(x)) {
      cc.set_type(raftpb::ADD_NODE);
    } else if (!t.IsVoter(x)) {
      cc.set_type(r.OneIn(2) ? raftpb::ADD_LEARNER : raftpb::ADD_NODE);
    } else if (t.voters().size() >= 3) {
      cc.set_type(raftpb::REMOVE_NODE);
    } else {
      return;
    }
    SIM_PROBE("sim: membership change proposed");
    cluster_.node(leader).ProposeConfChange(g, cc).IgnoreError();
  }

  // Liveness phase: every node becomes a voter of every group again, one change at a time.
  Status RestoreMembership(Instant deadline);

  void KvClient(int client);
  void OtherClient();
  void ScheduleNemesis();
  // The window of thesis §6.4.1's restart rule: a voter that acknowledged the leader's lease
  // restarts just as another node campaigns. See the definition.
  void RestartWithinLease(Random& r);
  void PollLeaseRestart(store::GroupId g, NodeId leader, NodeId a, NodeId b, uint64_t term,
                        Instant until, bool restarted);
  // Cuts every link into `leader` as soon as `transferee` campaigns past `term` (polled until
  // `until`).
  void DeafenOnCampaign(store::GroupId g, NodeId leader, NodeId transferee, uint64_t term,
                        Instant until);
  void NemesisAction();
  void IsolateLeader(Random& r);
  void ProbeIsolatedLease(NodeId leader, uint64_t term, Instant until);
  Status Liveness();
  Status Convergence();
  NodeId RandomUpNode(Random& r);  // the first node when every node is down
  NodeId FirstUpNode() const;      // 0 when every node is down

  ScenarioOptions options_;
  SimHooks hooks_;  // installed first, removed last: covers the whole run
  std::shared_ptr<CountingSink> sink_;
  NodeCluster cluster_;
  Swarm swarm_;
  RaftObserver observer_;
  Status violation_;
  Env* client_ = nullptr;
  Random nemesis_random_{0};
  bool stop_ = false;
  int clients_running_ = 0;
  std::vector<KvOp> history_;
  std::vector<store::GroupId> groups_;  // every node runs the same groups
  Instant writes_resume_;               // the KV clients only read before this
  // The KV leader cut off from the other members (IsolateLeader) until isolated_until_: the KV
  // clients write elsewhere meanwhile, and send it half their reads.
  NodeId isolated_ = 0;
  Instant isolated_until_;
  uint64_t ops_ = 0;
  uint64_t faults_ = 0;
  uint64_t events_at_same_time_ = 0;
  static constexpr uint64_t kMaxEventsAtOneInstant = 1'000'000;
};

NodeId Scenario::FirstUpNode() const {
  for (NodeId id : cluster_.ids()) {
    if (cluster_.IsUp(id)) return id;
  }
  return 0;
}

NodeId Scenario::RandomUpNode(Random& r) {
  std::vector<NodeId> up;
  for (NodeId id : cluster_.ids()) {
    if (cluster_.IsUp(id)) up.push_back(id);
  }
  return up.empty() ? cluster_.ids()[0] : up[r.Uniform(up.size())];
}

void Scenario::KvClient(int client) {
  Random& r = fiber::CurrentEnv().random();
  std::map<std::string, std::optional<std::string>> last_seen;
  uint64_t n = 0;
  // Every client but client 2 writes exactly-once, as net/client does: a (client id, sequence) per
  // write, and a write whose outcome is unknown is retried with the same pair. Client 2 writes
  // without one (duplicates are then caught by proposal ids).
  const uint64_t client_id = client == 2 ? 0 : r.Next() | 1;
  uint64_t sequence = 0;
  while (!stop_) {
    // Pause first: an operation refused at once (node down, no leader) must not spin in place.
    (void)fiber::Sleep(r.Range(Millis(1), Millis(20)));
    KvOp op;
    op.client = static_cast<uint64_t>(client);
    op.key = "k" + std::to_string(r.Uniform(kKeys));
    const uint64_t dice = r.Uniform(10);
    const bool read = dice < 3 || client_->Now() < writes_resume_;
    NodeId target = RandomUpNode(r);
    if (isolated_ != 0 && client_->Now() < isolated_until_ && cluster_.IsUp(isolated_)) {
      // Writes go where they can commit (a real client gives up on the cut-off leader and moves
      // on; here it would sit out its whole timeout), and half the reads ask the cut-off leader,
      // which may answer only while its lease holds.
      if (read && r.OneIn(2)) target = isolated_;
      for (int tries = 0; !read && target == isolated_ && tries < 8; ++tries) {
        target = RandomUpNode(r);
      }
    }
    op.call = client_->Now();
    ++ops_;
    if (read) {
      op.type = KvOp::Type::kGet;
      auto got = cluster_
                     .Call<storepb::KvValue>(
                         target, [key = op.key](store::Node& nd) { return nd.Get(key, true); })
                     .Get(kOpTimeout);
      op.ret = client_->Now();
      if (got.ok()) {
        op.read = got->value();
      } else if (got.status().code() != Code::kNotFound) {
        continue;  // a failed read has no effect: leave it out
      }
      last_seen[op.key] = op.read;
    } else {
      storepb::Command cmd;
      const std::string value = "c" + std::to_string(client) + "-" + std::to_string(++n);
      if (dice < 7) {
        op.type = KvOp::Type::kPut;
        op.value = value;
        cmd.mutable_kv_put()->set_key(op.key);
        cmd.mutable_kv_put()->set_value(value);
      } else if (dice < 9) {
        op.type = KvOp::Type::kCas;
        op.expected = last_seen[op.key];
        op.value = value;
        auto* cas = cmd.mutable_kv_cas();
        cas->set_key(op.key);
        cas->set_expect_absent(!op.expected.has_value());
        if (op.expected) cas->set_expected_value(*op.expected);
        cas->set_new_value(value);
      } else {
        op.type = KvOp::Type::kDelete;
        cmd.mutable_kv_delete()->set_key(op.key);
      }
      if (client_id != 0) {
        cmd.set_client_id(client_id);
        cmd.set_sequence(++sequence);
      }
      auto res =
          cluster_
              .Call<storepb::ApplyResult>(target, [cmd](store::Node& nd) { return nd.Write(cmd); })
              .Get(kOpTimeout);
      for (int retry = 0; client_id != 0 && retry < 3 && !stop_ && !res.ok() &&
                          res.status().code() != Code::kUnavailable;
           ++retry) {
        (void)fiber::Sleep(r.Range(Millis(10), Millis(200)));
        const NodeId again = RandomUpNode(r);
        res =
            cluster_
                .Call<storepb::ApplyResult>(again, [cmd](store::Node& nd) { return nd.Write(cmd); })
                .Get(kOpTimeout);
        // Refused before proposing this time: the first attempt's outcome is still unknown.
        if (!res.ok() && res.status().code() == Code::kUnavailable) {
          res = DeadlineExceededError("retry not proposed");
        }
      }
      op.ret = client_->Now();
      if (!res.ok() && res.status().code() == Code::kUnavailable) {
        continue;  // never proposed (node down, no leader known): no effect, leave it out
      }
      if (!res.ok()) {
        op.indeterminate = true;  // it may or may not have been applied
      } else if (op.type == KvOp::Type::kDelete) {
        op.ok = res->code() == 0;
        if (res->code() != 0 && res->code() != static_cast<int>(Code::kNotFound)) {
          Fail(InternalError("delete returned " + res->message()));
        }
      } else {
        op.ok = res->succeeded() || op.type == KvOp::Type::kPut;
        if (res->code() != 0)
          Fail(InternalError("write returned code " + std::to_string(res->code()) + ": " +
                             res->message()));
      }
    }
    history_.push_back(std::move(op));
  }
  --clients_running_;
}

// Offset commits (with compare-and-set chains) and session batches: exercised for convergence
// and crash safety; their outcomes are not part of the linearizability check.
void Scenario::OtherClient() {
  Random& r = fiber::CurrentEnv().random();
  uint64_t n = 0;
  while (!stop_) {
    storepb::Command cmd;
    if (r.OneIn(2)) {
      auto* oc = cmd.mutable_offset_commit();
      oc->set_group("cg" + std::to_string(r.Uniform(4)));
      auto* e = oc->add_entries();
      e->set_topic("t");
      e->set_partition(static_cast<uint32_t>(r.Uniform(3)));
      e->set_offset(++n);
    } else {
      auto* b = cmd.mutable_session_batch();
      b->add_upserts()->set_client_id("s" + std::to_string(r.Uniform(20)));
      if (r.OneIn(3)) b->add_deletes("s" + std::to_string(r.Uniform(20)));
    }
    ++ops_;
    (void)cluster_
        .Call<storepb::ApplyResult>(RandomUpNode(r),
                                    [cmd](store::Node& nd) { return nd.Write(cmd); })
        .Get(kOpTimeout);
    (void)fiber::Sleep(r.Range(Millis(1), Millis(30)));
  }
  --clients_running_;
}

void Scenario::ScheduleNemesis() {
  client_->After(nemesis_random_.Range(swarm_.nemesis_min, swarm_.nemesis_max), [this] {
    if (stop_) return;
    NemesisAction();
    ScheduleNemesis();
  });
}

void Scenario::NemesisAction() {
  Random& r = nemesis_random_;
  SimNetwork& net = cluster_.world().network();
  const int total = swarm_.partition + swarm_.cut + swarm_.heal + swarm_.crash + swarm_.clog +
                    swarm_.transfer + swarm_.pause + swarm_.clock + swarm_.membership +
                    swarm_.lease_restart + swarm_.isolate;
  int dice = static_cast<int>(r.Uniform(static_cast<uint64_t>(total)));
  const std::vector<NodeId> ids = cluster_.ids();
  ++faults_;
  if ((dice -= swarm_.partition) < 0) {
    std::set<NodeId> side;
    for (NodeId id : ids) {
      if (r.OneIn(2)) side.insert(id);
    }
    net.Partition(side);
  } else if ((dice -= swarm_.cut) < 0) {
    const NodeId a = ids[r.Uniform(ids.size())], b = ids[r.Uniform(ids.size())];
    if (a != b) net.Cut(a, b);
  } else if ((dice -= swarm_.heal) < 0) {
    net.Heal();
    net.Unclog();
  } else if ((dice -= swarm_.crash) < 0) {
    int down = 0;
    for (NodeId id : ids) down += cluster_.IsUp(id) ? 0 : 1;
    if (down * 2 + 2 >= static_cast<int>(ids.size()) + 1) return;  // keep a majority up
    const NodeId victim = RandomUpNode(r);
    cluster_.Crash(victim);
    // A third of the restarts come back within a read lease the node may have acknowledged.
    RestartLater(victim,
                 r.OneIn(3) ? r.Range(Millis(1), Millis(250)) : r.Range(Millis(100), Seconds(3)));
  } else if ((dice -= swarm_.clog) < 0) {
    if (r.OneIn(2)) {
      net.Clog(ids[r.Uniform(ids.size())], client_->Now() + r.Range(Millis(100), Seconds(2)));
    } else {
      // FoundationDB's swizzle: clog a random subset, then unclog its nodes one at a time in a
      // random order.
      const Instant start = client_->Now() + r.Range(Millis(100), Seconds(1));
      Instant until = start;
      for (NodeId id : ids) {
        if (!r.OneIn(2)) continue;
        until += r.Range(Millis(50), Millis(500));
        net.Clog(id, until);
      }
      SIM_PROBE("sim: swizzle clogging");
    }
  } else if ((dice -= swarm_.pause) < 0) {
    // Often longer than an election timeout: a paused leader wakes up deposed.
    cluster_.world().Pause(ids[r.Uniform(ids.size())],
                           client_->Now() + r.Range(Millis(200), Seconds(3)));
  } else if ((dice -= swarm_.membership) < 0) {
    ChangeMembership(r);
  } else if ((dice -= swarm_.lease_restart) < 0) {
    RestartWithinLease(r);
  } else if ((dice -= swarm_.isolate) < 0) {
    IsolateLeader(r);
  } else if ((dice -= swarm_.clock) < 0) {
    if (swarm_.clock_rate_ppm > 0 && r.OneIn(2)) {
      // The monotonic clock changes course (NTP slewing it, a crystal warming up), within the
      // run's bound: timers pending on that node follow it, and so do the leases it grants or
      // holds (the bound is what the lease tolerates between two clocks).
      const NodeId id = ids[r.Uniform(ids.size())];
      const int64_t ppm = r.Range(-swarm_.clock_rate_ppm, swarm_.clock_rate_ppm);
      SIM_PROBE("sim: a node's clock rate changed mid-run");
      cluster_.world().SetClockRate(id, ppm);
      return;
    }
    // Calendar clock jumps and drift (they move leader timestamps), well inside the one-hour
    // dedup TTL.
    const Duration jump = r.Range(Seconds(1), Seconds(600));
    const int64_t drift_ppm = r.Range(-100000, 100000);  // up to 10% fast or slow
    cluster_.world().SetClockOffset(ids[r.Uniform(ids.size())], r.OneIn(2) ? jump : jump * -1,
                                    drift_ppm);
  } else {
    // A leadership transfer, in half the cases in the KV group, whose history is checked.
    const store::GroupId g =
        r.OneIn(2) ? store::kMetadataGroup : groups_[r.Uniform(groups_.size())];
    const NodeId from = cluster_.Leader(g);
    const NodeId to = ids[r.Uniform(ids.size())];
    if (from == 0 || to == from) return;
    SIM_PROBE("sim: leadership transfer requested");
    cluster_.node(from).TransferLeader(g, to).IgnoreError();
    // Half the time the old leader stops hearing from the others (it still sends) the moment the
    // transferee campaigns: the transferee can win while the old leader believes it leads, and
    // the old leader must not answer reads from its lease meanwhile (thesis §6.4.1).
    if (r.OneIn(2)) {
      DeafenOnCampaign(g, from, to, cluster_.node(from).raft(g).term(),
                       client_->Now() + Millis(300));
    }
  }
}

void Scenario::DeafenOnCampaign(store::GroupId g, NodeId leader, NodeId transferee, uint64_t term,
                                Instant until) {
  client_->After(Micros(500), [=, this] {
    // Not once the faults are over (the network is healed for the liveness checks).
    if (stop_ || client_->Now() > until) return;
    if (!cluster_.IsUp(transferee) || cluster_.node(transferee).raft(g).term() <= term) {
      return DeafenOnCampaign(g, leader, transferee, term, until);
    }
    SIM_PROBE("sim: old leader deafened as the transferee campaigns");
    for (NodeId id : cluster_.ids()) {
      if (id != leader) cluster_.world().network().Cut(id, leader);
    }
  });
}

// With three voters in the KV group: the leader L loses its links with B, and the clients only
// read, so B's log stays as long as the third voter A's. Just before B campaigns, A crashes and
// comes back at once, having acknowledged L's lease a moment before. A must ignore B for an
// election timeout; if it votes, B wins while L still holds its lease. Then L is cut off from A
// too and the clients write again: B commits, and a read that L answers from its lease would be
// stale.
void Scenario::RestartWithinLease(Random& r) {
  const store::GroupId g = store::kMetadataGroup;
  const NodeId leader = cluster_.Leader(g);
  const std::vector<NodeId> ids = cluster_.ids();
  if (leader == 0 || ids.size() != 3) return;
  std::vector<NodeId> others;
  for (NodeId id : ids) {
    if (id != leader) others.push_back(id);
  }
  if (r.OneIn(2)) std::swap(others[0], others[1]);
  const NodeId b = others[0], a = others[1];
  if (!cluster_.IsUp(a) || !cluster_.IsUp(b)) return;
  SIM_PROBE("sim: lease restart: leader cut from a follower, writes paused");
  SimNetwork& net = cluster_.world().network();
  net.Cut(leader, b);
  net.Cut(b, leader);
  const Instant until = client_->Now() + Seconds(2);
  writes_resume_ = until;
  PollLeaseRestart(g, leader, a, b, cluster_.node(leader).raft(g).term(), until, false);
}

void Scenario::PollLeaseRestart(store::GroupId g, NodeId leader, NodeId a, NodeId b, uint64_t term,
                                Instant until, bool restarted) {
  if (stop_ || client_->Now() > until || !cluster_.IsUp(b)) {
    writes_resume_ = Instant();
    return;
  }
  const raft::Raft& rb = cluster_.node(b).raft(g);
  // A restarts within the tick before B's election timer fires: a vote request already in
  // flight to A would be lost with A's old process.
  if (!restarted && rb.state() == raft::StateType::kFollower && rb.election_ticks_left() <= 1 &&
      cluster_.IsUp(a)) {
    SIM_PROBE("sim: lease restart: a voter restarts as another is about to campaign");
    cluster_.Crash(a);
    if (!cluster_.Restart(a).ok()) RestartLater(a, Millis(200));
    restarted = true;
  }
  if (rb.state() == raft::StateType::kLeader && rb.term() > term) {
    SIM_PROBE("sim: lease restart: the campaigner won");
    cluster_.world().network().Cut(a, leader);
    writes_resume_ = Instant();
    return;
  }
  client_->After(Micros(50),
                 [=, this] { PollLeaseRestart(g, leader, a, b, term, until, restarted); });
}

// The KV group's leader L loses its links with every other member for 1-3 s while the clients
// keep going: the others elect a leader and commit writes, and L must stop answering reads from
// its lease before any of them could have been elected. A lease that outlives what a voter waits
// after hearing from L (or clocks further apart than the lease allows) shows up as a stale read.
void Scenario::IsolateLeader(Random& r) {
  const NodeId leader = cluster_.Leader(store::kMetadataGroup);
  if (leader == 0) return;
  SIM_PROBE("sim: the KV leader is cut off from the other members");
  cluster_.world().network().Partition({leader});
  isolated_ = leader;
  const Duration d = r.Range(Seconds(1), Seconds(3));
  isolated_until_ = client_->Now() + d;
  ProbeIsolatedLease(leader, cluster_.node(leader).raft(store::kMetadataGroup).term(),
                     isolated_until_);
  client_->After(d, [this] {
    // Isolated again since (the same leader or another): the latest isolation's timer heals.
    if (client_->Now() < isolated_until_) return;
    isolated_ = 0;
    cluster_.world().network().Heal();
  });
}

// While `leader` is cut off: as soon as another member leads the KV group in a later term, write
// there and then at once read the same key at `leader`, every millisecond. The old leader may
// answer only while its lease holds, which must end before any other could have been elected: a
// lease that outlives that, or clocks further apart than it allows, is then a stale read.
void Scenario::ProbeIsolatedLease(NodeId leader, uint64_t term, Instant until) {
  ++clients_running_;
  client_->fibers().Spawn("lease-probe", [=, this] {
    const store::GroupId g = store::kMetadataGroup;
    const std::string key = "lease-probe";
    uint64_t n = 0;
    while (!stop_ && client_->Now() < until && isolated_ == leader) {
      (void)fiber::Sleep(Millis(1));
      NodeId other = 0;
      for (NodeId id : cluster_.ids()) {
        if (id != leader && cluster_.IsUp(id) &&
            cluster_.node(id).raft(g).state() == raft::StateType::kLeader &&
            cluster_.node(id).raft(g).term() > term) {
          other = id;
        }
      }
      if (other == 0 || !cluster_.IsUp(leader)) continue;
      KvOp w;
      w.client = kKvClients + 1;
      w.type = KvOp::Type::kPut;
      w.key = key;
      w.value = "probe-" + std::to_string(++n);
      w.call = client_->Now();
      storepb::Command cmd;
      cmd.mutable_kv_put()->set_key(key);
      cmd.mutable_kv_put()->set_value(w.value);
      auto res =
          cluster_
              .Call<storepb::ApplyResult>(other, [cmd](store::Node& nd) { return nd.Write(cmd); })
              .Get(kOpTimeout);
      w.ret = client_->Now();
      if (!res.ok() && res.status().code() == Code::kUnavailable) continue;  // never proposed
      w.indeterminate = !res.ok();
      w.ok = res.ok();
      history_.push_back(w);
      if (!res.ok()) continue;
      KvOp read;
      read.client = w.client;
      read.type = KvOp::Type::kGet;
      read.key = key;
      read.call = client_->Now();
      auto got =
          cluster_
              .Call<storepb::KvValue>(leader, [key](store::Node& nd) { return nd.Get(key, true); })
              .Get(kOpTimeout);
      read.ret = client_->Now();
      if (got.ok()) {
        read.read = got->value();
      } else if (got.status().code() != Code::kNotFound) {
        continue;  // refused or timed out: no effect
      }
      SIM_PROBE("sim: lease probe: the cut-off leader answered a read");
      history_.push_back(std::move(read));
    }
    --clients_running_;
  });
}

// After healing: every group elects a leader and commits a write within 10 election timeouts.
Status Scenario::Liveness() {
  SimNetwork& net = cluster_.world().network();
  net.Heal();
  net.Unclog();
  net.options().drop = 0;
  net.options().duplicate = 0;
  net.options().extra_delay_max = Duration::Zero();
  cluster_.world().Unpause();
  for (NodeId id : cluster_.ids()) {
    cluster_.disk(id)->SetFaults({});
    if (!cluster_.IsUp(id)) RETURN_IF_ERROR(cluster_.Restart(id));
  }
  RETURN_IF_ERROR(RestoreMembership(client_->Now() + Seconds(30)));
  const store::NodeOptions defaults;
  const Duration budget = defaults.tick_interval * defaults.election_ticks * 2 * 10;
  const Instant deadline = client_->Now() + budget;
  std::map<store::GroupId, bool> committed;
  // Routing is the same on every node; a late fail-stop may have taken any one of them down.
  const NodeId router = FirstUpNode();
  if (router == 0) return UnavailableError("liveness: every node is down after healing");
  store::Node& any = cluster_.node(router);
  for (store::GroupId g : groups_) committed[g] = false;
  // One writer per group, retrying until it commits.
  for (store::GroupId g : groups_) {
    storepb::Command cmd;
    if (store::TypeOf(g) == store::GroupType::kMetadata) {
      cmd.mutable_kv_put()->set_key("liveness");
    } else if (store::TypeOf(g) == store::GroupType::kOffset) {
      std::string name;
      for (int i = 0; any.RouteOffset(name = "live" + std::to_string(i)) != g; ++i) {
      }
      cmd.mutable_offset_commit()->set_group(name);
    } else {
      std::string name;
      for (int i = 0; any.RouteSession(name = "live" + std::to_string(i)) != g; ++i) {
      }
      cmd.mutable_session_batch()->add_upserts()->set_client_id(name);
    }
    client_->fibers().Spawn("liveness", [this, g, cmd, &committed, deadline] {
      Random& r = fiber::CurrentEnv().random();
      while (client_->Now() < deadline) {
        auto res = cluster_
                       .Call<storepb::ApplyResult>(RandomUpNode(r),
                                                   [cmd](store::Node& nd) { return nd.Write(cmd); })
                       .Get(Seconds(1));
        if (res.ok()) {
          committed[g] = true;
          return;
        }
        (void)fiber::Sleep(Millis(50));
      }
    });
  }
  RunUntil(
      [&] {
        for (auto& [g, ok] : committed) {
          if (!ok) return false;
        }
        return true;
      },
      deadline);
  RETURN_IF_ERROR(violation_);
  for (auto& [g, ok] : committed) {
    if (!ok) {
      return DeadlineExceededError("liveness: group " + std::to_string(g) +
                                   " committed nothing within " + budget.ToString() +
                                   " of healing");
    }
  }
  return Status::Ok();
}

Status Scenario::RestoreMembership(Instant deadline) {
  const std::vector<NodeId> ids = cluster_.ids();
  // The first group that lacks a voter, and that voter; nullopt when all are complete.
  auto missing = [&]() -> std::optional<std::pair<store::GroupId, NodeId>> {
    for (store::GroupId g : groups_) {
      const NodeId leader = cluster_.Leader(g);
      if (leader == 0) return std::make_pair(g, NodeId{0});
      const raft::Raft& r = cluster_.node(leader).raft(g);
      // A change proposed during the faults may still be on its way: wait until it applied.
      if (r.pending_conf_index() > r.log().applied()) return std::make_pair(g, NodeId{0});
      for (NodeId id : ids) {
        if (!r.tracker().IsVoter(id)) return std::make_pair(g, id);
      }
    }
    return std::nullopt;
  };
  Instant next_try;
  RunUntil(
      [&] {
        auto m = missing();
        if (!m) return true;
        if (m->second != 0 && client_->Now() >= next_try) {
          raft::ConfChange cc;
          cc.set_type(raftpb::ADD_NODE);
          cc.set_node_id(m->second);
          cluster_.node(cluster_.Leader(m->first)).ProposeConfChange(m->first, cc).IgnoreError();
          next_try = client_->Now() + Millis(100);
        }
        return false;
      },
      deadline);
  RETURN_IF_ERROR(violation_);
  if (auto m = missing()) {
    const std::string group = "liveness: group " + std::to_string(m->first);
    if (m->second != 0) {
      return DeadlineExceededError(group + " could not take node " + std::to_string(m->second) +
                                   " back as a voter within 30 s of healing");
    }
    return DeadlineExceededError(group + (cluster_.Leader(m->first) == 0
                                              ? " has no leader 30 s after healing"
                                              : " did not apply its membership change within 30 s "
                                                "of healing"));
  }
  return Status::Ok();
}

Status Scenario::Convergence() {
  const Instant deadline = client_->Now() + Seconds(20);
  // A node that fail-stopped late (a background read hit by a fault before they were lifted) is
  // down until its supervisor restarts it.
  auto all_up = [&] {
    for (NodeId id : cluster_.ids()) {
      if (!cluster_.IsUp(id)) return false;
    }
    return true;
  };
  RunUntil(
      [&] {
        if (!all_up()) return false;
        for (store::GroupId g : groups_) {
          if (!cluster_.CheckConverged(g).ok()) return false;
        }
        return true;
      },
      deadline);
  RETURN_IF_ERROR(violation_);
  if (!all_up()) return DeadlineExceededError("convergence: a node is still down");
  for (store::GroupId g : groups_) {
    if (Status c = cluster_.CheckConverged(g); !c.ok()) {
      return Status(c.code(), "convergence: " + c.message() + "\n" + cluster_.Describe(g));
    }
  }
  return Status::Ok();
}

ScenarioReport Scenario::Run() {
  ScenarioReport report;
  report.swarm = swarm_.ToString();
  SimNetwork& net = cluster_.world().network();
  net.options().latency_max = swarm_.latency_max;
  net.options().drop = swarm_.drop;
  net.options().duplicate = swarm_.duplicate;
  net.options().extra_delay_max = swarm_.extra_delay;
  net.options().reorder = swarm_.reorder;
  if (swarm_.clock_rate_ppm > 0) {
    Random rates = Random(options_.seed).Stream("clock-rates");
    for (NodeId id : cluster_.ids()) {
      cluster_.world().SetClockRate(id, rates.Range(-swarm_.clock_rate_ppm, swarm_.clock_rate_ppm));
    }
  }
  Status s = cluster_.StartAll();
  if (s.ok()) groups_ = cluster_.node(cluster_.ids()[0]).groups();
  client_ = &cluster_.world().AddNode(kClient);
  // Disk faults start once every node is up (a failed first start would end the run).
  for (NodeId id : cluster_.ids()) {
    DiskFaults faults = swarm_.disk;
    if (id == swarm_.small_disk) faults.capacity_bytes = swarm_.small_disk_bytes;
    cluster_.disk(id)->SetFaults(faults);
  }
  if (options_.faults == FaultMode::kDisk || options_.faults == FaultMode::kAll) {
    sink_->expect_fail_stops();
  }
  nemesis_random_ = client_->random().Stream("nemesis");
  if (s.ok()) {
    for (int c = 1; c <= kKvClients; ++c) {
      ++clients_running_;
      client_->fibers().Spawn("kv-client", [this, c] { KvClient(c); });
    }
    ++clients_running_;
    client_->fibers().Spawn("other-client", [this] { OtherClient(); });
    if (options_.faults != FaultMode::kNone) ScheduleNemesis();
    const Instant end = client_->Now() + options_.duration;
    RunUntil([] { return false; }, end);
    stop_ = true;
    RunUntil([&] { return clients_running_ == 0; }, end + kOpTimeout * 2);
    s = violation_;
  }
  if (s.ok()) s = Liveness();
  if (s.ok()) s = Convergence();
  if (s.ok()) {
    LinearizabilityResult lin = CheckLinearizable(history_);
    s = lin.status;
    report.linearizability_unknown = lin.unknown;
  }
  report.error_logs = sink_->errors();
  if (s.ok() && report.error_logs > 0) {
    s = InternalError(std::to_string(report.error_logs) + " error-level log lines");
  }
  report.status = s;
  report.virtual_time = cluster_.world().Now() - Instant();
  report.events = cluster_.world().events_run();
  report.ops = ops_;
  for (const KvOp& op : history_) (op.indeterminate ? report.ops_indeterminate : report.ops_ok)++;
  report.faults = faults_;
  report.probes = hooks_.probes();
  report.buggify_fired = hooks_.buggify_fired();
  report.fail_stops = sink_->fail_stops();
  for (NodeId id : cluster_.ids()) {
    report.crashes += cluster_.disk(id)->crashes();
    report.disk_faults += cluster_.disk(id)->faults_injected();
  }
  report.messages_dropped = net.messages_dropped();
  report.trace_hash = cluster_.world().trace().hash();
  report.trace_lines = cluster_.world().trace().lines();
  return report;
}

}  // namespace

Result<FaultMode> ParseFaultMode(const std::string& s) {
  if (s == "none") return FaultMode::kNone;
  if (s == "network") return FaultMode::kNetwork;
  if (s == "disk") return FaultMode::kDisk;
  if (s == "all") return FaultMode::kAll;
  return InvalidArgumentError("--faults must be none, network, disk or all (got '" + s + "')");
}

ScenarioReport RunScenario(const ScenarioOptions& options) {
  Scenario scenario(options);
  return scenario.Run();
}

}  // namespace meta::sim
