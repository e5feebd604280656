// Crash tests on the simulated disk: a client writes unique keys (exactly-once: one client id,
// increasing sequence numbers, retries reuse the sequence) while nodes lose power at random points
// and come back. Afterwards every acknowledged write must be on every replica, no write may have
// been applied twice (each key is written by exactly one command, so its version must be 1), and
// all replicas must hold identical data.
//
// A failure prints the seed and the command replaying it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <set>

#include "core/fiber.h"
#include "sim/node_cluster.h"

namespace meta::sim {
namespace {

constexpr NodeId kClient = 100;

storepb::Command Put(int i) {
  storepb::Command c;
  c.mutable_kv_put()->set_key("k" + std::to_string(i));
  c.mutable_kv_put()->set_value("v" + std::to_string(i));
  c.set_client_id(7);
  c.set_sequence(static_cast<uint64_t>(i) + 1);
  return c;
}

struct Outcome {
  Status status;
  int acknowledged = 0;
  uint64_t crashes = 0;
  uint64_t bytes_lost = 0;
};

// Power-cycles a random node every so often, never more than one down at a time.
void Nemesis(NodeCluster& c, Random& rng, const bool& stop) {
  if (stop) return;
  c.world().node(kClient).After(rng.Range(Millis(20), Millis(400)), [&c, &rng, &stop] {
    if (stop) return;
    std::vector<NodeId> ids = c.ids();
    const NodeId victim = ids[rng.Uniform(ids.size())];
    c.Crash(victim);
    c.world().node(kClient).After(rng.Range(Millis(10), Millis(300)), [&c, &rng, &stop, victim] {
      if (!c.IsUp(victim)) CHECK(c.Restart(victim).ok());  // the heal may have restarted it
      Nemesis(c, rng, stop);
    });
  });
}

Outcome RunSeed(uint64_t seed, int writes) {
  Outcome out;
  NodeCluster c(NodeClusterOptions{.seed = seed,
                                   .nodes = 3,
                                   .base_dir = "/sim",
                                   .sim_disk = true,
                                   .tweak = [](store::NodeOptions& o) {
                                     o.snapshot_entries = 25;
                                     o.write_timeout = Seconds(2);
                                   }});
  CHECK(c.StartAll().ok());
  Env& client = c.world().AddNode(kClient);
  Random rng = client.random().Stream("nemesis");
  bool stop = false;
  std::set<int> acked;
  bool done = false;
  client.fibers().Spawn("client", [&] {
    Random& pick = fiber::CurrentEnv().random();
    for (int i = 0; i < writes; ++i) {
      // Retry (same sequence number) until it is acknowledged.
      for (int attempt = 0; attempt < 500; ++attempt) {
        const NodeId target = c.ids()[pick.Uniform(c.ids().size())];
        Future<storepb::ApplyResult> f = c.Call<storepb::ApplyResult>(
            target, [cmd = Put(i)](store::Node& n) { return n.Write(cmd); });
        Result<storepb::ApplyResult> r = f.Get(Seconds(3));
        if (r.ok() && r->code() == 0) {
          acked.insert(i);
          break;
        }
        (void)fiber::Sleep(Millis(20));
      }
    }
    done = true;
  });
  Nemesis(c, rng, stop);
  c.RunUntil([&] { return done; }, Seconds(600));
  stop = true;
  // Heal: every node up, then let them converge.
  for (NodeId id : c.ids()) {
    if (!c.IsUp(id)) CHECK(c.Restart(id).ok());
  }
  c.world().RunFor(Seconds(10));
  out.acknowledged = static_cast<int>(acked.size());
  for (NodeId id : c.ids()) {
    out.crashes += c.disk(id)->crashes();
    out.bytes_lost += c.disk(id)->bytes_lost();
  }
  if (!done) {
    out.status = InternalError("the client did not finish within 600 s of virtual time");
    return out;
  }
  for (NodeId id : c.ids()) {
    for (int i = 0; i < writes; ++i) {
      Result<storepb::KvValue> v = c.node(id).Get("k" + std::to_string(i), false);
      if (!v.ok()) {
        if (acked.count(i)) {
          out.status = DataLossError("node " + std::to_string(id) + " lost acknowledged write k" +
                                     std::to_string(i) + ": " + v.status().ToString());
          return out;
        }
        continue;
      }
      if (v->version() != 1) {
        out.status =
            InternalError("k" + std::to_string(i) + " applied " + std::to_string(v->version()) +
                          " times on node " + std::to_string(id));
        return out;
      }
    }
  }
  for (store::GroupId g : c.node(1).groups()) {
    Status s = c.CheckConverged(g);
    if (!s.ok()) {
      out.status = s;
      return out;
    }
  }
  return out;
}

// CI runs seeds 1..200 in four shards (so CTest can run them in parallel); META_CRASH_SEEDS=A..B
// (or one seed) replaces that with a single run of the given range.
std::optional<std::pair<uint64_t, uint64_t>> SeedRange(int shard) {
  constexpr uint64_t kSeedsPerShard = 50;
  const char* env = std::getenv("META_CRASH_SEEDS");
  if (env == nullptr) {
    const uint64_t first = 1 + kSeedsPerShard * static_cast<uint64_t>(shard);
    return std::make_pair(first, first + kSeedsPerShard - 1);
  }
  if (shard != 0) return std::nullopt;
  std::string s(env);
  const size_t dots = s.find("..");
  if (dots == std::string::npos) return std::make_pair(std::stoull(s), std::stoull(s));
  return std::make_pair(std::stoull(s.substr(0, dots)), std::stoull(s.substr(dots + 2)));
}

class CrashTest : public ::testing::TestWithParam<int> {};

TEST_P(CrashTest, NoAcknowledgedWriteLostNothingAppliedTwiceReplicasConverge) {
  const auto range = SeedRange(GetParam());
  if (!range) GTEST_SKIP() << "META_CRASH_SEEDS runs shard 0 only";
  const auto [first, last] = *range;
  uint64_t crashes = 0, bytes_lost = 0;
  int acknowledged = 0;
  for (uint64_t seed = first; seed <= last; ++seed) {
    Outcome o = RunSeed(seed, 30);
    ASSERT_TRUE(o.status.ok()) << "seed " << seed << ": " << o.status
                               << "\nreplay: META_CRASH_SEEDS=" << seed
                               << " build/debug/sim/crash_test";
    crashes += o.crashes;
    bytes_lost += o.bytes_lost;
    acknowledged += o.acknowledged;
  }
  std::printf("seeds %llu..%llu: %d writes acknowledged, %llu crashes, %llu unsynced bytes lost\n",
              static_cast<unsigned long long>(first), static_cast<unsigned long long>(last),
              acknowledged, static_cast<unsigned long long>(crashes),
              static_cast<unsigned long long>(bytes_lost));
  EXPECT_GT(crashes, 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, CrashTest, ::testing::Range(0, 4));

}  // namespace
}  // namespace meta::sim
