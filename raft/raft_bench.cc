// Raft without I/O. Release build:
//   ci/build.sh release raft_bench && build/release/raft/raft_bench
#include <benchmark/benchmark.h>

#include <deque>
#include <map>
#include <memory>

#include "core/check.h"
#include "raft/raw_node.h"

namespace meta::raft {
namespace {

// Three RawNodes over MemoryStorage; every Ready is persisted in memory and its messages delivered
// at once. Proposals are batched `batch` at a time, as a busy leader sees them.
class Bench3 {
 public:
  Bench3() {
    raftpb::ConfState cs;
    for (uint64_t id : {1, 2, 3}) cs.add_voters(id);
    for (uint64_t id : {1, 2, 3}) {
      auto& n = nodes_[id];
      n.storage.SetConfState(cs);
      n.random = std::make_unique<Random>(id);
      Config c;
      c.id = id;
      n.node = std::make_unique<RawNode>(c, n.storage, *n.random);
    }
    CHECK(nodes_[1].node->Campaign().ok());
    Pump();
  }

  // Processes Readies and delivers messages until quiet. Returns entries applied on node 1.
  uint64_t Pump() {
    uint64_t applied = 0;
    bool progress = true;
    while (progress) {
      progress = false;
      for (auto& [id, n] : nodes_) {
        if (!n.node->HasReady()) continue;
        progress = true;
        Ready rd = n.node->GetReady();
        if (rd.hard_state) n.storage.SetHardState(*rd.hard_state);
        CHECK(n.storage.Append(rd.entries).ok());
        for (Message& m : rd.messages) inflight_.push_back(std::move(m));
        if (id == 1) applied += rd.committed_entries.size();
        n.node->Advance(rd);
      }
      while (!inflight_.empty()) {
        Message m = std::move(inflight_.front());
        inflight_.pop_front();
        (void)nodes_[m.to()].node->Step(m);
        progress = true;
      }
    }
    return applied;
  }

  RawNode& leader() { return *nodes_[1].node; }

 private:
  struct Node {
    MemoryStorage storage;
    std::unique_ptr<Random> random;
    std::unique_ptr<RawNode> node;
  };
  std::map<uint64_t, Node> nodes_;
  std::deque<Message> inflight_;
};

void BM_CommitThroughThreeNodes(benchmark::State& state) {
  Bench3 cluster;
  const std::string payload(256, 'x');
  const int batch = static_cast<int>(state.range(0));
  uint64_t committed = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) CHECK(cluster.leader().Propose(payload).ok());
    committed += cluster.Pump();
  }
  state.SetItemsProcessed(static_cast<int64_t>(committed));
  state.counters["entries/s"] =
      benchmark::Counter(static_cast<double>(committed), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CommitThroughThreeNodes)->Arg(1)->Arg(16)->Arg(256);

// Cost of Step for one append carrying one 256-byte entry on a follower, including its response.
void BM_FollowerStepAppend(benchmark::State& state) {
  MemoryStorage storage;
  raftpb::ConfState cs;
  for (uint64_t id : {1, 2, 3}) cs.add_voters(id);
  storage.SetConfState(cs);
  Random random(2);
  Config c;
  c.id = 2;
  RawNode node(c, storage, random);
  uint64_t index = 0;
  Message m;
  m.set_type(raftpb::MSG_APP);
  m.set_from(1);
  m.set_to(2);
  m.set_term(1);
  Entry* e = m.add_entries();
  e->set_term(1);
  e->set_data(std::string(256, 'x'));
  for (auto _ : state) {
    m.set_index(index);
    m.set_log_term(index == 0 ? 0 : 1);
    m.set_commit(index);
    m.mutable_entries(0)->set_index(index + 1);
    CHECK(node.Step(m).ok());
    ++index;
    Ready rd = node.GetReady();
    if (rd.hard_state) storage.SetHardState(*rd.hard_state);
    CHECK(storage.Append(rd.entries).ok());
    node.Advance(rd);
    if (index % 4096 == 0) CHECK(storage.Compact(index - 1).ok());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FollowerStepAppend);

}  // namespace
}  // namespace meta::raft
