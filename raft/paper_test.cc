// One test per rule of the Raft paper (Ongaro & Ousterhout, "In Search of an Understandable
// Consensus Algorithm", §5.1–§5.5 and §6 as implemented here: one-server changes with learners that
// take effect when applied) and of Ongaro's thesis (leadership transfer §3.10, CheckQuorum §6.2 and
// the vote lease §4.2.3, ReadIndex §6.4, PreVote §9.6). Each test is named after its rule and
// quotes it. Single-node rules drive a Raft directly and inspect the messages it emits; multi-node
// rules use testing::Cluster, whose checkers verify the safety properties of Figure 3 after every
// step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/random.h"
#include "raft/raft.h"
#include "raft/raw_node.h"
#include "raft/storage.h"
#include "raft/testing/cluster.h"

namespace meta::raft {
namespace {

using testing::Cluster;

constexpr int kElectionTick = 10;

Entry E(uint64_t index, uint64_t term, std::string data = "") {
  Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  return e;
}

// A message from peer `from` to `to` in `term`.
Message Msg(MessageType type, uint64_t from, uint64_t to, uint64_t term) {
  Message m;
  m.set_type(type);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  return m;
}

Message App(uint64_t from, uint64_t to, uint64_t term, uint64_t index, uint64_t log_term,
            uint64_t commit, const std::vector<Entry>& ents = {}) {
  Message m = Msg(raftpb::MSG_APP, from, to, term);
  m.set_index(index);
  m.set_log_term(log_term);
  m.set_commit(commit);
  for (const Entry& e : ents) *m.add_entries() = e;
  return m;
}

Message AppResp(uint64_t from, uint64_t to, uint64_t term, uint64_t index) {
  Message m = Msg(raftpb::MSG_APP_RESP, from, to, term);
  m.set_index(index);
  return m;
}

Message Heartbeat(uint64_t from, uint64_t to, uint64_t term, uint64_t commit) {
  Message m = Msg(raftpb::MSG_HEARTBEAT, from, to, term);
  m.set_commit(commit);
  return m;
}

Message HeartbeatResp(uint64_t from, uint64_t to, uint64_t term, const std::string& context = "") {
  Message m = Msg(raftpb::MSG_HEARTBEAT_RESP, from, to, term);
  m.set_context(context);
  return m;
}

// A (pre-)vote request from candidate `from` whose last entry is (index, log_term).
Message Vote(MessageType type, uint64_t from, uint64_t to, uint64_t term, uint64_t index,
             uint64_t log_term) {
  Message m = Msg(type, from, to, term);
  m.set_index(index);
  m.set_log_term(log_term);
  return m;
}

Message VoteResp(MessageType type, uint64_t from, uint64_t to, uint64_t term, bool reject) {
  Message m = Msg(type, from, to, term);
  m.set_reject(reject);
  return m;
}

ConfChange CC(raftpb::ConfChangeType type, uint64_t node) {
  ConfChange cc;
  cc.set_type(type);
  cc.set_node_id(node);
  return cc;
}

Entry ConfEntry(uint64_t index, uint64_t term, const ConfChange& cc) {
  Entry e = E(index, term, cc.SerializeAsString());
  e.set_type(raftpb::ENTRY_CONF_CHANGE);
  return e;
}

struct Options {
  uint64_t id = 1;
  std::vector<uint64_t> voters = {1, 2, 3};
  std::vector<uint64_t> learners;
  std::vector<uint64_t> log_terms;  // the term of entry i + 1 is log_terms[i]
  uint64_t term = 0;
  uint64_t vote = kNone;
  uint64_t commit = 0;
  // The paper's algorithm by default; the thesis extensions where a test asks for them.
  bool pre_vote = false;
  bool check_quorum = false;
  bool strict_vote_lease = false;
  uint64_t seed = 1;
};

// One Raft over its own MemoryStorage, driven by hand.
class Peer {
 public:
  explicit Peer(const Options& o) : random_(o.seed) {
    ConfState cs;
    for (uint64_t id : o.voters) cs.add_voters(id);
    for (uint64_t id : o.learners) cs.add_learners(id);
    storage_.SetConfState(cs);
    std::vector<Entry> ents;
    for (size_t i = 0; i < o.log_terms.size(); ++i) ents.push_back(E(i + 1, o.log_terms[i]));
    CHECK(storage_.Append(ents).ok());
    HardState hs;
    hs.set_term(o.term);
    hs.set_vote(o.vote);
    hs.set_commit(o.commit);
    storage_.SetHardState(hs);
    Config c;
    c.id = o.id;
    c.election_tick = kElectionTick;
    c.heartbeat_tick = 1;
    c.pre_vote = o.pre_vote;
    c.check_quorum = o.check_quorum;
    c.strict_vote_lease = o.strict_vote_lease;
    raft_ = std::make_unique<Raft>(c, storage_, random_);
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  Raft& r() { return *raft_; }
  Raft* operator->() { return raft_.get(); }

  // Steps a message from a peer, expecting it to be accepted. Like a driver, the peer persists
  // what it appended before anything else happens (the leader's own copy counts toward a quorum
  // only once persisted).
  void Recv(const Message& m) {
    Persist();
    Status s = raft_->Step(m);
    EXPECT_TRUE(s.ok()) << s;
    Persist();
  }
  // The messages emitted since the last call.
  std::vector<Message> Take() {
    Persist();
    std::vector<Message> out = std::move(raft_->messages());
    raft_->messages().clear();
    return out;
  }
  void Tick(int n = 1) {
    for (int i = 0; i < n; ++i) {
      raft_->Tick();
      Persist();
    }
  }
  // Writes the unstable snapshot and entries to storage and tells Raft they are durable.
  void Persist() {
    RaftLog& log = raft_->mutable_log();
    if (log.unstable_snapshot()) {
      const uint64_t index = log.unstable_snapshot()->metadata().index();
      CHECK(storage_.ApplySnapshot(*log.unstable_snapshot()).ok());
      log.StableSnapshotTo(index);
    }
    if (log.unstable_entries().empty()) return;
    const Entry last = log.unstable_entries().back();
    CHECK(storage_.Append(log.unstable_entries()).ok());
    log.StableTo(last.index(), last.term());
    raft_->OnPersisted(last.index(), last.term());
  }

 private:
  MemoryStorage storage_;
  Random random_;
  std::unique_ptr<Raft> raft_;
};

std::vector<Message> OfType(const std::vector<Message>& msgs, MessageType type) {
  std::vector<Message> out;
  for (const Message& m : msgs) {
    if (m.type() == type) out.push_back(m);
  }
  return out;
}

std::set<uint64_t> Recipients(const std::vector<Message>& msgs) {
  std::set<uint64_t> out;
  for (const Message& m : msgs) out.insert(m.to());
  return out;
}

std::vector<uint64_t> LogTerms(const RaftLog& log) {
  std::vector<uint64_t> out;
  for (uint64_t i = log.FirstIndex(); i <= log.LastIndex(); ++i) out.push_back(log.TermOr0(i));
  return out;
}

// Campaigns and grants every (pre-)vote request; true if `p` became leader. The messages sent on
// winning (the first appends) are left in `p`.
bool ElectSelf(Peer& p) {
  if (!p->Campaign().ok()) return false;
  for (int round = 0; round < 2 && p->state() != StateType::kLeader; ++round) {
    for (const Message& m : p.Take()) {
      if (m.type() != raftpb::MSG_VOTE && m.type() != raftpb::MSG_PRE_VOTE) continue;
      const MessageType resp =
          m.type() == raftpb::MSG_VOTE ? raftpb::MSG_VOTE_RESP : raftpb::MSG_PRE_VOTE_RESP;
      p.Recv(VoteResp(resp, m.to(), p->id(), m.term(), /*reject=*/false));
    }
  }
  return p->state() == StateType::kLeader;
}

// Delivers messages among `peers` until none are left; messages to anyone else are dropped.
void Exchange(const std::map<uint64_t, Peer*>& peers) {
  for (int round = 0; round < 1000; ++round) {
    bool any = false;
    for (const auto& [id, p] : peers) {
      for (const Message& m : p->Take()) {
        any = true;
        auto it = peers.find(m.to());
        if (it != peers.end()) it->second->r().Step(m).IgnoreError();
      }
    }
    if (!any) return;
  }
  ADD_FAILURE() << "messages still flowing after 1000 rounds";
}

// Ticks and delivers until some node leads (bounded).
uint64_t ElectLeader(Cluster& c, int max_ticks = 200) {
  for (int i = 0; i < max_ticks; ++i) {
    c.TickAll();
    c.Stabilize();
    if (uint64_t l = c.Leader()) return l;
  }
  return 0;
}

Cluster::ConfigTweak PaperConfig() {
  return [](Config& c) {
    c.pre_vote = false;
    c.check_quorum = false;
  };
}

// ---- §5.1 Raft basics -------------------------------------------------------------------------

// "If one server's current term is smaller than the other's, then it updates its current term to
// the larger value."
TEST(PaperTest, FollowerUpdatesTermFromMessage_5_1) {
  for (MessageType type : {raftpb::MSG_APP, raftpb::MSG_HEARTBEAT, raftpb::MSG_VOTE,
                           raftpb::MSG_VOTE_RESP, raftpb::MSG_APP_RESP}) {
    SCOPED_TRACE(raftpb::MessageType_Name(type));
    Peer p({.term = 1});
    p.Recv(Msg(type, 2, 1, 5));
    EXPECT_EQ(p->term(), 5u);
    EXPECT_EQ(p->state(), StateType::kFollower);
    const bool from_leader = type == raftpb::MSG_APP || type == raftpb::MSG_HEARTBEAT;
    EXPECT_EQ(p->lead(), from_leader ? 2u : kNone);
  }
}

// "If a candidate or leader discovers that its term is out of date, it immediately reverts to
// follower state."
TEST(PaperTest, CandidateOrLeaderRevertsToFollowerOnDiscoveringHigherTerm_5_1) {
  Peer candidate({.term = 1});
  ASSERT_TRUE(candidate->Campaign().ok());
  ASSERT_EQ(candidate->state(), StateType::kCandidate);
  ASSERT_EQ(candidate->term(), 2u);
  candidate.Recv(VoteResp(raftpb::MSG_VOTE_RESP, 2, 1, 3, /*reject=*/true));
  EXPECT_EQ(candidate->state(), StateType::kFollower);
  EXPECT_EQ(candidate->term(), 3u);
  EXPECT_EQ(candidate->vote(), kNone);

  Peer leader({});
  ASSERT_TRUE(ElectSelf(leader));
  ASSERT_EQ(leader->term(), 1u);
  leader.Take();
  leader.Recv(Heartbeat(2, 1, 3, 0));
  EXPECT_EQ(leader->state(), StateType::kFollower);
  EXPECT_EQ(leader->term(), 3u);
  EXPECT_EQ(leader->lead(), 2u);
  // It now answers as a follower of term 3.
  const std::vector<Message> out = leader.Take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), raftpb::MSG_HEARTBEAT_RESP);
  EXPECT_EQ(out[0].term(), 3u);
}

// "If a server receives a request with a stale term number, it rejects the request."
TEST(PaperTest, ServerRejectsRequestWithStaleTerm_5_1) {
  Peer p({.log_terms = {1, 1}, .term = 3});
  p.Recv(App(2, 1, 2, 2, 1, 2, {E(3, 2)}));
  p.Recv(Vote(raftpb::MSG_VOTE, 3, 1, 2, 5, 2));
  EXPECT_EQ(p->term(), 3u);
  EXPECT_EQ(p->lead(), kNone);
  EXPECT_EQ(p->vote(), kNone);
  EXPECT_EQ(p->log().LastIndex(), 2u);
  EXPECT_EQ(p->log().committed(), 0u);
  for (const Message& m : p.Take()) {
    EXPECT_EQ(m.term(), 3u) << "a stale request is never acknowledged in its own term";
    EXPECT_FALSE(m.type() == raftpb::MSG_VOTE_RESP && !m.reject());
  }

  // With PreVote/CheckQuorum the refusal of a stale append or heartbeat carries the newer term,
  // so that the stale leader "discovers that its term is out of date" and steps down.
  Peer old_leader({.id = 1, .pre_vote = true, .check_quorum = true});
  ASSERT_TRUE(ElectSelf(old_leader));
  const uint64_t old_term = old_leader->term();
  std::vector<Message> to_follower = OfType(old_leader.Take(), raftpb::MSG_APP);
  old_leader.Tick();
  for (const Message& m : old_leader.Take()) to_follower.push_back(m);
  Peer follower({.id = 2, .term = old_term + 1, .pre_vote = true, .check_quorum = true});
  size_t delivered = 0;
  for (const Message& m : to_follower) {
    if (m.to() != 2) continue;
    follower.Recv(m);
    ++delivered;
  }
  ASSERT_EQ(delivered, 2u) << "an append and a heartbeat";
  const std::vector<Message> replies = follower.Take();
  ASSERT_EQ(replies.size(), 2u);
  for (const Message& m : replies) {
    EXPECT_EQ(m.type(), raftpb::MSG_APP_RESP);
    EXPECT_EQ(m.term(), old_term + 1);
  }
  EXPECT_EQ(follower->log().LastIndex(), 0u) << "the stale entries were not accepted";
  EXPECT_EQ(follower->lead(), kNone);
  old_leader.Recv(replies[0]);
  EXPECT_EQ(old_leader->state(), StateType::kFollower);
  EXPECT_EQ(old_leader->term(), old_term + 1);
}

// ---- §5.2 Leader election ---------------------------------------------------------------------

// "To begin an election, a follower increments its current term and transitions to candidate
// state. It then votes for itself and issues RequestVote RPCs in parallel to each of the other
// servers in the cluster."
TEST(PaperTest, CandidateIncrementsTermVotesForItselfAndRequestsVotesFromAll_5_2) {
  Peer p({.voters = {1, 2, 3, 4, 5}, .log_terms = {1, 1, 2}, .term = 2});
  ASSERT_TRUE(p->Campaign().ok());
  EXPECT_EQ(p->state(), StateType::kCandidate);
  EXPECT_EQ(p->term(), 3u);
  EXPECT_EQ(p->vote(), 1u);
  const std::vector<Message> out = p.Take();
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(Recipients(out), (std::set<uint64_t>{2, 3, 4, 5}));
  for (const Message& m : out) {
    EXPECT_EQ(m.type(), raftpb::MSG_VOTE);
    EXPECT_EQ(m.from(), 1u);
    EXPECT_EQ(m.term(), 3u);
    EXPECT_EQ(m.index(), 3u) << "lastLogIndex";
    EXPECT_EQ(m.log_term(), 2u) << "lastLogTerm";
  }
}

// "A candidate wins an election if it receives votes from a majority of the servers in the full
// cluster for the same term."
TEST(PaperTest, CandidateWinsOnlyWithVotesFromMajorityOfFullCluster_5_2) {
  struct Case {
    size_t size;
    std::map<uint64_t, bool> votes;  // voter -> granted
    StateType want;
  };
  const std::vector<Case> cases = {
      {1, {}, StateType::kLeader},
      {3, {{2, true}}, StateType::kLeader},
      {3, {{2, true}, {3, true}}, StateType::kLeader},
      {5, {{2, true}, {3, true}}, StateType::kLeader},
      {5, {{2, true}, {3, true}, {4, true}, {5, true}}, StateType::kLeader},
      {3, {}, StateType::kCandidate},
      {5, {{2, true}}, StateType::kCandidate},
      {5, {{2, false}, {3, false}}, StateType::kCandidate},
      {5, {{2, true}, {3, false}, {4, false}}, StateType::kCandidate},
      // A majority refused: the election is lost.
      {3, {{2, false}, {3, false}}, StateType::kFollower},
      {5, {{2, true}, {3, false}, {4, false}, {5, false}}, StateType::kFollower},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(i);
    std::vector<uint64_t> voters;
    for (uint64_t id = 1; id <= c.size; ++id) voters.push_back(id);
    Peer p({.voters = voters});
    ASSERT_TRUE(p->Campaign().ok());
    for (const auto& [from, granted] : c.votes) {
      p.Recv(VoteResp(raftpb::MSG_VOTE_RESP, from, 1, 1, !granted));
    }
    EXPECT_EQ(p->state(), c.want);
    EXPECT_EQ(p->term(), 1u);
  }
}

// "Once a candidate wins an election, it becomes leader. It then sends heartbeat messages to all
// of the other servers to establish its authority and prevent new elections."
TEST(PaperTest, NewLeaderSendsAppendEntriesToAllToEstablishAuthority_5_2) {
  Peer p({.voters = {1, 2, 3, 4, 5}});
  ASSERT_TRUE(p->Campaign().ok());
  p.Take();
  p.Recv(VoteResp(raftpb::MSG_VOTE_RESP, 2, 1, 1, false));
  EXPECT_EQ(p->state(), StateType::kCandidate);
  p.Recv(VoteResp(raftpb::MSG_VOTE_RESP, 3, 1, 1, false));
  ASSERT_EQ(p->state(), StateType::kLeader);
  EXPECT_EQ(p->lead(), 1u);
  const std::vector<Message> out = p.Take();
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(Recipients(out), (std::set<uint64_t>{2, 3, 4, 5}));
  for (const Message& m : out) {
    EXPECT_EQ(m.type(), raftpb::MSG_APP);
    EXPECT_EQ(m.term(), 1u);
    EXPECT_EQ(m.index(), 0u);
    // The empty entry of the new term (committing it commits everything before, §5.4.2).
    ASSERT_EQ(m.entries_size(), 1);
    EXPECT_EQ(m.entries(0).index(), 1u);
    EXPECT_EQ(m.entries(0).term(), 1u);
    EXPECT_TRUE(m.entries(0).data().empty());
  }
}

// "Each server will vote for at most one candidate in a given term, on a first-come-first-served
// basis."
TEST(PaperTest, VoterGrantsAtMostOneVotePerTermFirstComeFirstServed_5_2) {
  Peer p({.term = 1});
  p.Recv(Vote(raftpb::MSG_VOTE, 2, 1, 2, 0, 0));
  p.Recv(Vote(raftpb::MSG_VOTE, 3, 1, 2, 0, 0));
  p.Recv(Vote(raftpb::MSG_VOTE, 2, 1, 2, 0, 0));  // a retransmission from the same candidate
  EXPECT_EQ(p->vote(), 2u);
  EXPECT_EQ(p->term(), 2u);
  const std::vector<Message> out = p.Take();
  ASSERT_EQ(out.size(), 3u);
  for (const Message& m : out) {
    EXPECT_EQ(m.type(), raftpb::MSG_VOTE_RESP);
    EXPECT_EQ(m.term(), 2u);
  }
  EXPECT_EQ(out[0].to(), 2u);
  EXPECT_FALSE(out[0].reject());
  EXPECT_EQ(out[1].to(), 3u);
  EXPECT_TRUE(out[1].reject());
  EXPECT_EQ(out[2].to(), 2u);
  EXPECT_FALSE(out[2].reject());
}

// "If the leader's term (included in its RPC) is at least as large as the candidate's current
// term, then the candidate recognizes the leader as legitimate and returns to follower state."
TEST(PaperTest, CandidateFallsBackToFollowerOnAppendFromLeaderOfSameTerm_5_2) {
  Peer p({});
  ASSERT_TRUE(p->Campaign().ok());
  ASSERT_EQ(p->state(), StateType::kCandidate);
  ASSERT_EQ(p->term(), 1u);
  p.Take();
  p.Recv(App(2, 1, 1, 0, 0, 0, {E(1, 1, "x")}));
  EXPECT_EQ(p->state(), StateType::kFollower);
  EXPECT_EQ(p->term(), 1u);
  EXPECT_EQ(p->lead(), 2u);
  EXPECT_EQ(p->vote(), 1u) << "its vote in this term stays cast";
  EXPECT_EQ(p->log().LastIndex(), 1u);
  const std::vector<Message> out = p.Take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), raftpb::MSG_APP_RESP);
  EXPECT_EQ(out[0].to(), 2u);
  EXPECT_EQ(out[0].index(), 1u);
  EXPECT_FALSE(out[0].reject());
}

// "If the term in the RPC is smaller than the candidate's current term, then the candidate
// rejects the RPC and continues in candidate state."
TEST(PaperTest, CandidateRejectsAppendWithSmallerTermAndStaysCandidate_5_2) {
  Peer p({.term = 2});
  ASSERT_TRUE(p->Campaign().ok());
  ASSERT_EQ(p->term(), 3u);
  p.Take();
  p.Recv(App(2, 1, 2, 0, 0, 0, {E(1, 2)}));
  p.Recv(Heartbeat(2, 1, 2, 0));
  EXPECT_EQ(p->state(), StateType::kCandidate);
  EXPECT_EQ(p->term(), 3u);
  EXPECT_EQ(p->lead(), kNone);
  EXPECT_EQ(p->log().LastIndex(), 0u);
  for (const Message& m : p.Take()) {
    EXPECT_NE(m.type(), raftpb::MSG_HEARTBEAT_RESP);
    if (m.type() == raftpb::MSG_APP_RESP) {
      EXPECT_EQ(m.term(), 3u);
    }
  }
}

// "When this happens, each candidate will time out and start a new election by incrementing its
// term and initiating another round of RequestVote RPCs."
TEST(PaperTest, CandidateStartsNewElectionWhenElectionTimesOutWithoutWinner_5_2) {
  Peer p({});
  ASSERT_TRUE(p->Campaign().ok());
  ASSERT_EQ(p->term(), 1u);
  p.Take();
  p.Recv(VoteResp(raftpb::MSG_VOTE_RESP, 2, 1, 1, /*reject=*/true));  // split: 1 for, 1 against
  ASSERT_EQ(p->state(), StateType::kCandidate);
  p.Tick(kElectionTick - 1);
  EXPECT_EQ(p->term(), 1u);
  p.Tick(kElectionTick);
  EXPECT_EQ(p->state(), StateType::kCandidate);
  EXPECT_EQ(p->term(), 2u);
  EXPECT_EQ(p->vote(), 1u);
  const std::vector<Message> votes = OfType(p.Take(), raftpb::MSG_VOTE);
  EXPECT_EQ(Recipients(votes), (std::set<uint64_t>{2, 3}));
  for (const Message& m : votes) EXPECT_EQ(m.term(), 2u);
}

// "If a follower receives no communication over a period of time called the election timeout,
// then it ... begins an election"; "election timeouts are chosen randomly from a fixed interval
// (e.g., 150–300ms)."
TEST(PaperTest, ElectionTimeoutIsRandomizedWithinOneToTwoTimesBase_5_2) {
  std::set<int> timeouts;
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    SCOPED_TRACE(seed);
    Peer p({.term = 1, .seed = seed});
    int ticks = 0;
    while (p->state() == StateType::kFollower && ticks < 3 * kElectionTick) {
      p.Tick();
      ++ticks;
    }
    EXPECT_GE(ticks, kElectionTick);
    EXPECT_LT(ticks, 2 * kElectionTick);
    timeouts.insert(ticks);
    ASSERT_EQ(p->state(), StateType::kCandidate);
    EXPECT_EQ(p->term(), 2u);
    EXPECT_EQ(Recipients(OfType(p.Take(), raftpb::MSG_VOTE)), (std::set<uint64_t>{2, 3}));
    // After hearing from a leader the timer restarts, again at a random point of the interval.
    p.Recv(Heartbeat(2, 1, p->term(), 0));
    ASSERT_EQ(p->state(), StateType::kFollower);
    ticks = 0;
    while (p->state() == StateType::kFollower && ticks < 3 * kElectionTick) {
      p.Tick();
      ++ticks;
    }
    EXPECT_GE(ticks, kElectionTick);
    EXPECT_LT(ticks, 2 * kElectionTick);
    timeouts.insert(ticks);
  }
  EXPECT_GE(timeouts.size(), 8u) << "timeouts should spread over the interval";
}

// "A server remains in follower state as long as it receives valid RPCs from a leader or
// candidate."
TEST(PaperTest, FollowerRemainsFollowerWhileReceivingHeartbeats_5_2) {
  Peer p({.term = 1});
  for (int round = 0; round < 20; ++round) {
    p.Tick(kElectionTick - 1);
    p.Recv(Heartbeat(2, 1, 1, 0));
    const std::vector<Message> out = p.Take();
    ASSERT_EQ(out.size(), 1u) << "round " << round;
    EXPECT_EQ(out[0].type(), raftpb::MSG_HEARTBEAT_RESP);
  }
  EXPECT_EQ(p->state(), StateType::kFollower);
  EXPECT_EQ(p->term(), 1u);
  EXPECT_EQ(p->lead(), 2u);
  // Figure 2: granting a vote to a candidate restarts the timer too.
  Peer q({.term = 2});
  q.Tick(kElectionTick - 1);
  q.Recv(Vote(raftpb::MSG_VOTE, 3, 1, 2, 0, 0));
  ASSERT_EQ(q->vote(), 3u);
  q.Take();
  q.Tick(kElectionTick - 1);
  EXPECT_EQ(q->state(), StateType::kFollower);
  EXPECT_TRUE(q.Take().empty());
}

// "Leaders send periodic heartbeats (AppendEntries RPCs that carry no log entries) to all
// followers in order to maintain their authority."
TEST(PaperTest, LeaderSendsPeriodicHeartbeatsWithoutEntries_5_2) {
  Peer p({});
  ASSERT_TRUE(ElectSelf(p));
  p.Take();
  for (int i = 0; i < 3; ++i) {
    p.Tick();  // heartbeat_tick = 1
    const std::vector<Message> out = p.Take();
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(Recipients(out), (std::set<uint64_t>{2, 3}));
    for (const Message& m : out) {
      EXPECT_EQ(m.type(), raftpb::MSG_HEARTBEAT);
      EXPECT_EQ(m.term(), 1u);
      EXPECT_EQ(m.entries_size(), 0);
    }
  }
}

// Election Safety (Figure 3): "at most one leader can be elected in a given term." Checked by the
// cluster after every step while candidates compete and messages arrive in random order.
TEST(PaperTest, AtMostOneLeaderIsElectedPerTerm_5_2) {
  int terms_with_leader = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE(seed);
    Cluster c({1, 2, 3, 4, 5}, seed, PaperConfig());
    Random& rnd = c.rng();
    for (int step = 0; step < 600; ++step) {
      const uint64_t id = 1 + rnd.Uniform(5);
      const uint64_t roll = rnd.Uniform(10);
      if (roll < 2) {
        c.Tick(id);
      } else if (roll < 4) {
        c.ProcessReady(id);
      } else if (!c.pool().empty()) {
        c.Deliver(rnd.Uniform(c.pool().size()));
      }
    }
    ASSERT_TRUE(c.Check().ok()) << c.Check() << "\n" << c.Describe();
    std::map<uint64_t, int> leaders;  // term -> leaders now
    for (uint64_t id : c.ids()) {
      if (c.raft(id).state() == StateType::kLeader) ++leaders[c.raft(id).term()];
    }
    for (const auto& [term, n] : leaders) EXPECT_EQ(n, 1) << "term " << term;
    terms_with_leader += static_cast<int>(leaders.size());
  }
  EXPECT_GT(terms_with_leader, 0) << "the scenario should elect leaders";
}

// ---- §5.3 Log replication ---------------------------------------------------------------------

// "The leader appends the command to its log as a new entry, then issues AppendEntries RPCs in
// parallel to each of the other servers to replicate the entry."
TEST(PaperTest, LeaderAppendsCommandToLogAndSendsAppendEntriesInParallel_5_3) {
  Peer p({});
  ASSERT_TRUE(ElectSelf(p));
  p.Recv(AppResp(2, 1, 1, 1));
  p.Recv(AppResp(3, 1, 1, 1));
  ASSERT_EQ(p->log().committed(), 1u);
  p.Take();
  ASSERT_TRUE(p->Propose("x").ok());
  EXPECT_EQ(p->log().LastIndex(), 2u);
  EXPECT_EQ(p->log().TermOr0(2), 1u);
  EXPECT_EQ(p->log().committed(), 1u) << "not committed before a majority has it";
  const std::vector<Message> out = p.Take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(Recipients(out), (std::set<uint64_t>{2, 3}));
  for (const Message& m : out) {
    EXPECT_EQ(m.type(), raftpb::MSG_APP);
    EXPECT_EQ(m.term(), 1u);
    EXPECT_EQ(m.index(), 1u) << "prevLogIndex";
    EXPECT_EQ(m.log_term(), 1u) << "prevLogTerm";
    EXPECT_EQ(m.commit(), 1u) << "leaderCommit";
    ASSERT_EQ(m.entries_size(), 1);
    EXPECT_EQ(m.entries(0).index(), 2u);
    EXPECT_EQ(m.entries(0).term(), 1u);
    EXPECT_EQ(m.entries(0).data(), "x");
  }
}

// "A log entry is committed once the leader that created the entry has replicated it on a
// majority of the servers."
TEST(PaperTest, LeaderCommitsEntryOnceReplicatedOnMajority_5_3) {
  struct Case {
    size_t size;
    std::vector<uint64_t> acks;
    bool committed;
  };
  const std::vector<Case> cases = {
      {1, {}, true},   {3, {}, false},    {3, {2}, true},    {3, {2, 3}, true},
      {5, {2}, false}, {5, {2, 3}, true}, {5, {4, 5}, true}, {5, {2, 3, 4, 5}, true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(i);
    std::vector<uint64_t> voters;
    for (uint64_t id = 1; id <= c.size; ++id) voters.push_back(id);
    Peer p({.voters = voters});
    ASSERT_TRUE(ElectSelf(p));
    ASSERT_TRUE(p->Propose("x").ok());
    p.Persist();
    for (uint64_t id : c.acks) p.Recv(AppResp(id, 1, 1, 2));
    EXPECT_EQ(p->log().committed(), c.committed ? 2u : 0u);
  }
}

// Thesis §10.2.1: the leader may write to its disk in parallel with replicating, so its appends
// can go out before its own fsync; its own copy then counts toward a majority only once durable.
TEST(PaperTest, LeaderCountsItsOwnCopyOnlyOncePersisted_10_2_1) {
  Peer p({.voters = {1, 2, 3}});
  ASSERT_TRUE(ElectSelf(p));
  ASSERT_TRUE(p->Propose("x").ok());  // entry 2, not yet persisted by the leader
  ASSERT_TRUE(p->Step(AppResp(2, 1, 1, 2)).ok());
  EXPECT_EQ(p->log().committed(), 1u);  // the no-op, durable on both; entry 2 only on node 2
  p.Persist();
  EXPECT_EQ(p->log().committed(), 2u);  // the leader's and node 2's
  ASSERT_TRUE(p->Propose("y").ok());    // entry 3: two followers are a majority without it
  ASSERT_TRUE(p->Step(AppResp(2, 1, 1, 3)).ok());
  ASSERT_TRUE(p->Step(AppResp(3, 1, 1, 3)).ok());
  EXPECT_EQ(p->log().committed(), 3u);
}

// "The leader keeps track of the highest index it knows to be committed, and it includes that
// index in future AppendEntries RPCs (including heartbeats) so that the other servers eventually
// find out."
TEST(PaperTest, LeaderIncludesCommitIndexInAppendsAndHeartbeats_5_3) {
  Peer p({});
  ASSERT_TRUE(ElectSelf(p));
  p.Take();
  p.Recv(AppResp(2, 1, 1, 1));
  ASSERT_EQ(p->log().committed(), 1u);
  const std::vector<Message> apps = OfType(p.Take(), raftpb::MSG_APP);
  ASSERT_FALSE(apps.empty()) << "the new commit index is sent out at once";
  for (const Message& m : apps) EXPECT_EQ(m.commit(), 1u);
  p.Tick();
  const std::vector<Message> beats = OfType(p.Take(), raftpb::MSG_HEARTBEAT);
  ASSERT_EQ(beats.size(), 2u);
  for (const Message& m : beats) {
    // Never past what the follower is known to hold: 3 has not acknowledged entry 1 yet.
    EXPECT_EQ(m.commit(), m.to() == 2 ? 1u : 0u) << "to " << m.to();
  }
}

// "Once a follower learns that a log entry is committed, it applies the entry to its local state
// machine (in log order)."
TEST(PaperTest, FollowerAppliesEntriesInLogOrderOnceItLearnsTheyAreCommitted_5_3) {
  MemoryStorage storage;
  ConfState cs;
  for (uint64_t id : {1, 2, 3}) cs.add_voters(id);
  storage.SetConfState(cs);
  Random random(1);
  Config config;
  config.id = 2;
  RawNode node(config, storage, random);
  auto drain = [&]() {
    std::vector<Entry> applied;
    while (node.HasReady()) {
      Ready rd = node.GetReady();
      EXPECT_TRUE(storage.Append(rd.entries).ok());
      if (rd.hard_state) storage.SetHardState(*rd.hard_state);
      applied.insert(applied.end(), rd.committed_entries.begin(), rd.committed_entries.end());
      node.Advance(rd);
    }
    return applied;
  };
  ASSERT_TRUE(node.Step(App(1, 2, 1, 0, 0, 0, {E(1, 1, "a"), E(2, 1, "b"), E(3, 1, "c")})).ok());
  EXPECT_TRUE(drain().empty()) << "nothing is applied before it is known committed";
  ASSERT_TRUE(node.Step(Heartbeat(1, 2, 1, 2)).ok());
  std::vector<Entry> applied = drain();
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[0].data(), "a");
  EXPECT_EQ(applied[1].data(), "b");
  ASSERT_TRUE(node.Step(App(1, 2, 1, 3, 1, 3)).ok());
  applied = drain();
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].index(), 3u);
  EXPECT_EQ(applied[0].data(), "c");
  EXPECT_EQ(node.raft().log().applied(), 3u);
}

// Figure 2, AppendEntries receiver: "If leaderCommit > commitIndex, set commitIndex =
// min(leaderCommit, index of last new entry)."
TEST(PaperTest, FollowerCommitIndexIsMinOfLeaderCommitAndLastNewEntry_5_3) {
  Peer p({.log_terms = {1, 1, 1, 1, 1}, .term = 1});
  // Entries 3..5 are not vouched for by this append: they may differ from the leader's.
  p.Recv(App(2, 1, 2, 1, 1, 5, {E(2, 1)}));
  EXPECT_EQ(p->log().committed(), 2u);
  EXPECT_EQ(p->log().LastIndex(), 5u);
  const std::vector<Message> out = p.Take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), raftpb::MSG_APP_RESP);
  EXPECT_FALSE(out[0].reject());
  EXPECT_EQ(out[0].index(), 2u);
  // A later append vouching for more moves it further.
  p.Recv(App(2, 1, 2, 2, 1, 5, {E(3, 1), E(4, 1)}));
  EXPECT_EQ(p->log().committed(), 4u);
}

// "If the follower does not find an entry in its log with the same index and term, then it
// refuses the new entries."
TEST(PaperTest, FollowerRejectsAppendWhenPrevEntryDoesNotMatch_5_3) {
  struct Case {
    uint64_t index, log_term;
  };
  // The follower's log is [1, 2, 2].
  for (const Case& c : std::vector<Case>{{3, 3}, {2, 1}, {4, 2}, {5, 3}}) {
    SCOPED_TRACE(::testing::Message() << "prev (" << c.index << ", " << c.log_term << ")");
    Peer p({.log_terms = {1, 2, 2}, .term = 2});
    p.Recv(App(2, 1, 2, c.index, c.log_term, 3, {E(c.index + 1, 2)}));
    EXPECT_EQ(LogTerms(p->log()), (std::vector<uint64_t>{1, 2, 2})) << "log unchanged";
    EXPECT_EQ(p->log().committed(), 0u);
    const std::vector<Message> out = p.Take();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].type(), raftpb::MSG_APP_RESP);
    EXPECT_EQ(out[0].to(), 2u);
    EXPECT_EQ(out[0].term(), 2u);
    EXPECT_TRUE(out[0].reject());
    EXPECT_EQ(out[0].index(), c.index) << "names the rejected prevLogIndex";
    EXPECT_LE(out[0].reject_hint(), std::min<uint64_t>(c.index, 3));
  }
  // The matching case is accepted.
  Peer p({.log_terms = {1, 2, 2}, .term = 2});
  p.Recv(App(2, 1, 2, 3, 2, 3, {E(4, 2)}));
  const std::vector<Message> out = p.Take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].reject());
  EXPECT_EQ(out[0].index(), 4u);
  EXPECT_EQ(p->log().committed(), 3u);
}

// "If an existing entry conflicts with a new one (same index but different terms), delete the
// existing entry and all that follow it."
TEST(PaperTest, FollowerDeletesConflictingEntryAndAllThatFollow_5_3) {
  Peer p({.log_terms = {1, 2, 2, 2, 2}, .term = 2, .commit = 1});
  p.Recv(App(2, 1, 3, 2, 2, 1, {E(3, 3, "new")}));
  EXPECT_EQ(LogTerms(p->log()), (std::vector<uint64_t>{1, 2, 3}));
  auto slice = p->log().Slice(3, 4, UINT64_MAX);
  ASSERT_TRUE(slice.ok());
  EXPECT_EQ((*slice)[0].data(), "new");
  const std::vector<Message> out = p.Take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].reject());
  EXPECT_EQ(out[0].index(), 3u);
}

// "When a leader first comes to power, it initializes all nextIndex values to the index just
// after the last one in its log (11 in Figure 7)."
TEST(PaperTest, LeaderInitializesNextIndexToLastLogIndexPlusOne_5_3) {
  Peer p({.log_terms = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6}, .term = 7});
  ASSERT_TRUE(ElectSelf(p));
  ASSERT_EQ(p->term(), 8u);
  for (uint64_t id : {2, 3}) {
    const Progress& pr = p->tracker().progress().at(id);
    EXPECT_EQ(pr.next_index, 11u) << id;
    EXPECT_EQ(pr.match_index, 0u) << id;
  }
  const std::vector<Message> out = OfType(p.Take(), raftpb::MSG_APP);
  ASSERT_EQ(out.size(), 2u);
  for (const Message& m : out) {
    EXPECT_EQ(m.index(), 10u);
    EXPECT_EQ(m.log_term(), 6u);
    ASSERT_EQ(m.entries_size(), 1);
    EXPECT_EQ(m.entries(0).index(), 11u);
    EXPECT_EQ(m.entries(0).term(), 8u);
  }
}

// "After a rejection, the leader decrements nextIndex and retries the AppendEntries RPC.
// Eventually nextIndex will reach a point where the leader and follower logs match."
TEST(PaperTest, LeaderDecrementsNextIndexAndRetriesAfterRejection_5_3) {
  Peer p({.log_terms = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6}, .term = 7});
  ASSERT_TRUE(ElectSelf(p));
  p.Take();
  // A rejection without a usable hint: back off by one.
  Message reject = AppResp(2, 1, 8, 10);
  reject.set_reject(true);
  reject.set_reject_hint(9);
  p.Recv(reject);
  std::vector<Message> out = p.Take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), raftpb::MSG_APP);
  EXPECT_EQ(out[0].to(), 2u);
  EXPECT_EQ(out[0].index(), 9u);
  EXPECT_EQ(out[0].log_term(), 6u);
  EXPECT_EQ(out[0].entries_size(), 2);
  // Figure 7(b) has [1 1 1 4]: its hint (index 4, term 4) skips the whole conflicting range.
  reject = AppResp(2, 1, 8, 9);
  reject.set_reject(true);
  reject.set_reject_hint(4);
  reject.set_log_term(4);
  p.Recv(reject);
  out = p.Take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].index(), 4u);
  EXPECT_EQ(out[0].log_term(), 4u);
  ASSERT_EQ(out[0].entries_size(), 7);
  EXPECT_EQ(out[0].entries(0).index(), 5u);
  EXPECT_EQ(p->tracker().progress().at(2).next_index, 5u);
  // The follower accepts; the leader now knows where the logs match.
  p.Recv(AppResp(2, 1, 8, 11));
  EXPECT_EQ(p->tracker().progress().at(2).match_index, 11u);
  EXPECT_EQ(p->log().committed(), 11u);
}

// "The leader maintains a nextIndex for each follower ... the leader brings the follower's log
// into consistency with its own" — for every follower log of Figure 7.
TEST(PaperTest, LeaderBringsEveryFigure7FollowerLogIntoConsistency_5_3) {
  const std::vector<uint64_t> leader_log = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  const std::vector<std::vector<uint64_t>> followers = {
      {1, 1, 1, 4, 4, 5, 5, 6, 6},           // (a)
      {1, 1, 1, 4},                          // (b)
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},     // (c)
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7},  // (d)
      {1, 1, 1, 4, 4, 4, 4},                 // (e)
      {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},     // (f)
  };
  for (size_t i = 0; i < followers.size(); ++i) {
    SCOPED_TRACE(std::string("follower (") + static_cast<char>('a' + i) + ")");
    Peer leader({.id = 1, .log_terms = leader_log, .term = 7, .commit = 3});
    Peer follower({.id = 2, .log_terms = followers[i], .term = 7, .commit = 3});
    // Node 3 (absent from the exchange) gives the leader of term 8 its second vote.
    ASSERT_TRUE(leader->Campaign().ok());
    leader.Take();
    leader.Recv(VoteResp(raftpb::MSG_VOTE_RESP, 3, 1, 8, false));
    ASSERT_EQ(leader->state(), StateType::kLeader);
    Exchange({{1, &leader}, {2, &follower}});
    std::vector<uint64_t> want = leader_log;
    want.push_back(8);
    EXPECT_EQ(LogTerms(leader->log()), want);
    EXPECT_EQ(LogTerms(follower->log()), want);
    EXPECT_EQ(leader->log().committed(), 11u);
    EXPECT_EQ(follower->log().committed(), 11u);
    EXPECT_EQ(follower->term(), 8u);
    EXPECT_EQ(follower->lead(), 1u);
  }
}

// Log Matching and State Machine Safety (Figure 3): "If two logs contain an entry with the same
// index and term, then the logs are identical in all entries up through the given index" and "if
// a server has applied a log entry at a given index to its state machine, no other server will
// ever apply a different log entry for the same index." Checked under faults.
TEST(PaperTest, LogMatchingAndStateMachineSafetyHoldUnderFaults_5_3) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(seed);
    Cluster c({1, 2, 3, 4, 5}, seed);
    Random& rnd = c.rng();
    int proposals = 0, reads = 0;
    for (int step = 0; step < 3000; ++step) {
      const uint64_t id = 1 + rnd.Uniform(5);
      const uint64_t roll = rnd.Uniform(100);
      if (roll < 25) {
        c.Tick(id);
      } else if (roll < 45) {
        c.ProcessReady(id);
      } else if (roll < 80) {
        if (!c.pool().empty()) c.Deliver(rnd.Uniform(c.pool().size()));
      } else if (roll < 86) {
        if (c.IsUp(id)) c.Propose(id, "p" + std::to_string(proposals++)).IgnoreError();
      } else if (roll < 88) {
        if (c.IsUp(id)) c.ReadIndex(id, "r" + std::to_string(reads++)).IgnoreError();
      } else if (roll < 92) {
        if (!c.pool().empty()) c.Drop(rnd.Uniform(c.pool().size()));
      } else if (roll < 94) {
        if (!c.pool().empty()) c.Duplicate(rnd.Uniform(c.pool().size()));
      } else if (roll < 96) {
        c.Heal();
        if (rnd.OneIn(2)) c.Isolate(id);
      } else if (roll < 98) {
        if (c.IsUp(id)) {
          c.Crash(id);
        } else {
          c.Restart(id);
        }
      } else {
        for (uint64_t n : c.ids()) {
          if (!c.IsUp(n)) c.Restart(n);
        }
      }
      if (step % 50 == 0) {
        ASSERT_TRUE(c.Check().ok()) << "step " << step << ": " << c.Check() << "\n" << c.Describe();
      }
    }
    // Heal everything: the cluster converges on one history.
    c.Heal();
    for (uint64_t n : c.ids()) {
      if (!c.IsUp(n)) c.Restart(n);
    }
    const uint64_t leader = ElectLeader(c);
    ASSERT_NE(leader, 0u) << c.Describe();
    ASSERT_TRUE(c.Propose(leader, "final").ok());
    for (int i = 0; i < 30; ++i) {
      c.TickAll();
      c.Stabilize();
    }
    ASSERT_TRUE(c.Check().ok()) << c.Check() << "\n" << c.Describe();
    for (uint64_t n : c.ids()) {
      EXPECT_EQ(c.AppliedEntries(n), c.AppliedEntries(leader)) << "node " << n;
    }
    EXPECT_EQ(c.Applied(leader).back(), "final");
  }
}

// ---- §5.4 Safety ------------------------------------------------------------------------------

// §5.4.1: "the voter denies its vote if its own log is more up-to-date than that of the
// candidate. ... If the logs have last entries with different terms, then the log with the later
// term is more up-to-date. If the logs end with the same term, then whichever log is longer is
// more up-to-date."
TEST(PaperTest, VoterRejectsCandidateWithLessUpToDateLog_5_4_1) {
  struct Case {
    uint64_t index, log_term;
    bool granted;
  };
  // The voter's log is [1, 2]: last entry (2, term 2).
  const std::vector<Case> cases = {
      {2, 1, false}, {3, 1, false}, {9, 1, false}, {1, 2, false}, {0, 0, false},
      {2, 2, true},  {3, 2, true},  {1, 3, true},  {5, 3, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "candidate last (" << c.index << ", " << c.log_term << ")");
    Peer p({.log_terms = {1, 2}, .term = 2});
    p.Recv(Vote(raftpb::MSG_VOTE, 2, 1, 3, c.index, c.log_term));
    EXPECT_EQ(p->term(), 3u) << "the term is learned either way";
    EXPECT_EQ(p->vote(), c.granted ? 2u : kNone);
    const std::vector<Message> out = p.Take();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].type(), raftpb::MSG_VOTE_RESP);
    EXPECT_EQ(out[0].to(), 2u);
    EXPECT_EQ(out[0].term(), 3u);
    EXPECT_EQ(out[0].reject(), !c.granted);
  }
}

// §5.4.1: "Raft uses the voting process to prevent a candidate from winning an election unless
// its log contains all committed entries."
TEST(PaperTest, CandidateMissingCommittedEntryCannotWinElection_5_4_1) {
  Cluster c({1, 2, 3}, 11, PaperConfig());
  ASSERT_TRUE(c.Campaign(1).ok());
  c.Stabilize();
  ASSERT_EQ(c.Leader(), 1u);
  c.Isolate(3);
  ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Stabilize();
  ASSERT_EQ(c.Applied(2), std::vector<std::string>{"x"});
  c.Heal();
  ASSERT_TRUE(c.Campaign(3).ok());
  ASSERT_EQ(c.raft(3).term(), 2u);
  c.ProcessReady(3);
  c.DeliverAll();
  c.ProcessReady(1);
  c.ProcessReady(2);
  int rejections = 0;
  for (const Message& m : c.pool()) {
    if (m.type() != raftpb::MSG_VOTE_RESP) continue;
    EXPECT_EQ(m.to(), 3u);
    EXPECT_TRUE(m.reject()) << "from " << m.from();
    ++rejections;
  }
  EXPECT_EQ(rejections, 2);
  c.Stabilize();
  EXPECT_NE(c.raft(3).state(), StateType::kLeader);
  const uint64_t leader = ElectLeader(c);
  ASSERT_NE(leader, 0u) << c.Describe();
  EXPECT_NE(leader, 3u);
  c.Stabilize();
  EXPECT_EQ(c.Applied(3), std::vector<std::string>{"x"});
  ASSERT_TRUE(c.Check().ok()) << c.Check();
}

// §5.4.2: "Raft never commits log entries from previous terms by counting replicas. Only log
// entries from the leader's current term are committed by counting replicas."
TEST(PaperTest, LeaderOnlyCommitsEntriesFromCurrentTermByCounting_5_4_2) {
  Peer p({.log_terms = {1, 2}, .term = 2, .commit = 1});
  ASSERT_TRUE(ElectSelf(p));
  ASSERT_EQ(p->term(), 3u);
  ASSERT_EQ(p->log().LastIndex(), 3u);
  p.Take();
  // Entry 2 (term 2) reaches every server: still not committed by counting.
  p.Recv(AppResp(2, 1, 3, 2));
  p.Recv(AppResp(3, 1, 3, 2));
  EXPECT_EQ(p->tracker().progress().at(2).match_index, 2u);
  EXPECT_EQ(p->tracker().progress().at(3).match_index, 2u);
  EXPECT_EQ(p->log().committed(), 1u);
  for (const Message& m : OfType(p.Take(), raftpb::MSG_APP)) {
    EXPECT_EQ(m.commit(), 1u) << "no follower is told entry 2 is committed";
  }
}

// §5.4.2: "once an entry from the current term has been committed in this way, then all prior
// entries are committed indirectly" (§5.3: "including entries created by previous leaders").
TEST(PaperTest, CurrentTermEntryCommitCommitsPriorEntriesIndirectly_5_4_2) {
  Peer p({.log_terms = {1, 2}, .term = 2});
  ASSERT_TRUE(ElectSelf(p));
  p.Recv(AppResp(2, 1, 3, 2));
  ASSERT_EQ(p->log().committed(), 0u);
  p.Take();
  p.Recv(AppResp(2, 1, 3, 3));
  EXPECT_EQ(p->log().committed(), 3u);
  const std::vector<Entry> committed = p->log().NextCommittedEntries(UINT64_MAX);
  ASSERT_EQ(committed.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(committed[i].index(), i + 1);
    EXPECT_EQ(committed[i].term(), i + 1) << "entries of the leaders of terms 1, 2 and 3";
  }
  // The new commit index goes out with the next append.
  const std::vector<Message> apps = OfType(p.Take(), raftpb::MSG_APP);
  ASSERT_FALSE(apps.empty());
  for (const Message& m : apps) EXPECT_EQ(m.commit(), 3u);
}

// ---- §5.5 Follower and candidate crashes ------------------------------------------------------

// "Raft RPCs are idempotent, so this causes no harm. For example, if a follower receives an
// AppendEntries request that includes log entries already present in its log, it ignores those
// entries in the new request."
TEST(PaperTest, FollowerIgnoresEntriesAlreadyInItsLog_5_5) {
  Peer p({.term = 1});
  const Message app = App(2, 1, 1, 0, 0, 0, {E(1, 1, "a"), E(2, 1, "b")});
  p.Recv(app);
  const std::vector<Message> first = p.Take();
  p.Recv(app);
  const std::vector<Message> second = p.Take();
  EXPECT_EQ(LogTerms(p->log()), (std::vector<uint64_t>{1, 1}));
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(first[0].SerializeAsString(), second[0].SerializeAsString());
  EXPECT_EQ(second[0].index(), 2u);
  EXPECT_FALSE(second[0].reject());
  // A delayed append holding only entries already present must not truncate what follows them
  // (Figure 2: "Append any new entries not already in the log").
  p.Recv(App(2, 1, 1, 0, 0, 0, {E(1, 1, "a")}));
  EXPECT_EQ(LogTerms(p->log()), (std::vector<uint64_t>{1, 1}));
  const std::vector<Message> third = p.Take();
  ASSERT_EQ(third.size(), 1u);
  EXPECT_FALSE(third[0].reject());
  EXPECT_EQ(third[0].index(), 1u) << "acknowledges only what this append vouched for";
}

// ---- §6 Cluster membership changes (one server at a time, learners, effective when applied) ---

// Thesis §4.1 (errata): a leader may not append a new configuration entry "until it has committed
// an entry from its current term".
TEST(PaperTest, LeaderCannotChangeMembershipBeforeCommittingEntryOfItsTerm_6) {
  Peer p({});
  ASSERT_TRUE(ElectSelf(p));
  const Status early = p->ProposeConfChange(CC(raftpb::ADD_LEARNER, 4));
  EXPECT_EQ(early.code(), Code::kUnavailable) << early;
  EXPECT_EQ(p->log().LastIndex(), 1u);
  p.Recv(AppResp(2, 1, 1, 1));
  ASSERT_EQ(p->log().committed(), 1u);
  ASSERT_TRUE(p->ProposeConfChange(CC(raftpb::ADD_LEARNER, 4)).ok());
  ASSERT_EQ(p->log().LastIndex(), 2u);
  auto last = p->log().Slice(2, 3, UINT64_MAX);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ((*last)[0].type(), raftpb::ENTRY_CONF_CHANGE);
}

// "only one server can be added or removed from the cluster at a time": a second change waits
// until the first one is applied.
TEST(PaperTest, OnlyOneMembershipChangeMayBePendingAtATime_6) {
  Peer p({});
  ASSERT_TRUE(ElectSelf(p));
  p.Recv(AppResp(2, 1, 1, 1));
  const ConfChange first = CC(raftpb::ADD_LEARNER, 4);
  ASSERT_TRUE(p->ProposeConfChange(first).ok());
  EXPECT_EQ(p->ProposeConfChange(CC(raftpb::ADD_LEARNER, 5)).code(), Code::kFailedPrecondition);
  p.Recv(AppResp(2, 1, 1, 2));
  ASSERT_EQ(p->log().committed(), 2u);
  EXPECT_EQ(p->ProposeConfChange(CC(raftpb::ADD_LEARNER, 5)).code(), Code::kFailedPrecondition)
      << "committed is not enough: the change must be applied";
  p->mutable_log().AppliedTo(2);
  p->ApplyConfChange(first);
  EXPECT_TRUE(p->ProposeConfChange(CC(raftpb::ADD_LEARNER, 5)).ok());
  EXPECT_TRUE(p->Propose("normal entries are never blocked").ok());
}

// Membership changes here take effect when their entry is applied (not when appended): until
// then the old configuration decides commitment.
TEST(PaperTest, NewConfigurationTakesEffectWhenItsEntryIsApplied_6) {
  Peer p({});
  ASSERT_TRUE(ElectSelf(p));
  p.Recv(AppResp(2, 1, 1, 1));
  const ConfChange remove3 = CC(raftpb::REMOVE_NODE, 3);
  ASSERT_TRUE(p->ProposeConfChange(remove3).ok());
  p.Recv(AppResp(2, 1, 1, 2));
  ASSERT_EQ(p->log().committed(), 2u);
  EXPECT_EQ(p->tracker().voters(), (std::set<uint64_t>{1, 2, 3})) << "committed, not applied";
  p->mutable_log().AppliedTo(2);
  const ConfState cs = p->ApplyConfChange(remove3);
  EXPECT_EQ(cs.voters_size(), 2);
  EXPECT_EQ(p->tracker().voters(), (std::set<uint64_t>{1, 2}));
  EXPECT_FALSE(p->tracker().IsMember(3));
  p.Take();
  // Under {1, 2} a majority is both servers; the removed server's acknowledgment counts for
  // nothing.
  ASSERT_TRUE(p->Propose("y").ok());
  EXPECT_EQ(Recipients(OfType(p.Take(), raftpb::MSG_APP)), std::set<uint64_t>{2});
  p.Recv(AppResp(3, 1, 1, 3));
  EXPECT_EQ(p->log().committed(), 2u);
  p.Recv(AppResp(2, 1, 1, 3));
  EXPECT_EQ(p->log().committed(), 3u);
}

// Membership changes take effect when applied, so a server holding a committed but unapplied
// configuration entry does not know its configuration yet: it must not campaign until applied.
TEST(PaperTest, ServerDoesNotCampaignWhileCommittedConfChangeIsUnapplied_6) {
  const ConfChange add4 = CC(raftpb::ADD_NODE, 4);
  Peer p({.id = 2, .term = 1});
  p.Recv(App(1, 2, 1, 0, 0, 2, {E(1, 1), ConfEntry(2, 1, add4)}));
  ASSERT_EQ(p->log().committed(), 2u);
  ASSERT_EQ(p->log().applied(), 0u);
  p.Take();
  p.Tick(3 * kElectionTick);
  ASSERT_TRUE(p->Campaign().ok());
  EXPECT_EQ(p->state(), StateType::kFollower);
  EXPECT_EQ(p->term(), 1u);
  EXPECT_TRUE(p.Take().empty());
  // Once applied, it campaigns under the new configuration.
  p->mutable_log().AppliedTo(2);
  p->ApplyConfChange(add4);
  p.Tick(2 * kElectionTick);
  EXPECT_EQ(p->state(), StateType::kCandidate);
  EXPECT_EQ(Recipients(OfType(p.Take(), raftpb::MSG_VOTE)), (std::set<uint64_t>{1, 3, 4}));
}

TEST(PaperTest, TransfereeDoesNotCampaignWhileCommittedConfChangeIsUnapplied_6) {
  Peer p({.id = 2, .term = 1});
  p.Recv(App(1, 2, 1, 0, 0, 2, {E(1, 1), ConfEntry(2, 1, CC(raftpb::ADD_NODE, 4))}));
  ASSERT_EQ(p->log().committed(), 2u);
  ASSERT_EQ(p->log().applied(), 0u);
  p.Take();
  p.Recv(Msg(raftpb::MSG_TIMEOUT_NOW, 1, 2, 1));
  EXPECT_EQ(p->state(), StateType::kFollower);
  EXPECT_EQ(p->term(), 1u);
  EXPECT_TRUE(OfType(p.Take(), raftpb::MSG_VOTE).empty());
}

// Learners (non-voting members, thesis §4.2.1): they receive the log "but do not count towards
// majorities" and are not asked for votes.
TEST(PaperTest, LearnerReceivesEntriesButDoesNotCountTowardMajorities_6) {
  Peer p({.voters = {1, 2, 3}, .learners = {4}});
  ASSERT_TRUE(p->Campaign().ok());
  EXPECT_EQ(Recipients(OfType(p.Take(), raftpb::MSG_VOTE)), (std::set<uint64_t>{2, 3}));
  p.Recv(VoteResp(raftpb::MSG_VOTE_RESP, 2, 1, 1, false));
  ASSERT_EQ(p->state(), StateType::kLeader);
  EXPECT_EQ(Recipients(OfType(p.Take(), raftpb::MSG_APP)), (std::set<uint64_t>{2, 3, 4}));
  p.Recv(AppResp(4, 1, 1, 1));
  EXPECT_EQ(p->tracker().progress().at(4).match_index, 1u);
  EXPECT_EQ(p->log().committed(), 0u);
  p.Recv(AppResp(2, 1, 1, 1));
  EXPECT_EQ(p->log().committed(), 1u);
}

// A learner never becomes a candidate: it is not part of any majority.
TEST(PaperTest, LearnerNeverStartsAnElection_6) {
  Peer p({.id = 4, .voters = {1, 2, 3}, .learners = {4}, .term = 1});
  p.Tick(10 * kElectionTick);
  EXPECT_EQ(p->state(), StateType::kFollower);
  EXPECT_EQ(p->term(), 1u);
  EXPECT_TRUE(p.Take().empty());
  ASSERT_TRUE(p->Campaign().ok());
  EXPECT_EQ(p->state(), StateType::kFollower);
  EXPECT_TRUE(p.Take().empty());
  // Even a TimeoutNow does not make it campaign.
  p.Recv(Msg(raftpb::MSG_TIMEOUT_NOW, 1, 4, 1));
  EXPECT_EQ(p->state(), StateType::kFollower);
  EXPECT_EQ(p->term(), 1u);
}

// "the leader steps down (returns to follower state) once it has committed the Cnew log entry"
// (here: once it applies it) when it is not part of the new configuration.
TEST(PaperTest, RemovedLeaderStepsDownOnceItsRemovalIsApplied_6) {
  Peer p({});
  ASSERT_TRUE(ElectSelf(p));
  p.Recv(AppResp(2, 1, 1, 1));
  const ConfChange remove1 = CC(raftpb::REMOVE_NODE, 1);
  ASSERT_TRUE(p->ProposeConfChange(remove1).ok());
  p.Recv(AppResp(2, 1, 1, 2));
  ASSERT_EQ(p->log().committed(), 2u);
  EXPECT_EQ(p->state(), StateType::kLeader) << "it manages the cluster until the change applies";
  p->mutable_log().AppliedTo(2);
  p->ApplyConfChange(remove1);
  EXPECT_EQ(p->state(), StateType::kFollower);
  EXPECT_FALSE(p->Promotable());
  p.Take();
  p.Tick(5 * kElectionTick);
  EXPECT_EQ(p->term(), 1u) << "a removed server does not start elections";
  EXPECT_TRUE(p.Take().empty());
}

// ---- Thesis §3.10 Leadership transfer ---------------------------------------------------------

// "1. The prior leader stops accepting new client requests. 2. The prior leader fully updates the
// target server's log to match its own ... 3. The prior leader sends a TimeoutNow request to the
// target server."
TEST(PaperTest, LeaderTransferCatchesUpTransfereeThenSendsTimeoutNow_3_10) {
  Peer p({});
  ASSERT_TRUE(ElectSelf(p));
  p.Recv(AppResp(2, 1, 1, 1));
  ASSERT_TRUE(p->Propose("x").ok());
  p.Recv(AppResp(2, 1, 1, 2));
  p.Take();
  // Node 2 is up to date: TimeoutNow at once.
  ASSERT_TRUE(p->TransferLeader(2).ok());
  std::vector<Message> out = p.Take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), raftpb::MSG_TIMEOUT_NOW);
  EXPECT_EQ(out[0].to(), 2u);
  EXPECT_EQ(out[0].term(), 1u);

  // Node 3 lags: it is caught up first, and only then told to time out.
  Peer q({});
  ASSERT_TRUE(ElectSelf(q));
  q.Recv(AppResp(2, 1, 1, 1));
  ASSERT_TRUE(q->Propose("x").ok());
  q.Take();
  ASSERT_TRUE(q->TransferLeader(3).ok());
  EXPECT_EQ(q->lead_transferee(), 3u);
  EXPECT_TRUE(OfType(q.Take(), raftpb::MSG_TIMEOUT_NOW).empty());
  EXPECT_EQ(q->Propose("refused").code(), Code::kUnavailable);
  q.Recv(AppResp(3, 1, 1, 1));
  out = q.Take();
  EXPECT_TRUE(OfType(out, raftpb::MSG_TIMEOUT_NOW).empty()) << "3 still misses entry 2";
  const std::vector<Message> apps = OfType(out, raftpb::MSG_APP);
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].to(), 3u);
  EXPECT_EQ(apps[0].index(), 1u);
  EXPECT_EQ(apps[0].entries_size(), 1);
  q.Recv(AppResp(3, 1, 1, 2));
  out = OfType(q.Take(), raftpb::MSG_TIMEOUT_NOW);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to(), 3u);
}

// "This request has the same effect as the target server's election timer firing: the target
// server starts a new election (incrementing its term and becoming a candidate)." Its vote
// requests are granted even by servers that just heard from the prior leader (which §4.2.3 would
// otherwise ignore); an ordinary candidate's are not.
TEST(PaperTest, TransfereeStartsElectionAtOnceOnTimeoutNow_3_10) {
  Peer p({.id = 2, .term = 1, .pre_vote = true, .check_quorum = true});
  p.Recv(Heartbeat(1, 2, 1, 0));
  p.Take();
  p.Recv(Msg(raftpb::MSG_TIMEOUT_NOW, 1, 2, 1));
  EXPECT_EQ(p->state(), StateType::kCandidate) << "no pre-vote round";
  EXPECT_EQ(p->term(), 2u);
  EXPECT_EQ(p->vote(), 2u);
  const std::vector<Message> votes = OfType(p.Take(), raftpb::MSG_VOTE);
  ASSERT_EQ(Recipients(votes), (std::set<uint64_t>{1, 3}));
  for (const Message& m : votes) {
    EXPECT_EQ(m.term(), 2u);
    EXPECT_FALSE(m.context().empty()) << "marked as a transfer so voters skip the lease";
  }
  const Message forced = votes[0].to() == 3 ? votes[0] : votes[1];

  Peer voter({.id = 3, .term = 1, .pre_vote = true, .check_quorum = true});
  voter.Recv(Heartbeat(1, 3, 1, 0));
  voter.Take();
  Message ordinary = forced;
  ordinary.clear_context();
  voter.Recv(ordinary);
  EXPECT_EQ(voter->term(), 1u) << "an ordinary vote request is ignored within the lease";
  EXPECT_TRUE(voter.Take().empty());
  voter.Recv(forced);
  EXPECT_EQ(voter->term(), 2u);
  EXPECT_EQ(voter->vote(), 2u);
  const std::vector<Message> out = voter.Take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), raftpb::MSG_VOTE_RESP);
  EXPECT_FALSE(out[0].reject());
}

// "If the transfer does not complete within about one election timeout, the prior leader aborts
// the transfer and resumes accepting client requests."
TEST(PaperTest, LeaderAbortsTransferAfterElectionTimeout_3_10) {
  Peer p({});
  ASSERT_TRUE(ElectSelf(p));
  p.Recv(AppResp(2, 1, 1, 1));
  ASSERT_TRUE(p->TransferLeader(3).ok());
  ASSERT_EQ(p->lead_transferee(), 3u);
  p.Tick(kElectionTick - 1);
  EXPECT_EQ(p->lead_transferee(), 3u);
  EXPECT_EQ(p->Propose("x").code(), Code::kUnavailable);
  p.Tick();
  EXPECT_EQ(p->lead_transferee(), kNone);
  EXPECT_EQ(p->state(), StateType::kLeader);
  EXPECT_TRUE(p->Propose("x").ok());
}

// ---- Thesis §6.2 CheckQuorum and §4.2.3 disruptive servers ------------------------------------

// §6.2: "a leader steps down if an election timeout elapses without a successful round of
// heartbeats to a majority of its cluster."
TEST(PaperTest, LeaderStepsDownWithoutHearingFromMajorityWithinElectionTimeout_6_2) {
  Peer lonely({.check_quorum = true});
  ASSERT_TRUE(ElectSelf(lonely));
  lonely.Tick(kElectionTick - 1);
  EXPECT_EQ(lonely->state(), StateType::kLeader);
  lonely.Tick();
  EXPECT_EQ(lonely->state(), StateType::kFollower);
  EXPECT_EQ(lonely->term(), 1u);
  EXPECT_EQ(lonely->lead(), kNone);

  Peer heard({.check_quorum = true});
  ASSERT_TRUE(ElectSelf(heard));
  for (int i = 0; i < 5 * kElectionTick; ++i) {
    heard.Tick();
    for (const Message& m : OfType(heard.Take(), raftpb::MSG_HEARTBEAT)) {
      if (m.to() == 2) heard.Recv(HeartbeatResp(2, 1, m.term()));
    }
  }
  EXPECT_EQ(heard->state(), StateType::kLeader) << "1 and 2 form a majority";
}

// §4.2.3: "if a server receives a RequestVote request within the minimum election timeout of
// hearing from a current leader, it does not update its term or grant its vote."
TEST(PaperTest, ServerIgnoresVoteRequestsWithinMinimumElectionTimeoutOfLeader_4_2_3) {
  Peer p({.term = 1, .pre_vote = true, .check_quorum = true});
  p.Recv(Heartbeat(2, 1, 1, 0));
  p.Take();
  p.Recv(Vote(raftpb::MSG_VOTE, 3, 1, 2, 0, 0));
  p.Recv(Vote(raftpb::MSG_PRE_VOTE, 3, 1, 2, 0, 0));
  EXPECT_EQ(p->term(), 1u);
  EXPECT_EQ(p->vote(), kNone);
  EXPECT_EQ(p->lead(), 2u);
  EXPECT_TRUE(p.Take().empty());
  // Once the minimum election timeout passed without the leader, the request is considered.
  p.Tick(kElectionTick);
  p.Take();
  p.Recv(Vote(raftpb::MSG_VOTE, 3, 1, 2, 0, 0));
  EXPECT_EQ(p->term(), 2u);
  EXPECT_EQ(p->vote(), 3u);
  const std::vector<Message> out = OfType(p.Take(), raftpb::MSG_VOTE_RESP);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].reject());
}

// ---- Thesis §9.6 PreVote ----------------------------------------------------------------------

// §9.6: "the candidate would only increment its term if it first learns from a majority of the
// cluster that they would be willing to grant the candidate their votes."
TEST(PaperTest, PreCandidateIncrementsTermOnlyAfterMajorityOfPreVotes_9_6) {
  Peer p({.log_terms = {1}, .term = 1, .pre_vote = true});
  ASSERT_TRUE(p->Campaign().ok());
  EXPECT_EQ(p->state(), StateType::kPreCandidate);
  EXPECT_EQ(p->term(), 1u);
  EXPECT_EQ(p->vote(), kNone);
  std::vector<Message> out = p.Take();
  EXPECT_EQ(Recipients(out), (std::set<uint64_t>{2, 3}));
  for (const Message& m : out) {
    EXPECT_EQ(m.type(), raftpb::MSG_PRE_VOTE);
    EXPECT_EQ(m.term(), 2u) << "the term it would campaign in";
    EXPECT_EQ(m.index(), 1u);
    EXPECT_EQ(m.log_term(), 1u);
  }
  p.Recv(VoteResp(raftpb::MSG_PRE_VOTE_RESP, 2, 1, 2, false));
  EXPECT_EQ(p->state(), StateType::kCandidate);
  EXPECT_EQ(p->term(), 2u);
  EXPECT_EQ(p->vote(), 1u);
  out = p.Take();
  EXPECT_EQ(Recipients(OfType(out, raftpb::MSG_VOTE)), (std::set<uint64_t>{2, 3}));

  // Refused by a majority: back to follower, term untouched.
  Peer q({.log_terms = {1}, .term = 1, .pre_vote = true});
  ASSERT_TRUE(q->Campaign().ok());
  q.Take();
  q.Recv(VoteResp(raftpb::MSG_PRE_VOTE_RESP, 2, 1, 1, true));
  q.Recv(VoteResp(raftpb::MSG_PRE_VOTE_RESP, 3, 1, 1, true));
  EXPECT_EQ(q->state(), StateType::kFollower);
  EXPECT_EQ(q->term(), 1u);
}

// §9.6: a pre-vote is granted only "if the candidate's log is sufficiently up-to-date", and
// answering it changes nothing on the voter (neither its term nor its vote).
TEST(PaperTest, PreVoteDoesNotChangeVoterTermOrVote_9_6) {
  Peer p({.log_terms = {1, 1}, .term = 1, .pre_vote = true});
  p.Recv(Vote(raftpb::MSG_PRE_VOTE, 2, 1, 2, 2, 1));
  p.Recv(Vote(raftpb::MSG_PRE_VOTE, 3, 1, 2, 1, 1));  // less up to date
  EXPECT_EQ(p->term(), 1u);
  EXPECT_EQ(p->vote(), kNone);
  const std::vector<Message> out = p.Take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type(), raftpb::MSG_PRE_VOTE_RESP);
  EXPECT_EQ(out[0].to(), 2u);
  EXPECT_EQ(out[0].term(), 2u);
  EXPECT_FALSE(out[0].reject());
  EXPECT_EQ(out[1].type(), raftpb::MSG_PRE_VOTE_RESP);
  EXPECT_EQ(out[1].to(), 3u);
  EXPECT_EQ(out[1].term(), 1u);
  EXPECT_TRUE(out[1].reject());
  // Both pre-votes leave it free to vote for either in a real election.
  p.Recv(Vote(raftpb::MSG_VOTE, 2, 1, 2, 2, 1));
  EXPECT_EQ(p->vote(), 2u);
}

// §9.6: PreVote stops a server that rejoins after a partition from disrupting the cluster: it
// never incremented its term while it could not win.
TEST(PaperTest, PartitionedServerDoesNotDisruptLeaderWhenItRejoins_9_6) {
  Cluster c({1, 2, 3}, 21);  // PreVote and CheckQuorum on (the defaults)
  const uint64_t leader = ElectLeader(c);
  ASSERT_NE(leader, 0u);
  const uint64_t term = c.raft(leader).term();
  const uint64_t loner = leader == 3 ? 2 : 3;
  c.Isolate(loner);
  for (int i = 0; i < 10 * kElectionTick; ++i) {
    c.TickAll();
    c.Stabilize();
  }
  EXPECT_EQ(c.raft(loner).term(), term) << "pre-votes never won, so the term never grew";
  EXPECT_EQ(c.Leader(), leader);
  c.Heal();
  for (int i = 0; i < 5 * kElectionTick; ++i) {
    c.TickAll();
    c.Stabilize();
  }
  EXPECT_EQ(c.Leader(), leader);
  EXPECT_EQ(c.raft(leader).term(), term);
  EXPECT_EQ(c.raft(loner).state(), StateType::kFollower);
  EXPECT_EQ(c.raft(loner).lead(), leader);
  ASSERT_TRUE(c.Check().ok()) << c.Check();
}

// ---- Thesis §6.4 ReadIndex --------------------------------------------------------------------

// §6.4: "2. The leader saves its current commit index in a local variable readIndex. ... 3. The
// leader ... sends a new round of heartbeats and waits for their acknowledgments from a majority
// of the cluster."
TEST(PaperTest, ReadIndexAnswersAfterHeartbeatQuorumWithCommitIndexAtRequest_6_4) {
  Peer p({.voters = {1, 2, 3, 4, 5}});
  ASSERT_TRUE(ElectSelf(p));
  p.Recv(AppResp(2, 1, 1, 1));
  p.Recv(AppResp(3, 1, 1, 1));
  ASSERT_EQ(p->log().committed(), 1u);
  p.Take();
  ASSERT_TRUE(p->ReadIndex("r").ok());
  const std::vector<Message> beats = p.Take();
  EXPECT_EQ(Recipients(beats), (std::set<uint64_t>{2, 3, 4, 5}));
  for (const Message& m : beats) {
    EXPECT_EQ(m.type(), raftpb::MSG_HEARTBEAT);
    EXPECT_EQ(m.context(), "r");
  }
  ASSERT_TRUE(p->Propose("later").ok());  // arrives after the request: not part of the read
  p.Recv(HeartbeatResp(2, 1, 1, "r"));
  EXPECT_TRUE(p->read_states().empty()) << "2 of 5 is no majority";
  p.Recv(HeartbeatResp(4, 1, 1, "r"));
  ASSERT_EQ(p->read_states().size(), 1u);
  EXPECT_EQ(p->read_states()[0], (ReadState{1, "r"}));
}

// §6.4: "1. If the leader has not yet marked an entry from its current term committed, it waits
// until it has done so."
TEST(PaperTest, ReadIndexWaitsUntilLeaderCommitsEntryOfItsTerm_6_4) {
  Peer p({.log_terms = {1, 1}, .term = 1, .commit = 1});
  ASSERT_TRUE(ElectSelf(p));
  ASSERT_EQ(p->term(), 2u);
  p.Take();
  ASSERT_TRUE(p->ReadIndex("r").ok());
  for (const Message& m : p.Take()) EXPECT_NE(m.context(), "r") << "no confirmation round yet";
  EXPECT_TRUE(p->read_states().empty());
  p.Recv(AppResp(2, 1, 2, 3));
  ASSERT_EQ(p->log().committed(), 3u);
  const std::vector<Message> beats = OfType(p.Take(), raftpb::MSG_HEARTBEAT);
  ASSERT_EQ(Recipients(beats), (std::set<uint64_t>{2, 3}));
  for (const Message& m : beats) EXPECT_EQ(m.context(), "r");
  p.Recv(HeartbeatResp(3, 1, 2, "r"));
  ASSERT_EQ(p->read_states().size(), 1u);
  EXPECT_EQ(p->read_states()[0], (ReadState{3, "r"})) << "not the stale commit index 1";
}

// ---- Lease-based reads (thesis §6.4.1) ---------------------------------------------------------

// §6.4.1: "the leader would use the normal heartbeat mechanism to maintain a lease ... it would
// then assume that no other server could be elected leader for approximately an election timeout"
// — which holds only while every voter that acknowledged it ignores candidates for that long, even
// one that restarted and forgot it had heard from the leader.
TEST(PaperTest, RestartedServerIgnoresVoteRequestsForOneElectionTimeout_6_4_1) {
  Peer p({.term = 1, .pre_vote = true, .check_quorum = true, .strict_vote_lease = true});
  p.Recv(Vote(raftpb::MSG_VOTE, 3, 1, 2, 0, 0));
  p.Recv(Vote(raftpb::MSG_PRE_VOTE, 3, 1, 2, 0, 0));
  EXPECT_EQ(p->term(), 1u);
  EXPECT_EQ(p->vote(), kNone);
  EXPECT_TRUE(p.Take().empty());
  p.Tick(kElectionTick - 1);
  p.Take();
  p.Recv(Vote(raftpb::MSG_VOTE, 3, 1, 2, 0, 0));
  EXPECT_EQ(p->term(), 1u) << "still within the first election timeout";
  p.Tick(1);
  p.Take();
  p.Recv(Vote(raftpb::MSG_VOTE, 3, 1, 2, 0, 0));
  EXPECT_EQ(p->term(), 2u);
  EXPECT_EQ(p->vote(), 3u);

  // Without strict_vote_lease, a fresh server votes at once.
  Peer q({.term = 1, .pre_vote = true, .check_quorum = true});
  q.Recv(Vote(raftpb::MSG_VOTE, 3, 1, 2, 0, 0));
  EXPECT_EQ(q->vote(), 3u);
}

// A voter that acknowledged a leader must not be turned by a higher term that makes it forget the
// leader (here a rejection from another candidate), nor by a vote request in the term it moved to.
TEST(PaperTest, VoterKeepsIgnoringCandidatesAfterAHigherTermMadeItForgetTheLeader_6_4_1) {
  Peer p({.term = 1, .pre_vote = true, .check_quorum = true, .strict_vote_lease = true});
  p.Tick(kElectionTick);  // past the quiet start
  p.Recv(Heartbeat(2, 1, 1, 0));
  p.Take();
  // A pre-vote rejection in term 2 from candidate 3 moves us to term 2 with no leader known.
  Message reject = Msg(raftpb::MSG_PRE_VOTE_RESP, 3, 1, 2);
  reject.set_reject(true);
  p.Recv(reject);
  ASSERT_EQ(p->term(), 2u);
  ASSERT_EQ(p->lead(), kNone);
  p.Recv(Vote(raftpb::MSG_VOTE, 3, 1, 2, 0, 0));  // same term: no lease check by term
  EXPECT_EQ(p->vote(), kNone);
  EXPECT_TRUE(OfType(p.Take(), raftpb::MSG_VOTE_RESP).empty());
  p.Tick(kElectionTick);
  p.Take();
  p.Recv(Vote(raftpb::MSG_VOTE, 3, 1, 2, 0, 0));
  EXPECT_EQ(p->vote(), 3u) << "an election timeout after the leader was last heard";
}

// Under its lease the leader answers a read index at once — its own and a follower's — with the
// commit index, without a heartbeat round; a leadership transfer (TimeoutNow overrides the voters'
// lease) and a configuration change end the lease.
TEST(PaperTest, LeaderAnswersReadIndexUnderItsLeaseWithoutHeartbeats_6_4_1) {
  Peer p({.voters = {1, 2, 3}, .check_quorum = true, .strict_vote_lease = true});
  ASSERT_TRUE(ElectSelf(p));
  p.Recv(AppResp(2, 1, 1, 1));
  ASSERT_EQ(p->log().committed(), 1u);
  p.Take();
  p->SetLeaseValid(true);
  ASSERT_TRUE(p->lease_valid());
  ASSERT_TRUE(p->ReadIndex("own").ok());
  ASSERT_EQ(p->read_states().size(), 1u);
  EXPECT_EQ(p->read_states()[0], (ReadState{1, "own"}));
  Message forwarded = Msg(raftpb::MSG_READ_INDEX, 3, 1, 0);
  forwarded.set_context("theirs");
  p.Recv(forwarded);
  std::vector<Message> out = p.Take();
  ASSERT_EQ(out.size(), 1u) << "no heartbeat round";
  EXPECT_EQ(out[0].type(), raftpb::MSG_READ_INDEX_RESP);
  EXPECT_EQ(out[0].to(), 3u);
  EXPECT_EQ(out[0].index(), 1u);
  EXPECT_EQ(out[0].context(), "theirs");

  // A transfer ends the lease for the rest of the term, even once abandoned: the transferee's
  // forced vote requests may still be on their way.
  p.Recv(Msg(raftpb::MSG_TRANSFER_LEADER, 3, 1, 0));
  EXPECT_FALSE(p->lease_valid());
  p.Tick(kElectionTick);
  ASSERT_EQ(p->lead_transferee(), kNone) << "the transfer was abandoned";
  p->SetLeaseValid(true);  // even if the driver says it holds
  EXPECT_FALSE(p->lease_valid());
  p.Take();
  p->read_states().clear();
  ASSERT_TRUE(p->ReadIndex("after-transfer").ok());
  EXPECT_TRUE(p->read_states().empty());
  const std::vector<Message> beats = OfType(p.Take(), raftpb::MSG_HEARTBEAT);
  ASSERT_FALSE(beats.empty());
  for (const Message& m : beats) EXPECT_EQ(m.context(), "after-transfer");

  // A configuration change ends it too.
  Peer q({.voters = {1, 2, 3}, .check_quorum = true, .strict_vote_lease = true});
  ASSERT_TRUE(ElectSelf(q));
  q.Recv(AppResp(2, 1, 1, 1));
  q->SetLeaseValid(true);
  q->ApplyConfChange(CC(raftpb::ADD_LEARNER, 4));
  EXPECT_FALSE(q->lease_valid());

  // And so does losing leadership; a follower has no lease to set.
  p.Recv(Heartbeat(2, 1, 5, 0));
  EXPECT_EQ(p->state(), StateType::kFollower);
  EXPECT_FALSE(p->lease_valid());
  p->SetLeaseValid(true);
  EXPECT_FALSE(p->lease_valid());

  // Without the voters' promise there is no lease to set.
  Peer r({.voters = {1, 2, 3}, .check_quorum = true});
  ASSERT_TRUE(ElectSelf(r));
  r->SetLeaseValid(true);
  EXPECT_FALSE(r->lease_valid());
}

}  // namespace
}  // namespace meta::raft
