// A hand-driven cluster of RawNodes for golden "interaction" scripts (raft/testdata/*.txt, run by
// raft/interaction_test.cc), in the style of etcd-raft's datadriven tests. Unlike Cluster
// (cluster.h), every step is visible: a Ready is printed before it is persisted, messages sit in a
// pool until a command delivers or drops them, and nodes can join with an empty configuration.
//
// The storage model and the safety checkers are Cluster's: only what a Ready asked to persist
// survives a crash; CheckBasic/CheckDelta run after every step of every node, and after every
// command the cluster properties (election safety, log matching, leader completeness, state machine
// safety, committed entries never lost, ReadIndex linearizability) are checked and any violation
// is printed in the command's output. One difference: leader completeness is only required of
// leaders of a term after the one in which the entry was known committed, so a stale leader cut
// off in an older term is not reported.
//
// Commands (ids are node ids; lists are comma-separated, parentheses optional):
//   add-nodes N [voters=..] [learners=..] [prevote=B] [checkquorum=B] [max-inflight=K]
//             [max-size-per-msg=B] [election=T] [heartbeat=T]
//       Creates N nodes with the next free ids. The first add-nodes defaults voters to the new
//       ids; later ones default to an empty configuration (a node about to be added by a conf
//       change, which learns the configuration from a snapshot).
//   campaign ID | propose ID DATA | propose-conf-change ID type=add|remove|learner node=X
//   transfer-leader from=ID to=ID | read-index ID CTX
//   tick ID|all [n=K]
//   process-ready ID..|all            prints and handles each Ready (persist, send, apply, advance)
//   deliver-msgs [ID..] [drop=ID,..] [type=MSG_X]
//       Delivers the pooled messages addressed to the IDs (default: all), in send order grouped by
//       recipient; messages to a `drop` node are dropped instead; `type` restricts to one type.
//   stabilize [ID..]                  process-ready + deliver-msgs until nothing happens
//   partition A,B / C [/ ...]         cuts every link between groups (unlisted nodes: one more
//                                     group); heal restores every link. A message crosses a link
//                                     by its from/to fields (a forwarded MSG_TRANSFER_LEADER
//                                     carries the transferee as `from`).
//   crash ID | restart ID | compact ID
//   status ID | log ID | raft-state
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/random.h"
#include "core/status.h"
#include "raft/invariants.h"
#include "raft/raw_node.h"
#include "raft/testing/checks.h"

namespace meta::raft::testing {

// One parsed script command: `name positional... key=value...` and its input lines.
struct InteractionCommand {
  std::string name;
  std::vector<std::string> args;
  std::map<std::string, std::string> kwargs;
  std::vector<std::string> input;

  // Splits a command line into name, positional arguments and key=value arguments.
  static InteractionCommand Parse(const std::string& line);
};

class InteractionEnv {
 public:
  explicit InteractionEnv(uint64_t seed = 1) : seed_(seed) {}

  // Runs one command and returns what it printed (never empty, no blank lines, ends with '\n').
  // INVALID_ARGUMENT for a malformed command; errors Raft returns are part of the output instead.
  Result<std::string> Handle(const InteractionCommand& cmd);

 private:
  using Applied = AppliedEntry;
  struct Soft {
    StateType state = StateType::kFollower;
    uint64_t term = 0;
    uint64_t lead = kNone;
    friend bool operator==(const Soft&, const Soft&) = default;
  };
  struct Node {
    Config config;          // as created; `applied` is filled in on restart
    MemoryStorage storage;  // the "disk": only what a Ready persisted
    std::vector<Applied> applied;
    uint64_t applied_index = 0;  // persisted with `applied` (atomic apply)
    raftpb::ConfState conf_state;
    std::unique_ptr<Random> random;
    std::unique_ptr<RawNode> node;
    Observation last_observation;
    std::vector<ReadState> reads;
  };

  // Commands.
  Result<std::string> AddNodes(const InteractionCommand& cmd);
  Result<std::string> Tick(const InteractionCommand& cmd);
  Result<std::string> ProcessReadyCmd(const InteractionCommand& cmd);
  Result<std::string> DeliverMsgs(const InteractionCommand& cmd);
  Result<std::string> Stabilize(const InteractionCommand& cmd);
  Result<std::string> PartitionCmd(const InteractionCommand& cmd);
  Result<std::string> Crash(uint64_t id);
  Result<std::string> Restart(uint64_t id);
  Result<std::string> Compact(uint64_t id);
  std::string StatusOf(uint64_t id);
  std::string LogOf(uint64_t id);
  std::string RaftState();

  // Runs `step` on node `id` and reports its error and any role change.
  std::string RunStep(uint64_t id, const std::function<Status(RawNode&)>& step,
                      const std::string& indent);
  // Handles one Ready of `id` (if any) and prints it; empty if there was none.
  std::string ProcessReady(uint64_t id);
  // Delivers (or drops) the pooled messages selected by `to` (empty: all) and `type`.
  std::string Deliver(const std::set<uint64_t>& to, const std::set<uint64_t>& drop,
                      const std::string& type);
  void Apply(Node& n, uint64_t id, const Entry& e, std::string& out);
  void RestoreSnapshot(Node& n, const Snapshot& snap);
  Result<uint64_t> UpNode(const std::string& arg);
  Result<std::vector<uint64_t>> NodeList(const std::vector<std::string>& args);
  std::string Transitions(const std::map<uint64_t, Soft>& before, const std::string& indent);
  std::map<uint64_t, Soft> Softs() const;

  // Checkers (as in Cluster).
  void AfterStep(uint64_t id);
  Status Check();
  Status CheckLogs();
  Status CheckReads();

  uint64_t seed_;
  std::map<uint64_t, Node> nodes_;
  std::vector<Message> pool_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;
  std::map<uint64_t, uint64_t> leader_of_term_;
  std::map<uint64_t, Applied> committed_;     // every entry known committed
  std::map<uint64_t, uint64_t> commit_term_;  // index -> a term by which it was committed
  std::map<std::string, uint64_t> read_floor_;
  Status violation_;
  std::string last_reported_;
};

// Compact one-line renderings used in the scripts' output.
std::string FormatEntry(const Entry& e);
std::string FormatMessage(const Message& m);

}  // namespace meta::raft::testing
