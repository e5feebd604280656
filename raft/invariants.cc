#include "raft/invariants.h"

#include <string>

namespace meta::raft {
namespace {

Status Broken(uint64_t id, const std::string& what) {
  return InternalError("raft invariant broken on node " + std::to_string(id) + ": " + what);
}

std::string N(uint64_t v) { return std::to_string(v); }

}  // namespace

Observation Observation::Of(const Raft& r) {
  const RaftLog& log = r.log();
  return Observation{r.term(),        r.vote(),         r.lead(),
                     r.state(),       log.committed(),  log.applied(),
                     log.LastIndex(), log.FirstIndex(), log.StableLastIndex()};
}

Status CheckBasic(const Raft& r) {
  const RaftLog& log = r.log();
  if (log.applied() > log.committed()) {
    return Broken(r.id(), "applied " + N(log.applied()) + " > committed " + N(log.committed()));
  }
  if (log.committed() > log.LastIndex()) {
    return Broken(r.id(), "committed " + N(log.committed()) + " > last " + N(log.LastIndex()));
  }
  if (log.FirstIndex() > log.LastIndex() + 1) {
    return Broken(r.id(), "first index " + N(log.FirstIndex()) + " > last + 1");
  }
  if (log.LastTerm() > r.term()) {
    return Broken(r.id(), "last log term " + N(log.LastTerm()) + " > current term " + N(r.term()));
  }
  if ((r.state() == StateType::kLeader) != (r.lead() == r.id())) {
    return Broken(r.id(),
                  std::string("role ") + StateName(r.state()) + " but lead = " + N(r.lead()));
  }
  if (r.state() == StateType::kCandidate && r.vote() != r.id()) {
    return Broken(r.id(), "candidate that did not vote for itself");
  }
  if (r.state() == StateType::kLeader) {
    if (r.vote() != r.id()) return Broken(r.id(), "leader that did not vote for itself");
    const Progress* self = const_cast<ProgressTracker&>(r.tracker()).Get(r.id());
    if (self == nullptr) return Broken(r.id(), "leader without its own progress");
    // Its own copy counts once persisted (Raft::OnPersisted): never more, and never less once
    // persisted.
    if (self->match_index != log.StableLastIndex()) {
      return Broken(r.id(), "leader's own match " + N(self->match_index) +
                                " != its persisted last index " + N(log.StableLastIndex()));
    }
    for (const auto& [id, pr] : r.tracker().progress()) {
      if (pr.match_index > log.LastIndex()) {
        return Broken(r.id(), "progress of " + N(id) + " matches past the leader's log");
      }
      if (pr.next_index <= pr.match_index && id != r.id()) {
        return Broken(r.id(), "progress of " + N(id) + ": next <= match (" + pr.ToString() + ")");
      }
    }
  }
  return Status::Ok();
}

Status CheckDelta(const Observation& prev, const Raft& r) {
  const Observation now = Observation::Of(r);
  if (now.term < prev.term)
    return Broken(r.id(), "term went back " + N(prev.term) + " -> " + N(now.term));
  if (now.committed < prev.committed) {
    return Broken(r.id(),
                  "commit index regressed " + N(prev.committed) + " -> " + N(now.committed));
  }
  if (now.applied < prev.applied) {
    return Broken(r.id(), "applied index regressed " + N(prev.applied) + " -> " + N(now.applied));
  }
  if (now.term == prev.term) {
    if (prev.vote != kNone && now.vote != prev.vote) {
      return Broken(r.id(), "vote changed within term " + N(now.term) + ": " + N(prev.vote) +
                                " -> " + N(now.vote));
    }
    if (prev.lead != kNone && now.lead != kNone && now.lead != prev.lead) {
      return Broken(r.id(), "leader changed within term " + N(now.term) + ": " + N(prev.lead) +
                                " -> " + N(now.lead));
    }
    if (prev.state == StateType::kLeader && now.state == StateType::kCandidate) {
      return Broken(r.id(), "leader became candidate within its term");
    }
    // §5.4.2: a leader moves its commit index only onto an entry of its own term (earlier ones
    // are committed with it, never by counting their replicas).
    if (prev.state == StateType::kLeader && now.state == StateType::kLeader &&
        now.committed > prev.committed && r.log().TermOr0(now.committed) != now.term) {
      return Broken(r.id(), "leader of term " + N(now.term) + " committed index " +
                                N(now.committed) + " of term " + N(r.log().TermOr0(now.committed)));
    }
  }
  return Status::Ok();
}

}  // namespace meta::raft
