#include "raft/testing/interaction.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <sstream>

#include "core/check.h"
#include "raft/testing/checks.h"

namespace meta::raft::testing {
namespace {

std::string N(uint64_t v) { return std::to_string(v); }

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c < 0x20 || c > 0x7e) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      out += kHex[static_cast<unsigned char>(c) & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string IdList(const std::set<uint64_t>& ids) {
  std::string out = "(";
  for (uint64_t id : ids) out += (out.size() > 1 ? " " : "") + N(id);
  return out + ")";
}

std::string FormatConfState(const raftpb::ConfState& cs) {
  return "voters=" + IdList({cs.voters().begin(), cs.voters().end()}) +
         " learners=" + IdList({cs.learners().begin(), cs.learners().end()});
}

std::string FormatHardState(const HardState& hs) {
  return "term=" + N(hs.term()) + " vote=" + N(hs.vote()) + " commit=" + N(hs.commit());
}

std::string FormatSnapshotMeta(const Snapshot& s) {
  return N(s.metadata().index()) + "/" + N(s.metadata().term()) + " " +
         FormatConfState(s.metadata().conf_state());
}

std::string FormatEntries(const google::protobuf::RepeatedPtrField<Entry>& ents) {
  std::string out = "[";
  for (const Entry& e : ents) out += (out.size() > 1 ? ", " : "") + FormatEntry(e);
  return out + "]";
}

Result<uint64_t> ParseU64(const std::string& s) {
  if (s.empty() || s.size() > 19 ||
      !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return InvalidArgumentError("not a number: '" + s + "'");
  }
  return std::stoull(s);
}

Result<bool> ParseBool(const std::string& s) {
  if (s == "true") return true;
  if (s == "false") return false;
  return InvalidArgumentError("not a bool: '" + s + "'");
}

// "1,2,3", "(1 2 3)", "1, 2" -> {1, 2, 3}.
Result<std::vector<uint64_t>> ParseIds(const std::string& s) {
  std::string t;
  for (char c : s) t += (c == ',' || c == '(' || c == ')') ? ' ' : c;
  std::istringstream in(t);
  std::vector<uint64_t> out;
  for (std::string tok; in >> tok;) {
    ASSIGN_OR_RETURN(uint64_t id, ParseU64(tok));
    out.push_back(id);
  }
  return out;
}

}  // namespace

std::string FormatEntry(const Entry& e) {
  std::string out = N(e.index()) + "/" + N(e.term());
  if (e.type() == raftpb::ENTRY_CONF_CHANGE) {
    ConfChange cc;
    if (!cc.ParseFromString(e.data())) return out + " EntryConfChange <garbled>";
    return out + " EntryConfChange " + raftpb::ConfChangeType_Name(cc.type()) + " " +
           N(cc.node_id());
  }
  out += " EntryNormal";
  if (!e.data().empty()) out += " " + Quote(e.data());
  return out;
}

std::string FormatMessage(const Message& m) {
  std::string out = N(m.from()) + "->" + N(m.to()) + " " + raftpb::MessageType_Name(m.type());
  out += " term=" + N(m.term());
  switch (m.type()) {
    case raftpb::MSG_APP:
      out += " index=" + N(m.index()) + " log_term=" + N(m.log_term()) +
             " commit=" + N(m.commit()) + " entries=" + FormatEntries(m.entries());
      break;
    case raftpb::MSG_APP_RESP:
      out += " index=" + N(m.index());
      if (m.reject()) {
        out += " reject hint=" + N(m.reject_hint()) + " hint_term=" + N(m.log_term());
      }
      break;
    case raftpb::MSG_VOTE:
    case raftpb::MSG_PRE_VOTE:
      out += " index=" + N(m.index()) + " log_term=" + N(m.log_term());
      break;
    case raftpb::MSG_VOTE_RESP:
    case raftpb::MSG_PRE_VOTE_RESP:
      if (m.reject()) out += " reject";
      break;
    case raftpb::MSG_SNAP:
      out += " snapshot=" + FormatSnapshotMeta(m.snapshot());
      break;
    case raftpb::MSG_HEARTBEAT:
      out += " commit=" + N(m.commit());
      break;
    case raftpb::MSG_PROP:
      out += " entries=" + FormatEntries(m.entries());
      break;
    case raftpb::MSG_READ_INDEX_RESP:
      out += " index=" + N(m.index());
      break;
    default:
      if (m.index() != 0) out += " index=" + N(m.index());
      if (m.commit() != 0) out += " commit=" + N(m.commit());
      if (m.reject()) out += " reject";
      break;
  }
  if (!m.context().empty()) out += " context=" + Quote(m.context());
  return out;
}

InteractionCommand InteractionCommand::Parse(const std::string& line) {
  InteractionCommand cmd;
  std::istringstream in(line);
  in >> cmd.name;
  for (std::string tok; in >> tok;) {
    const size_t eq = tok.find('=');
    if (eq == std::string::npos || eq == 0) {
      cmd.args.push_back(tok);
    } else {
      cmd.kwargs[tok.substr(0, eq)] = tok.substr(eq + 1);
    }
  }
  return cmd;
}

// ---- Dispatch ---------------------------------------------------------------------------------

Result<std::string> InteractionEnv::Handle(const InteractionCommand& cmd) {
  const std::map<uint64_t, Soft> before = Softs();
  std::string out;
  auto one_node = [&]() -> Result<uint64_t> {
    if (cmd.args.empty()) return InvalidArgumentError(cmd.name + ": missing node id");
    return UpNode(cmd.args[0]);
  };
  auto kwarg = [&](const std::string& key) -> Result<std::string> {
    auto it = cmd.kwargs.find(key);
    if (it == cmd.kwargs.end()) return InvalidArgumentError(cmd.name + ": missing " + key + "=");
    return it->second;
  };
  auto print_status = [&](const Status& s) {
    if (!s.ok()) out += "error: " + s.ToString() + "\n";
  };
  if (cmd.name == "add-nodes") {
    ASSIGN_OR_RETURN(out, AddNodes(cmd));
  } else if (cmd.name == "campaign") {
    ASSIGN_OR_RETURN(uint64_t id, one_node());
    print_status(nodes_.at(id).node->Campaign());
    AfterStep(id);
  } else if (cmd.name == "propose") {
    ASSIGN_OR_RETURN(uint64_t id, one_node());
    if (cmd.args.size() != 2) return InvalidArgumentError("propose ID DATA");
    print_status(nodes_.at(id).node->Propose(cmd.args[1]));
    AfterStep(id);
  } else if (cmd.name == "propose-conf-change") {
    ASSIGN_OR_RETURN(uint64_t id, one_node());
    ASSIGN_OR_RETURN(std::string type, kwarg("type"));
    ASSIGN_OR_RETURN(std::string node_str, kwarg("node"));
    ASSIGN_OR_RETURN(uint64_t target, ParseU64(node_str));
    ConfChange cc;
    cc.set_node_id(target);
    if (type == "add") {
      cc.set_type(raftpb::ADD_NODE);
    } else if (type == "remove") {
      cc.set_type(raftpb::REMOVE_NODE);
    } else if (type == "learner") {
      cc.set_type(raftpb::ADD_LEARNER);
    } else {
      return InvalidArgumentError("conf change type must be add, remove or learner");
    }
    print_status(nodes_.at(id).node->ProposeConfChange(cc));
    AfterStep(id);
  } else if (cmd.name == "transfer-leader") {
    ASSIGN_OR_RETURN(std::string from_str, kwarg("from"));
    ASSIGN_OR_RETURN(std::string to_str, kwarg("to"));
    ASSIGN_OR_RETURN(uint64_t from, UpNode(from_str));
    ASSIGN_OR_RETURN(uint64_t to, ParseU64(to_str));
    print_status(nodes_.at(from).node->TransferLeader(to));
    AfterStep(from);
  } else if (cmd.name == "read-index") {
    ASSIGN_OR_RETURN(uint64_t id, one_node());
    if (cmd.args.size() != 2) return InvalidArgumentError("read-index ID CONTEXT");
    // Every write committed anywhere by now must be visible to this read.
    uint64_t floor = committed_.empty() ? 0 : committed_.rbegin()->first;
    for (const auto& [nid, n] : nodes_) {
      if (n.node) floor = std::max(floor, n.node->raft().log().committed());
    }
    read_floor_[cmd.args[1]] = floor;
    print_status(nodes_.at(id).node->ReadIndex(cmd.args[1]));
    AfterStep(id);
  } else if (cmd.name == "tick") {
    ASSIGN_OR_RETURN(out, Tick(cmd));
  } else if (cmd.name == "process-ready") {
    ASSIGN_OR_RETURN(out, ProcessReadyCmd(cmd));
  } else if (cmd.name == "deliver-msgs") {
    ASSIGN_OR_RETURN(out, DeliverMsgs(cmd));
  } else if (cmd.name == "stabilize") {
    ASSIGN_OR_RETURN(out, Stabilize(cmd));
  } else if (cmd.name == "partition") {
    ASSIGN_OR_RETURN(out, PartitionCmd(cmd));
  } else if (cmd.name == "heal") {
    cut_.clear();
  } else if (cmd.name == "crash") {
    ASSIGN_OR_RETURN(uint64_t id, one_node());
    ASSIGN_OR_RETURN(out, Crash(id));
  } else if (cmd.name == "restart") {
    if (cmd.args.empty()) return InvalidArgumentError("restart: missing node id");
    ASSIGN_OR_RETURN(uint64_t id, ParseU64(cmd.args[0]));
    ASSIGN_OR_RETURN(out, Restart(id));
  } else if (cmd.name == "compact") {
    ASSIGN_OR_RETURN(uint64_t id, one_node());
    ASSIGN_OR_RETURN(out, Compact(id));
  } else if (cmd.name == "status") {
    ASSIGN_OR_RETURN(uint64_t id, one_node());
    out = StatusOf(id);
  } else if (cmd.name == "log") {
    ASSIGN_OR_RETURN(uint64_t id, one_node());
    out = LogOf(id);
  } else if (cmd.name == "raft-state") {
    out = RaftState();
  } else {
    return InvalidArgumentError("unknown command '" + cmd.name + "'");
  }
  // Commands that print their own play-by-play report role changes inline.
  if (cmd.name != "deliver-msgs" && cmd.name != "stabilize" && cmd.name != "process-ready" &&
      cmd.name != "restart" && cmd.name != "add-nodes") {
    out += Transitions(before, "");
  }
  const Status s = Check();
  if (!s.ok() && s.ToString() != last_reported_) {
    last_reported_ = s.ToString();
    out += "VIOLATION: " + last_reported_ + "\n";
  }
  if (out.empty()) out = "ok\n";
  return out;
}

Result<uint64_t> InteractionEnv::UpNode(const std::string& arg) {
  ASSIGN_OR_RETURN(uint64_t id, ParseU64(arg));
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return InvalidArgumentError("no node " + arg);
  if (!it->second.node) return InvalidArgumentError("node " + arg + " is down");
  return id;
}

Result<std::vector<uint64_t>> InteractionEnv::NodeList(const std::vector<std::string>& args) {
  std::vector<uint64_t> ids;
  if (args.empty() || (args.size() == 1 && args[0] == "all")) {
    for (const auto& [id, n] : nodes_) ids.push_back(id);
    return ids;
  }
  for (const std::string& a : args) {
    ASSIGN_OR_RETURN(std::vector<uint64_t> more, ParseIds(a));
    for (uint64_t id : more) {
      if (!nodes_.count(id)) return InvalidArgumentError("no node " + N(id));
      ids.push_back(id);
    }
  }
  return ids;
}

std::map<uint64_t, InteractionEnv::Soft> InteractionEnv::Softs() const {
  std::map<uint64_t, Soft> out;
  for (const auto& [id, n] : nodes_) {
    if (n.node) {
      const Raft& r = n.node->raft();
      out[id] = Soft{r.state(), r.term(), r.lead()};
    }
  }
  return out;
}

std::string InteractionEnv::Transitions(const std::map<uint64_t, Soft>& before,
                                        const std::string& indent) {
  std::string out;
  for (const auto& [id, now] : Softs()) {
    auto it = before.find(id);
    if (it == before.end() || it->second == now) continue;
    out += indent + N(id) + " became " + StateName(now.state) + " at term " + N(now.term) +
           (now.lead != kNone ? " (lead " + N(now.lead) + ")" : "") + "\n";
  }
  return out;
}

// ---- Nodes ------------------------------------------------------------------------------------

Result<std::string> InteractionEnv::AddNodes(const InteractionCommand& cmd) {
  if (cmd.args.size() != 1) return InvalidArgumentError("add-nodes N [key=value...]");
  ASSIGN_OR_RETURN(uint64_t count, ParseU64(cmd.args[0]));
  const uint64_t first = nodes_.empty() ? 1 : nodes_.rbegin()->first + 1;
  raftpb::ConfState cs;
  if (auto it = cmd.kwargs.find("voters"); it != cmd.kwargs.end()) {
    ASSIGN_OR_RETURN(std::vector<uint64_t> ids, ParseIds(it->second));
    for (uint64_t id : ids) cs.add_voters(id);
  } else if (nodes_.empty()) {
    for (uint64_t id = first; id < first + count; ++id) cs.add_voters(id);
  }
  if (auto it = cmd.kwargs.find("learners"); it != cmd.kwargs.end()) {
    ASSIGN_OR_RETURN(std::vector<uint64_t> ids, ParseIds(it->second));
    for (uint64_t id : ids) cs.add_learners(id);
  }
  Config base;
  base.election_tick = 10;
  base.heartbeat_tick = 1;
  for (const auto& [key, value] : cmd.kwargs) {
    if (key == "voters" || key == "learners") continue;
    if (key == "prevote" || key == "checkquorum") {
      ASSIGN_OR_RETURN(bool b, ParseBool(value));
      (key == "prevote" ? base.pre_vote : base.check_quorum) = b;
      continue;
    }
    ASSIGN_OR_RETURN(uint64_t v, ParseU64(value));
    if (key == "max-inflight") {
      base.max_inflight_msgs = v;
    } else if (key == "max-size-per-msg") {
      base.max_size_per_msg = v;
    } else if (key == "election") {
      base.election_tick = static_cast<int>(v);
    } else if (key == "heartbeat") {
      base.heartbeat_tick = static_cast<int>(v);
    } else {
      return InvalidArgumentError("add-nodes: unknown option " + key);
    }
  }
  std::string out;
  for (uint64_t id = first; id < first + count; ++id) {
    Node& n = nodes_[id];
    n.config = base;
    n.config.id = id;
    if (Status s = n.config.Validate(); !s.ok()) return s;
    n.conf_state = cs;
    n.storage.SetConfState(cs);
    n.random = std::make_unique<Random>(Random(seed_).Stream("raft-node", id));
    ASSIGN_OR_RETURN(std::string line, Restart(id));
    out += line;
  }
  return out;
}

Result<std::string> InteractionEnv::Crash(uint64_t id) {
  Node& n = nodes_.at(id);
  const Raft& r = n.node->raft();
  std::string out = N(id) + " crashed\n";
  std::string lost;
  for (const Entry& e : r.log().unstable_entries()) lost += " " + FormatEntry(e);
  if (!lost.empty()) out += "  lost unpersisted entries:" + lost + "\n";
  const HardState hs = r.GetHardState();
  const HardState& disk = n.storage.hard_state();
  if (hs.term() != disk.term() || hs.vote() != disk.vote() || hs.commit() != disk.commit()) {
    out += "  lost hard state " + FormatHardState(hs) + " (persisted: " + FormatHardState(disk) +
           ")\n";
  }
  n.node.reset();
  n.reads.clear();
  return out;
}

Result<std::string> InteractionEnv::Restart(uint64_t id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return InvalidArgumentError("no node " + N(id));
  Node& n = it->second;
  if (n.node) return InvalidArgumentError("node " + N(id) + " is up");
  Config config = n.config;
  config.applied = n.applied_index;
  n.node = std::make_unique<RawNode>(config, n.storage, *n.random);
  n.last_observation = Observation::Of(n.node->raft());
  const Raft& r = n.node->raft();
  return N(id) + ": " + StateName(r.state()) + " term=" + N(r.term()) + " vote=" + N(r.vote()) +
         " commit=" + N(r.log().committed()) + " applied=" + N(r.log().applied()) +
         " first=" + N(r.log().FirstIndex()) + " last=" + N(r.log().LastIndex()) + " " +
         FormatConfState(r.tracker().ConfState()) + "\n";
}

Result<std::string> InteractionEnv::Compact(uint64_t id) {
  Node& n = nodes_.at(id);
  if (n.applied_index < n.storage.FirstIndex()) return std::string("nothing to compact\n");
  std::string data;
  AppendU64(data, n.applied.size());
  for (const Applied& e : n.applied) {
    AppendU64(data, e.index);
    AppendU64(data, e.term);
    AppendU64(data, e.data.size());
    data += e.data;
  }
  ASSIGN_OR_RETURN(Snapshot snap,
                   n.storage.CreateSnapshot(n.applied_index, n.conf_state, std::move(data)));
  RETURN_IF_ERROR(n.storage.Compact(n.applied_index));
  const RaftLog& log = n.node->raft().log();
  return N(id) + " compacted: snapshot " + FormatSnapshotMeta(snap) +
         ", log first=" + N(log.FirstIndex()) + " last=" + N(log.LastIndex()) + "\n";
}

std::string InteractionEnv::RunStep(uint64_t id, const std::function<Status(RawNode&)>& step,
                                    const std::string& indent) {
  const std::map<uint64_t, Soft> before = Softs();
  const Status s = step(*nodes_.at(id).node);
  AfterStep(id);
  std::string out;
  if (!s.ok()) out += indent + "error: " + s.ToString() + "\n";
  return out + Transitions(before, indent);
}

Result<std::string> InteractionEnv::Tick(const InteractionCommand& cmd) {
  if (cmd.args.size() != 1) return InvalidArgumentError("tick ID|all [n=K]");
  uint64_t times = 1;
  if (auto it = cmd.kwargs.find("n"); it != cmd.kwargs.end()) {
    ASSIGN_OR_RETURN(times, ParseU64(it->second));
  }
  std::vector<uint64_t> ids;
  if (cmd.args[0] == "all") {
    for (const auto& [id, n] : nodes_) ids.push_back(id);
  } else {
    ASSIGN_OR_RETURN(uint64_t id, UpNode(cmd.args[0]));
    ids.push_back(id);
  }
  for (uint64_t i = 0; i < times; ++i) {
    for (uint64_t id : ids) {
      Node& n = nodes_.at(id);
      if (!n.node) continue;
      n.node->Tick();
      AfterStep(id);
    }
  }
  return std::string();
}

// ---- Ready ------------------------------------------------------------------------------------

std::string InteractionEnv::ProcessReady(uint64_t id) {
  Node& n = nodes_.at(id);
  if (!n.node || !n.node->HasReady()) return "";
  const std::map<uint64_t, Soft> before = Softs();
  Ready rd = n.node->GetReady();
  std::string out = "> " + N(id) + " handling Ready\n";
  out += std::string("  Ready must_sync=") + (rd.must_sync ? "true" : "false") + ":\n";
  if (rd.soft_state) {
    out += std::string("  State: ") + StateName(rd.soft_state->state) +
           " lead=" + N(rd.soft_state->lead) + "\n";
  }
  if (rd.hard_state) out += "  HardState " + FormatHardState(*rd.hard_state) + "\n";
  if (!rd.entries.empty()) {
    out += "  Entries:\n";
    for (const Entry& e : rd.entries) out += "  " + FormatEntry(e) + "\n";
  }
  if (rd.snapshot) out += "  Snapshot " + FormatSnapshotMeta(*rd.snapshot) + "\n";
  if (!rd.committed_entries.empty()) {
    out += "  CommittedEntries:\n";
    for (const Entry& e : rd.committed_entries) out += "  " + FormatEntry(e) + "\n";
  }
  if (!rd.messages.empty()) {
    out += "  Messages:\n";
    for (const Message& m : rd.messages) out += "  " + FormatMessage(m) + "\n";
  }
  if (!rd.read_states.empty()) {
    out += "  ReadStates:\n";
    for (const ReadState& rs : rd.read_states) {
      out += "  index=" + N(rs.index) + " context=" + Quote(rs.context) + "\n";
    }
  }
  // 1. Persist.
  if (rd.snapshot) CHECK(n.storage.ApplySnapshot(*rd.snapshot).ok());
  CHECK(n.storage.Append(rd.entries).ok());
  if (rd.hard_state) n.storage.SetHardState(*rd.hard_state);
  // 2. Send.
  for (Message& m : rd.messages) pool_.push_back(std::move(m));
  // 3. Apply.
  if (rd.snapshot) RestoreSnapshot(n, *rd.snapshot);
  for (const Entry& e : rd.committed_entries) Apply(n, id, e, out);
  for (const ReadState& rs : rd.read_states) n.reads.push_back(rs);
  // 4. Advance.
  n.node->Advance(rd);
  AfterStep(id);
  return out + Transitions(before, "  ");
}

Result<std::string> InteractionEnv::ProcessReadyCmd(const InteractionCommand& cmd) {
  ASSIGN_OR_RETURN(std::vector<uint64_t> ids, NodeList(cmd.args));
  std::string out;
  for (uint64_t id : ids) out += ProcessReady(id);
  return out.empty() ? std::string("no Ready\n") : out;
}

void InteractionEnv::Apply(Node& n, uint64_t id, const Entry& e, std::string& out) {
  if (e.index() != n.applied_index + 1) {
    if (violation_.ok()) {
      violation_ = InternalError("node " + N(id) + " applied index " + N(e.index()) +
                                 " right after " + N(n.applied_index));
    }
    return;
  }
  Applied applied{e.index(), e.term(), e.data()};
  if (e.type() == raftpb::ENTRY_CONF_CHANGE) {
    ConfChange cc;
    CHECK(cc.ParseFromString(e.data()));
    n.conf_state = n.node->ApplyConfChange(cc);
    n.storage.SetConfState(n.conf_state);
    applied.data = "conf:" + raftpb::ConfChangeType_Name(cc.type()) + ":" + N(cc.node_id());
    out += "  applied " + FormatEntry(e) + ": " + FormatConfState(n.conf_state) + "\n";
  }
  auto [it, inserted] = committed_.emplace(e.index(), applied);
  // The applying node's term bounds from above the term in which the entry was committed.
  if (inserted) commit_term_[e.index()] = n.node->raft().term();
  if (!inserted && !(it->second == applied) && violation_.ok()) {
    violation_ = InternalError("state machine safety: index " + N(e.index()) +
                               " applied as (term " + N(e.term()) + ", '" + applied.data +
                               "') on node " + N(id) + " but as (term " + N(it->second.term) +
                               ", '" + it->second.data + "') elsewhere");
  }
  n.applied.push_back(std::move(applied));
  n.applied_index = e.index();
}

void InteractionEnv::RestoreSnapshot(Node& n, const Snapshot& snap) {
  size_t pos = 0;
  const std::string& in = snap.data();
  n.applied.assign(ReadU64(in, pos), Applied());
  for (Applied& e : n.applied) {
    e.index = ReadU64(in, pos);
    e.term = ReadU64(in, pos);
    const uint64_t size = ReadU64(in, pos);
    CHECK_LE(pos + size, in.size()) << "truncated snapshot";
    e.data = in.substr(pos, size);
    pos += size;
  }
  n.applied_index = snap.metadata().index();
  n.conf_state = snap.metadata().conf_state();
  n.storage.SetConfState(n.conf_state);
}

// ---- Messages ---------------------------------------------------------------------------------

std::string InteractionEnv::Deliver(const std::set<uint64_t>& to, const std::set<uint64_t>& drop,
                                    const std::string& type) {
  // Take the selected messages out of the pool first: what they cause stays inside the nodes
  // until their next Ready.
  std::map<uint64_t, std::vector<Message>> batch;
  std::vector<Message> rest;
  for (Message& m : pool_) {
    const bool selected = (to.empty() || to.count(m.to())) &&
                          (type.empty() || raftpb::MessageType_Name(m.type()) == type);
    (selected ? batch[m.to()] : rest).push_back(std::move(m));
  }
  pool_ = std::move(rest);
  std::string out;
  for (auto& [recipient, msgs] : batch) {
    out += "> " + N(recipient) + " receiving messages\n";
    for (const Message& m : msgs) {
      out += "  " + FormatMessage(m);
      std::string why;
      if (drop.count(recipient)) {
        why = "dropped";
      } else if (cut_.count({m.from(), m.to()})) {
        why = "dropped: partitioned";
      } else if (!nodes_.count(m.to())) {
        why = "dropped: no node " + N(m.to());
      } else if (!nodes_.at(m.to()).node) {
        why = "dropped: " + N(m.to()) + " is down";
      }
      const bool snap = m.type() == raftpb::MSG_SNAP;
      const bool sender_up = nodes_.count(m.from()) && nodes_.at(m.from()).node;
      if (!why.empty()) {
        out += " (" + why + ")\n";
        if (snap && sender_up) {
          out += "  " + N(m.from()) + " learns the snapshot to " + N(m.to()) + " failed\n";
          nodes_.at(m.from()).node->ReportSnapshot(m.to(), /*failed=*/true);
          AfterStep(m.from());
        }
        continue;
      }
      out += "\n";
      out += RunStep(
          m.to(), [&](RawNode& node) { return node.Step(m); }, "  ");
      if (snap && sender_up) {
        out += "  " + N(m.from()) + " learns the snapshot to " + N(m.to()) + " was delivered\n";
        out += RunStep(
            m.from(),
            [&](RawNode& node) {
              node.ReportSnapshot(m.to(), /*failed=*/false);
              return Status::Ok();
            },
            "  ");
      }
    }
  }
  return out;
}

Result<std::string> InteractionEnv::DeliverMsgs(const InteractionCommand& cmd) {
  std::set<uint64_t> to, drop;
  if (!cmd.args.empty()) {
    ASSIGN_OR_RETURN(std::vector<uint64_t> ids, NodeList(cmd.args));
    to.insert(ids.begin(), ids.end());
  }
  std::string type;
  for (const auto& [key, value] : cmd.kwargs) {
    if (key == "drop") {
      ASSIGN_OR_RETURN(std::vector<uint64_t> ids, ParseIds(value));
      drop.insert(ids.begin(), ids.end());
    } else if (key == "type") {
      type = value;
    } else {
      return InvalidArgumentError("deliver-msgs: unknown option " + key);
    }
  }
  std::string out = Deliver(to, drop, type);
  return out.empty() ? std::string("no messages\n") : out;
}

Result<std::string> InteractionEnv::Stabilize(const InteractionCommand& cmd) {
  ASSIGN_OR_RETURN(std::vector<uint64_t> ids, NodeList(cmd.args));
  const std::set<uint64_t> only(ids.begin(), ids.end());
  std::string out;
  for (int round = 0; round < 1000; ++round) {
    std::string step;
    for (uint64_t id : ids) step += ProcessReady(id);
    step += Deliver(cmd.args.empty() ? std::set<uint64_t>() : only, {}, "");
    if (step.empty()) return out.empty() ? std::string("nothing to do\n") : out;
    out += step;
  }
  return out + "error: not stable after 1000 rounds\n";
}

Result<std::string> InteractionEnv::PartitionCmd(const InteractionCommand& cmd) {
  std::string joined;
  for (const std::string& a : cmd.args) joined += a + " ";
  std::vector<std::set<uint64_t>> groups;
  std::set<uint64_t> listed;
  std::istringstream in(joined);
  for (std::string part; std::getline(in, part, '/');) {
    ASSIGN_OR_RETURN(std::vector<uint64_t> ids, ParseIds(part));
    if (ids.empty()) return InvalidArgumentError("partition: empty group");
    for (uint64_t id : ids) {
      if (!nodes_.count(id)) return InvalidArgumentError("no node " + N(id));
      if (!listed.insert(id).second) return InvalidArgumentError("node listed twice");
    }
    groups.emplace_back(ids.begin(), ids.end());
  }
  std::set<uint64_t> others;
  for (const auto& [id, n] : nodes_) {
    if (!listed.count(id)) others.insert(id);
  }
  if (!others.empty()) groups.push_back(others);
  std::string out;
  for (size_t a = 0; a < groups.size(); ++a) {
    out += (a ? " / " : "") + IdList(groups[a]);
    for (size_t b = 0; b < groups.size(); ++b) {
      if (a == b) continue;
      for (uint64_t x : groups[a]) {
        for (uint64_t y : groups[b]) cut_.insert({x, y});
      }
    }
  }
  return "partitioned " + out + "\n";
}

// ---- Observations -----------------------------------------------------------------------------

std::string InteractionEnv::StatusOf(uint64_t id) {
  const Raft& r = nodes_.at(id).node->raft();
  std::string out = N(id) + ": " + StateName(r.state()) + " term=" + N(r.term()) +
                    " vote=" + N(r.vote()) + " lead=" + N(r.lead()) +
                    " commit=" + N(r.log().committed()) + " applied=" + N(r.log().applied()) +
                    " last=" + N(r.log().LastIndex()) + " " +
                    FormatConfState(r.tracker().ConfState()) + "\n";
  if (r.state() == StateType::kLeader) {
    for (const auto& [pid, pr] : r.tracker().progress()) {
      if (pid != id) out += "  " + N(pid) + ": " + pr.ToString() + "\n";
    }
    if (r.lead_transferee() != kNone) out += "  transferring to " + N(r.lead_transferee()) + "\n";
  }
  return out;
}

std::string InteractionEnv::LogOf(uint64_t id) {
  const RaftLog& log = nodes_.at(id).node->raft().log();
  std::string out = "first=" + N(log.FirstIndex()) + " last=" + N(log.LastIndex()) +
                    " commit=" + N(log.committed()) + " applied=" + N(log.applied());
  Result<Snapshot> snap = log.GetSnapshot();
  if (snap.ok() && snap->metadata().index() > 0) {
    out += " snapshot=" + N(snap->metadata().index()) + "/" + N(snap->metadata().term());
  }
  out += "\n";
  const uint64_t unstable_from =
      log.unstable_entries().empty() ? UINT64_MAX : log.unstable_entries().front().index();
  if (log.LastIndex() < log.FirstIndex()) return out + "(empty)\n";
  Result<std::vector<Entry>> ents = log.Slice(log.FirstIndex(), log.LastIndex() + 1, UINT64_MAX);
  if (!ents.ok()) return out + "error: " + ents.status().ToString() + "\n";
  for (const Entry& e : *ents) {
    out += FormatEntry(e) + (e.index() >= unstable_from ? " (unstable)" : "") + "\n";
  }
  return out;
}

std::string InteractionEnv::RaftState() {
  std::string out;
  for (const auto& [id, n] : nodes_) {
    if (!n.node) {
      out += N(id) + ": down\n";
      continue;
    }
    const Raft& r = n.node->raft();
    out += N(id) + ": " + StateName(r.state()) + " term=" + N(r.term()) + " lead=" + N(r.lead()) +
           " commit=" + N(r.log().committed()) + " applied=" + N(r.log().applied()) +
           " last=" + N(r.log().LastIndex()) + (r.Promotable() ? "" : " (non-voter)") + "\n";
  }
  std::string cuts;
  for (const auto& [a, b] : cut_) {
    if (a < b && cut_.count({b, a})) cuts += " " + N(a) + "-" + N(b);
  }
  if (!cuts.empty()) out += "cut:" + cuts + "\n";
  return out;
}

// ---- Checkers ---------------------------------------------------------------------------------

void InteractionEnv::AfterStep(uint64_t id) {
  Node& n = nodes_.at(id);
  if (!n.node) return;
  const Raft& r = n.node->raft();
  Status s = CheckBasic(r);
  if (s.ok()) s = CheckDelta(n.last_observation, r);
  n.last_observation = Observation::Of(r);
  if (s.ok() && r.state() == StateType::kLeader) {
    auto [it, inserted] = leader_of_term_.emplace(r.term(), id);
    if (!inserted && it->second != id) {
      s = InternalError("election safety: nodes " + N(it->second) + " and " + N(id) +
                        " both led term " + N(r.term()));
    }
  }
  if (!s.ok() && violation_.ok()) violation_ = s;
}

Status InteractionEnv::Check() {
  if (!violation_.ok()) return violation_;
  RETURN_IF_ERROR(CheckLogs());
  return CheckReads();
}

Status InteractionEnv::CheckLogs() {
  std::vector<uint64_t> up;
  for (const auto& [id, n] : nodes_) {
    if (n.node) up.push_back(id);
  }
  for (uint64_t id : up) {
    const Raft& r = nodes_.at(id).node->raft();
    const RaftLog& log = r.log();
    for (const auto& [index, e] : committed_) {
      if (index < log.FirstIndex()) continue;  // inside the snapshot
      if (index <= log.committed()) {
        // A node's committed prefix never changes.
        if (log.TermOr0(index) != e.term) {
          return InternalError("committed entry lost: node " + N(id) + " has term " +
                               N(log.TermOr0(index)) + " at committed index " + N(index) +
                               ", expected " + N(e.term));
        }
      } else if (r.state() == StateType::kLeader && r.term() > commit_term_.at(index)) {
        // Leader completeness (§5.4.1): a leader of a term after the entry was known committed
        // holds it. (A stale leader of an older term may legitimately lack it.)
        if (index > log.LastIndex() || log.TermOr0(index) != e.term) {
          return InternalError("leader completeness: node " + N(id) + ", leader of term " +
                               N(r.term()) + ", has term " + N(log.TermOr0(index)) + " at index " +
                               N(index) + ", committed with term " + N(e.term) + " by term " +
                               N(commit_term_.at(index)));
        }
      }
    }
  }
  std::map<uint64_t, const RaftLog*> logs;
  for (uint64_t id : up) logs[id] = &nodes_.at(id).node->raft().log();
  return CheckLogMatching(logs);
}

Status InteractionEnv::CheckReads() {
  for (const auto& [id, n] : nodes_)
    RETURN_IF_ERROR(CheckReadsCoverCommitted(read_floor_, n.reads));
  return Status::Ok();
}

}  // namespace meta::raft::testing
