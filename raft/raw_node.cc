#include "raft/raw_node.h"

#include "core/check.h"

namespace meta::raft {
namespace {

bool SameHardState(const HardState& a, const HardState& b) {
  return a.term() == b.term() && a.vote() == b.vote() && a.commit() == b.commit();
}

}  // namespace

RawNode::RawNode(const Config& config, const Storage& storage, Random& random)
    : raft_(config, storage, random),
      prev_soft_(GetSoftState()),
      prev_hard_(raft_.GetHardState()) {}

Status RawNode::Step(const Message& m) {
  // Local message types are for the Raft's own use: a peer must not be able to inject them.
  switch (m.type()) {
    case raftpb::MSG_HUP:
    case raftpb::MSG_BEAT:
    case raftpb::MSG_CHECK_QUORUM:
    case raftpb::MSG_SNAP_STATUS:
    case raftpb::MSG_UNREACHABLE:
      return InvalidArgumentError("raft: local message type " + raftpb::MessageType_Name(m.type()) +
                                  " from the network");
    default:
      break;
  }
  if (m.from() == kNone) return InvalidArgumentError("raft: message without a sender");
  return raft_.Step(m);
}

bool RawNode::HasReady() const {
  const RaftLog& log = raft_.log();
  return !(GetSoftState() == prev_soft_) || !SameHardState(raft_.GetHardState(), prev_hard_) ||
         log.unstable_snapshot().has_value() || !log.unstable_entries().empty() ||
         log.HasNextCommittedEntries() || raft_.HasPendingOutput();
}

Ready RawNode::GetReady() {
  Raft& r = raft_;
  Ready rd;
  const SoftState soft = GetSoftState();
  if (!(soft == prev_soft_)) rd.soft_state = soft;
  const HardState hard = r.GetHardState();
  if (!SameHardState(hard, prev_hard_)) rd.hard_state = hard;
  rd.entries = r.log().unstable_entries();
  if (r.log().unstable_snapshot()) rd.snapshot = *r.log().unstable_snapshot();
  rd.committed_entries = r.log().NextCommittedEntries(r.config().max_committed_size_per_ready);
  rd.messages = std::move(r.messages());
  r.messages().clear();
  rd.read_states = std::move(r.read_states());
  r.read_states().clear();
  rd.must_sync =
      !rd.entries.empty() || rd.snapshot.has_value() ||
      (rd.hard_state && (hard.term() != prev_hard_.term() || hard.vote() != prev_hard_.vote()));
  return rd;
}

void RawNode::Advance(const Ready& rd) {
  if (rd.soft_state) prev_soft_ = *rd.soft_state;
  if (rd.hard_state) prev_hard_ = *rd.hard_state;
  RaftLog& log = raft_.mutable_log();
  if (!rd.entries.empty()) {
    log.StableTo(rd.entries.back().index(), rd.entries.back().term());
    raft_.OnPersisted(rd.entries.back().index(), rd.entries.back().term());
  }
  if (rd.snapshot) {
    log.StableSnapshotTo(rd.snapshot->metadata().index());
    log.AppliedTo(rd.snapshot->metadata().index());
  }
  if (!rd.committed_entries.empty()) {
    log.AppliedTo(rd.committed_entries.back().index());
    raft_.ReduceUncommittedSize(rd.committed_entries);
  }
}

}  // namespace meta::raft
