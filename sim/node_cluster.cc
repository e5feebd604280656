#include "sim/node_cluster.h"

#include <filesystem>

#include "core/check.h"
#include "core/fiber.h"
#include "sim/rocks_env.h"

namespace meta::sim {

NodeCluster::NodeCluster(NodeClusterOptions options)
    : options_(std::move(options)),
      world_(WorldOptions{.seed = options_.seed,
                          .record_trace_lines = options_.record_trace_lines,
                          .log_sinks = options_.log_sinks}) {
  CHECK(!options_.base_dir.empty()) << "NodeCluster needs a base directory";
  for (int i = 1; i <= options_.nodes; ++i) {
    const NodeId id = static_cast<NodeId>(i);
    world_.AddNode(id);
    nodes_[id].dir = options_.base_dir + "/n" + std::to_string(id);
    if (options_.sim_disk) {
      nodes_[id].disk = std::make_unique<SimDisk>(Random(options_.seed).Stream("disk", id).Next());
      nodes_[id].disk->SetSlowSyncHandler(
          [this, id](Duration d) { world_.Pause(id, world_.Now() + d); });
    }
  }
}

NodeCluster::~NodeCluster() {
  for (auto& [id, slot] : nodes_) slot.node.reset();
}

std::vector<NodeId> NodeCluster::ids() const {
  std::vector<NodeId> out;
  for (const auto& [id, slot] : nodes_) out.push_back(id);
  return out;
}

store::Node& NodeCluster::node(NodeId id) {
  CHECK(IsUp(id)) << "node " << id << " is down";
  return *nodes_.at(id).node;
}

Status NodeCluster::Open(NodeId id) {
  Slot& slot = nodes_.at(id);
  SimEnv& env = world_.node(id);
  std::shared_ptr<rocksdb::FileSystem> fs;
  if (slot.disk) {
    fs = slot.disk->file_system();
  } else {
    std::filesystem::create_directories(slot.dir);
  }
  env.set_storage(StorageEnv{
      fs, slot.dir, NewDeterministicRocksEnv(fs, [&env](Task t) { env.Post(std::move(t)); })});
  store::NodeOptions o;
  o.id = id;
  for (const auto& [member, s] : nodes_) o.members.push_back(member);
  if (options_.tweak) options_.tweak(o);
  slot.digests.clear();
  ASSIGN_OR_RETURN(slot.node, store::Node::Open(env, o));
  slot.node->Start();
  return Status::Ok();
}

Status NodeCluster::StartAll() {
  for (const auto& [id, slot] : nodes_) RETURN_IF_ERROR(Open(id));
  return Status::Ok();
}

void NodeCluster::Crash(NodeId id) {
  Slot& slot = nodes_.at(id);
  if (slot.disk) slot.disk->PowerOff();
  slot.node.reset();
  world_.RestartNode(id);  // a fresh, empty process in its place
  if (slot.disk) slot.disk->Recover();
}

Status NodeCluster::Restart(NodeId id) {
  CHECK(!IsUp(id)) << "restarting node " << id << " that is up";
  return Open(id);
}

NodeId NodeCluster::Leader(store::GroupId group) {
  NodeId leader = 0;
  uint64_t term = 0;
  for (auto& [id, slot] : nodes_) {
    if (!slot.node) continue;
    const raft::Raft& r = slot.node->raft(group);
    if (r.state() == raft::StateType::kLeader && r.term() >= term) {
      leader = id;
      term = r.term();
    }
  }
  return leader;
}

bool NodeCluster::WaitForLeaders(Duration timeout) {
  return RunUntil(
      [this] {
        for (auto& [id, slot] : nodes_) {
          if (!slot.node) continue;
          for (store::GroupId g : slot.node->groups()) {
            if (Leader(g) == 0) return false;
          }
          return true;
        }
        return false;
      },
      timeout);
}

void NodeCluster::SpawnOn(NodeId id, std::function<void(store::Node&)> fn) {
  store::Node* n = &node(id);
  world_.node(id).fibers().Spawn("test", [n, fn = std::move(fn)] { fn(*n); });
}

bool NodeCluster::RunUntil(const std::function<bool()>& done, Duration timeout) {
  const Instant deadline = world_.Now() + timeout;
  while (!done()) {
    if (world_.Now() >= deadline) return false;
    if (!world_.Step()) return done();
  }
  return true;
}

std::string NodeCluster::Describe(store::GroupId group) {
  std::string out;
  for (auto& [id, slot] : nodes_) {
    out += "  node " + std::to_string(id) + ": ";
    if (!slot.node) {
      out += "down\n";
      continue;
    }
    const raft::Raft& r = slot.node->raft(group);
    out += std::string(raft::StateName(r.state())) + " term=" + std::to_string(r.term()) +
           " lead=" + std::to_string(r.lead()) + " first=" + std::to_string(r.log().FirstIndex()) +
           " last=" + std::to_string(r.log().LastIndex()) +
           " commit=" + std::to_string(r.log().committed()) +
           " applied=" + std::to_string(r.log().applied()) + " voters=(";
    for (uint64_t v : r.tracker().voters()) out += std::to_string(v) + " ";
    out += ") learners=(";
    for (uint64_t v : r.tracker().learners()) out += std::to_string(v) + " ";
    out += ")";
    if (r.state() == raft::StateType::kLeader) {
      for (const auto& [pid, pr] : r.tracker().progress()) {
        out += " [" + std::to_string(pid) + ": " + pr.ToString() + "]";
      }
    }
    out += "\n";
  }
  return out;
}

Status NodeCluster::CheckConverged(store::GroupId group) {
  // Applied indexes first: they are free, and while they differ (the usual case while waiting for
  // convergence) reading every replica's whole range for a digest would be wasted.
  std::optional<std::pair<NodeId, uint64_t>> applied;
  for (auto& [id, slot] : nodes_) {
    if (!slot.node) continue;
    const uint64_t a = slot.node->state_machine(group).applied_index();
    if (!applied) {
      applied.emplace(id, a);
    } else if (applied->second != a) {
      return InternalError("group " + std::to_string(group) + " not converged: node " +
                           std::to_string(applied->first) + " applied " +
                           std::to_string(applied->second) + ", node " + std::to_string(id) +
                           " applied " + std::to_string(a));
    }
  }
  std::optional<std::pair<uint64_t, uint64_t>> first;
  NodeId first_id = 0;
  for (auto& [id, slot] : nodes_) {
    if (!slot.node) continue;
    store::StateMachine& sm = slot.node->state_machine(group);
    auto cached = slot.digests.find(group);
    if (cached == slot.digests.end() || cached->second.first != sm.applied_index()) {
      ASSIGN_OR_RETURN(uint64_t digest, sm.Digest());
      cached = slot.digests.insert_or_assign(group, std::pair{sm.applied_index(), digest}).first;
    }
    const std::pair<uint64_t, uint64_t> mine = cached->second;
    if (!first) {
      first = mine;
      first_id = id;
    } else if (*first != mine) {
      return InternalError("group " + std::to_string(group) + " diverged: node " +
                           std::to_string(first_id) + " applied " + std::to_string(first->first) +
                           " digest " + std::to_string(first->second) + ", node " +
                           std::to_string(id) + " applied " + std::to_string(mine.first) +
                           " digest " + std::to_string(mine.second) + "\n" + Describe(group));
    }
  }
  return Status::Ok();
}

}  // namespace meta::sim
