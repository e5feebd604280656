#include "raft/progress.h"

#include <algorithm>
#include <vector>

#include "core/check.h"

namespace meta::raft {

const char* ProgressStateName(ProgressState s) {
  switch (s) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "?";
}

void Inflights::Add(uint64_t last_index, uint64_t bytes) {
  CHECK(entries_.empty() || entries_.back().first < last_index) << "inflights out of order";
  entries_.emplace_back(last_index, bytes);
  bytes_ += bytes;
}

void Inflights::FreeLE(uint64_t index) {
  while (!entries_.empty() && entries_.front().first <= index) {
    bytes_ -= entries_.front().second;
    entries_.pop_front();
  }
}

void Inflights::FreeFirstOne() {
  if (!entries_.empty()) FreeLE(entries_.front().first);
}

void Inflights::Reset() {
  entries_.clear();
  bytes_ = 0;
}

void Progress::BecomeProbe() {
  // After a snapshot, resume right after it; otherwise probe just past what is known to match.
  if (state == ProgressState::kSnapshot) {
    next_index = std::max(match_index + 1, pending_snapshot + 1);
  } else {
    next_index = match_index + 1;
  }
  state = ProgressState::kProbe;
  pending_snapshot = 0;
  probe_sent = false;
  inflights.Reset();
}

void Progress::BecomeReplicate() {
  state = ProgressState::kReplicate;
  next_index = match_index + 1;
  pending_snapshot = 0;
  probe_sent = false;
  inflights.Reset();
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  state = ProgressState::kSnapshot;
  pending_snapshot = snapshot_index;
  probe_sent = false;
  inflights.Reset();
}

bool Progress::MaybeUpdate(uint64_t n) {
  bool updated = false;
  if (match_index < n) {
    match_index = n;
    updated = true;
    probe_sent = false;
  }
  next_index = std::max(next_index, n + 1);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t match_hint) {
  if (state == ProgressState::kReplicate) {
    // Stale if it rejects something at or below what is known to match.
    if (rejected <= match_index) return false;
    next_index = match_index + 1;
    return true;
  }
  // Probing: only the rejection of the append we sent last counts.
  if (next_index == 0 || next_index - 1 != rejected) return false;
  // Never below match_index + 1: a stale or pessimistic hint must not undo known progress.
  next_index = std::max(std::min(rejected, match_hint + 1), match_index + 1);
  probe_sent = false;
  return true;
}

void Progress::SentEntries(uint64_t last, uint64_t bytes) {
  if (state == ProgressState::kReplicate) {
    if (last >= next_index) {
      inflights.Add(last, bytes);
      next_index = last + 1;
    }
  } else if (state == ProgressState::kProbe) {
    probe_sent = true;
  }
}

bool Progress::IsPaused() const {
  switch (state) {
    case ProgressState::kProbe:
      return probe_sent;
    case ProgressState::kReplicate:
      return inflights.Full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

std::string Progress::ToString() const {
  return std::string(ProgressStateName(state)) + " match=" + std::to_string(match_index) +
         " next=" + std::to_string(next_index) + (is_learner ? " learner" : "") +
         (state == ProgressState::kSnapshot ? " snapshot=" + std::to_string(pending_snapshot)
                                            : "") +
         " inflight=" + std::to_string(inflights.count());
}

Progress* ProgressTracker::Get(uint64_t id) {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

void ProgressTracker::SetConfig(const raftpb::ConfState& cs, uint64_t next_index) {
  voters_ = std::set<uint64_t>(cs.voters().begin(), cs.voters().end());
  learners_ = std::set<uint64_t>(cs.learners().begin(), cs.learners().end());
  for (uint64_t id : learners_) CHECK(!voters_.count(id)) << "node " << id << " voter and learner";
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (!voters_.count(it->first) && !learners_.count(it->first)) {
      it = progress_.erase(it);
    } else {
      it->second.is_learner = learners_.count(it->first) != 0;
      ++it;
    }
  }
  auto add = [&](uint64_t id, bool learner) {
    if (progress_.count(id)) return;
    Progress p(next_index, max_inflight_, max_inflight_bytes_, learner);
    p.recent_active = true;  // give a new member one CheckQuorum period before it counts as silent
    progress_.emplace(id, std::move(p));
  };
  for (uint64_t id : voters_) add(id, false);
  for (uint64_t id : learners_) add(id, true);
}

raftpb::ConfState ProgressTracker::ConfState() const {
  raftpb::ConfState cs;
  for (uint64_t id : voters_) cs.add_voters(id);
  for (uint64_t id : learners_) cs.add_learners(id);
  return cs;
}

uint64_t ProgressTracker::QuorumCommitted() const {
  if (voters_.empty()) return UINT64_MAX;  // no voters: nothing restricts commitment
  std::vector<uint64_t> matched;
  for (uint64_t id : voters_) matched.push_back(progress_.at(id).match_index);
  std::sort(matched.begin(), matched.end(), std::greater<>());
  return matched[voters_.size() / 2];  // the majority's smallest match
}

VoteResult ProgressTracker::TallyVotes(const std::map<uint64_t, bool>& votes) const {
  size_t granted = 0, rejected = 0;
  for (uint64_t id : voters_) {
    auto it = votes.find(id);
    if (it == votes.end()) continue;
    (it->second ? granted : rejected)++;
  }
  const size_t quorum = voters_.size() / 2 + 1;
  if (granted >= quorum) return VoteResult::kWon;
  if (voters_.size() - rejected < quorum) return VoteResult::kLost;
  return VoteResult::kPending;
}

bool ProgressTracker::QuorumActive(uint64_t self) const {
  std::set<uint64_t> active;
  for (uint64_t id : voters_) {
    if (id == self || progress_.at(id).recent_active) active.insert(id);
  }
  return HasQuorum(active);
}

bool ProgressTracker::HasQuorum(const std::set<uint64_t>& acks) const {
  size_t n = 0;
  for (uint64_t id : voters_) n += acks.count(id);
  return n >= voters_.size() / 2 + 1;
}

}  // namespace meta::raft
