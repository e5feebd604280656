// Integration tests with real processes: three metad binaries on loopback, real gRPC, real RocksDB
// on disk with fsync, SIGKILL. Time is only used for generous upper bounds on waiting; nothing
// asserts how fast anything is. The failover measurement prints its numbers (META_FAILOVER_TRIALS
// sets the number of trials; the closing notes use 20).
#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "core/limits.h"
#include "net/client.h"
#include "net/server.h"
#include "proto/meta/cluster.grpc.pb.h"
#include "proto/meta/kv.grpc.pb.h"
#include "proto/meta/offset.grpc.pb.h"
#include "proto/meta/session.grpc.pb.h"
#include "proto/transport.grpc.pb.h"
#include "store/test_util.h"

namespace meta::net {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kGenerous = std::chrono::seconds(60);

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// A 3-node cluster of metad processes.
class Cluster {
 public:
  explicit Cluster(int nodes = 3) {
    for (int i = 1; i <= nodes; ++i) addrs_[i] = "127.0.0.1:" + std::to_string(FreePort());
    for (auto& [id, addr] : addrs_) WriteConfig(id, false);
    for (auto& [id, addr] : addrs_) Start(id);
  }

  // A new node that joins the running cluster (after MemberAdd); returns its address.
  std::string AddNode(NodeId id) {
    addrs_[id] = "127.0.0.1:" + std::to_string(FreePort());
    WriteConfig(id, /*join=*/true);
    return addrs_[id];
  }

  void Forget(NodeId id) { addrs_.erase(id); }

  ~Cluster() {
    for (auto& [id, pid] : pids_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (::testing::Test::HasFailure()) {
      for (auto& [id, addr] : addrs_) {
        std::string log = Log(id);
        if (log.size() > 4000) log = log.substr(log.size() - 4000);
        std::cerr << "---- node " << id << " (" << addr << "), end of its log ----\n" << log;
      }
    }
  }

  void Start(NodeId id) {
    const std::string log = dir_.path() + "/node" + std::to_string(id) + ".log";
    const std::string config = Config(id);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      FILE* out = freopen(log.c_str(), "a", stderr);
      (void)out;
      execl(METAD_PATH, METAD_PATH, "--config", config.c_str(), nullptr);
      _exit(127);
    }
    pids_[id] = pid;
  }

  void Kill(NodeId id, int sig = SIGKILL) {
    kill(pids_[id], sig);
    int status = 0;
    waitpid(pids_[id], &status, 0);
    pids_.erase(id);
    last_exit_ = status;
  }

  std::string Log(NodeId id) const {
    std::ifstream f(dir_.path() + "/node" + std::to_string(id) + ".log");
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

  std::vector<std::string> Endpoints() const {
    std::vector<std::string> out;
    for (auto& [id, a] : addrs_) out.push_back(a);
    return out;
  }
  const std::string& Addr(NodeId id) const { return addrs_.at(id); }
  const std::map<NodeId, std::string>& addrs() const { return addrs_; }
  int last_exit() const { return last_exit_; }

  std::unique_ptr<client::Client> Client(std::vector<std::string> endpoints = {}) {
    client::ClientOptions o;
    o.endpoints = endpoints.empty() ? Endpoints() : endpoints;
    return std::move(client::Client::Connect(o).value());
  }

  // Waits until every member answers and agrees on a leader for each of its groups; returns the
  // leader of each group.
  std::map<uint64_t, NodeId> WaitForLeaders() {
    auto c = Client();
    const auto deadline = Clock::now() + kGenerous;
    while (Clock::now() < deadline) {
      std::map<uint64_t, std::set<NodeId>> seen;
      bool all = true;
      for (auto& [id, addr] : addrs_) {
        Result<v1::StatusResponse> r = c->Status(addr);
        if (!r.ok()) {
          all = false;
          break;
        }
        for (const auto& g : r->groups()) seen[g.group_id()].insert(g.leader_id());
      }
      std::map<uint64_t, NodeId> leaders;
      for (auto& [g, ids] : seen) {
        if (ids.size() == 1 && *ids.begin() != 0) leaders[g] = *ids.begin();
      }
      if (all && !seen.empty() && leaders.size() == seen.size()) return leaders;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no stable leaders within 60 s";
    return {};
  }

  // Waits until every member has applied the same index with the same digest, in every group.
  void ExpectConverged() {
    auto c = Client();
    const auto deadline = Clock::now() + kGenerous;
    std::string last;
    while (Clock::now() < deadline) {
      std::map<uint64_t, std::set<std::pair<uint64_t, uint64_t>>> states;
      bool all = true;
      for (auto& [id, addr] : addrs_) {
        Result<v1::StatusResponse> r = c->Status(addr, /*with_digests=*/true);
        if (!r.ok()) {
          all = false;
          last = r.status().ToString();
          break;
        }
        for (const auto& g : r->groups()) {
          states[g.group_id()].insert({g.applied_index(), g.digest()});
        }
      }
      if (all && std::all_of(states.begin(), states.end(),
                             [](const auto& s) { return s.second.size() == 1; })) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "replicas did not converge within 60 s: " << last;
  }

 private:
  std::string Config(NodeId id) const {
    return dir_.path() + "/node" + std::to_string(id) + ".toml";
  }

  void WriteConfig(NodeId id, bool join) {
    std::ofstream f(Config(id));
    f << "cluster_name = \"test\"\nnode_id = " << id << "\ndata_dir = \"" << dir_.path() << "/data"
      << id << "\"\nlisten_addr = \"" << addrs_[id]
      << "\"\nlog_level = \"warn\"\ninitial_cluster_state = \"" << (join ? "existing" : "new")
      << "\"\n[meta_addrs]\n";
    for (auto& [j, a] : addrs_) f << j << " = \"" << a << "\"\n";
  }

  store::TempDir dir_;
  std::map<NodeId, std::string> addrs_;
  std::map<NodeId, pid_t> pids_;
  int last_exit_ = 0;
};

TEST(ClusterTest, WritesThroughAFollowerReadLinearizablyEverywhere) {
  Cluster cluster;
  std::map<uint64_t, NodeId> leaders = cluster.WaitForLeaders();
  ASSERT_FALSE(leaders.empty());
  const NodeId follower = leaders[1] % 3 + 1;  // not the metadata leader
  auto via_follower = cluster.Client({cluster.Addr(follower)});
  Result<v1::PutResponse> put = via_follower->Put("greeting", "hello");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->header().member_id(), follower);
  EXPECT_EQ(put->header().leader_id(), leaders[1]);
  for (auto& [id, addr] : cluster.addrs()) {
    Result<v1::GetResponse> got = cluster.Client({addr})->Get("greeting");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(got->found()) << "node " << id;
    EXPECT_EQ(got->kv().value(), "hello") << "node " << id;
  }
}

// The acceptance scenario: a writer keeps going while the leader of each group in turn is
// killed with SIGKILL and restarted; every acknowledged write must be readable afterwards and
// every replica must converge.
TEST(ClusterTest, KillTheLeaderOfEachGroupWhileWriting) {
  Cluster cluster;
  std::map<uint64_t, NodeId> leaders = cluster.WaitForLeaders();
  ASSERT_EQ(leaders.size(), 3u);

  std::atomic<bool> stop{false};
  std::map<std::string, std::string> acked_kv;
  std::map<std::string, uint64_t> acked_offsets;  // topic -> last acknowledged offset
  std::set<std::string> acked_sessions;
  int failures = 0;
  std::thread writer([&] {
    auto c = cluster.Client();
    for (int i = 0; !stop.load(); ++i) {
      const std::string n = std::to_string(i);
      if (c->Put("key-" + n, "value-" + n).ok())
        acked_kv["key-" + n] = "value-" + n;
      else
        ++failures;
      v1::CommitOffsetsRequest oc;
      oc.set_group("consumers");
      auto* o = oc.add_offsets();
      o->set_topic("t");
      o->set_partition(0);
      o->set_offset(static_cast<uint64_t>(i));
      if (c->CommitOffsets(oc).ok()) acked_offsets["t"] = static_cast<uint64_t>(i);
      v1::SessionBatchRequest sb;
      sb.add_upserts()->set_client_id("client-" + n);
      if (c->SessionBatch(sb).ok()) acked_sessions.insert("client-" + n);
    }
  });
  for (uint64_t group : {uint64_t{1}, uint64_t{100}, uint64_t{200}}) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const NodeId victim = cluster.WaitForLeaders()[group];
    cluster.Kill(victim);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    cluster.Start(victim);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  writer.join();
  EXPECT_GT(acked_kv.size(), 10u);
  std::cerr << "acknowledged: " << acked_kv.size() << " puts, " << acked_sessions.size()
            << " session batches; " << failures << " puts failed\n";

  cluster.WaitForLeaders();
  for (auto& [id, addr] : cluster.addrs()) {
    auto c = cluster.Client({addr});
    for (const auto& [k, v] : acked_kv) {
      Result<v1::GetResponse> got = c->Get(k);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_TRUE(got->found()) << k << " acknowledged but missing on node " << id;
      ASSERT_EQ(got->kv().value(), v);
    }
    v1::GetOffsetsRequest og;
    og.set_group("consumers");
    og.add_partitions()->set_topic("t");
    Result<v1::GetOffsetsResponse> off = c->GetOffsets(og);
    ASSERT_TRUE(off.ok()) << off.status();
    // Later commits may have applied without an acknowledgement; never an earlier value.
    EXPECT_GE(off->offsets(0).offset(), acked_offsets["t"]);
    for (const std::string& s : acked_sessions) {
      Result<v1::GetSessionResponse> got = c->GetSession(s);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_TRUE(got->found()) << s << " acknowledged but missing on node " << id;
    }
  }
  cluster.ExpectConverged();
}

// Failover time: SIGKILL the metadata leader, then measure until the first acknowledged write.
// Prints every trial and the median and maximum.
TEST(ClusterTest, FailoverTime) {
  const char* env = std::getenv("META_FAILOVER_TRIALS");
  const int trials = env != nullptr ? std::atoi(env) : 2;
  Cluster cluster;
  auto c = cluster.Client();
  std::vector<double> ms;
  for (int t = 0; t < trials; ++t) {
    const NodeId leader = cluster.WaitForLeaders()[1];
    ASSERT_TRUE(c->Put("warm", std::to_string(t)).ok());
    const auto start = Clock::now();
    cluster.Kill(leader);
    Result<v1::PutResponse> r = c->Put("failover", std::to_string(t));
    const auto took = Clock::now() - start;
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_NE(r->header().leader_id(), leader);
    ms.push_back(std::chrono::duration<double, std::milli>(took).count());
    std::cerr << "failover trial " << t + 1 << ": " << ms.back() << " ms\n";
    cluster.Start(leader);
  }
  std::sort(ms.begin(), ms.end());
  std::cerr << "failover over " << trials << " trials: p50 " << ms[ms.size() / 2] << " ms, max "
            << ms.back() << " ms\n";
}

// SIGTERM drains: the process exits 0, and the restarted node still holds what was written.
TEST(ClusterTest, SigtermDrainsAndRestartKeepsData) {
  Cluster cluster;
  cluster.WaitForLeaders();
  auto c = cluster.Client();
  ASSERT_TRUE(c->Put("kept", "yes").ok());
  cluster.Kill(1, SIGTERM);
  EXPECT_TRUE(WIFEXITED(cluster.last_exit()) && WEXITSTATUS(cluster.last_exit()) == 0)
      << cluster.Log(1);
  cluster.Start(1);
  cluster.WaitForLeaders();
  Result<v1::GetResponse> got = cluster.Client({cluster.Addr(1)})->Get("kept");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->kv().value(), "yes");
}

// `metactl snapshot`: each group's log is compacted up to the index applied when it was asked,
// which waits for that applied state to be flushed (apply writes without the WAL). A node killed
// right after restarts from that state.
TEST(ClusterTest, SnapshotCompactsEveryGroupUpToItsAppliedIndex) {
  Cluster cluster;
  cluster.WaitForLeaders();
  auto c = cluster.Client();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(c->Put("k" + std::to_string(i), "v").ok());
  Result<v1::StatusResponse> before = c->Status(cluster.Addr(1));
  ASSERT_TRUE(before.ok()) << before.status();
  Result<v1::SnapshotResponse> snap = c->Snapshot(cluster.Addr(1));
  ASSERT_TRUE(snap.ok()) << snap.status();
  ASSERT_EQ(snap->groups_size(), before->groups_size());
  for (int i = 0; i < snap->groups_size(); ++i) {
    const v1::GroupStatus& g = snap->groups(i);
    ASSERT_EQ(g.group_id(), before->groups(i).group_id());
    EXPECT_GT(g.first_index(), before->groups(i).applied_index()) << "group " << g.group_id();
  }
  cluster.Kill(1);
  cluster.Start(1);
  cluster.WaitForLeaders();
  Result<v1::GetResponse> got = cluster.Client({cluster.Addr(1)})->Get("k49");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->found());
  cluster.ExpectConverged();
}

// A fourth member joins: added to every group, started with initial_cluster_state = "existing",
// it catches up and serves linearizable reads; then it is removed again.
TEST(ClusterTest, MemberAddThenRemove) {
  Cluster cluster;
  cluster.WaitForLeaders();
  auto c = cluster.Client();
  ASSERT_TRUE(c->Put("before", "4 joined").ok());
  const std::string addr = cluster.AddNode(4);
  Result<v1::MemberAddResponse> added = c->MemberAdd(4, addr, /*learner=*/false);
  ASSERT_TRUE(added.ok()) << added.status();
  cluster.Start(4);
  cluster.WaitForLeaders();
  Result<v1::GetResponse> got = cluster.Client({addr})->Get("before");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->kv().value(), "4 joined");
  Result<v1::StatusResponse> status = c->Status(addr);
  ASSERT_TRUE(status.ok()) << status.status();
  for (const auto& g : status->groups()) EXPECT_EQ(g.voters_size(), 4) << g.group_id();
  cluster.ExpectConverged();

  Result<v1::MemberRemoveResponse> removed = c->MemberRemove(4);
  ASSERT_TRUE(removed.ok()) << removed.status();
  cluster.Kill(4);
  cluster.Forget(4);
  status = c->Status(cluster.Addr(1));
  ASSERT_TRUE(status.ok()) << status.status();
  for (const auto& g : status->groups()) EXPECT_EQ(g.voters_size(), 3) << g.group_id();
  EXPECT_TRUE(c->Put("after", "4 left").ok());
}

// ---- bad input: every RPC, straight through the generated stubs (no client-side help) ----

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new Cluster();
    cluster_->WaitForLeaders();
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    channel_ = new std::shared_ptr<grpc::Channel>(
        grpc::CreateCustomChannel(cluster_->Addr(1), grpc::InsecureChannelCredentials(), args));
  }
  static void TearDownTestSuite() {
    delete channel_;
    delete cluster_;
  }

  template <class Stub, class Req, class Resp>
  grpc::Status Call(grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp = nullptr) {
    Resp local;
    auto stub = std::make_unique<Stub>(*channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ((*stub).*rpc)(&ctx, req, resp != nullptr ? resp : &local);
  }

  static void ExpectInvalid(const grpc::Status& s, const std::string& names) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_NE(s.error_message().find(names), std::string::npos)
        << "'" << s.error_message() << "' does not name " << names;
  }

  static Cluster* cluster_;
  static std::shared_ptr<grpc::Channel>* channel_;
};

Cluster* BadInputTest::cluster_ = nullptr;
std::shared_ptr<grpc::Channel>* BadInputTest::channel_ = nullptr;

TEST_F(BadInputTest, KvRequestsNameTheBadField) {
  v1::GetRequest get;
  ExpectInvalid(Call(&v1::KV::Stub::Get, get), "key");
  get.set_key(std::string(kMaxKeyBytes + 1, 'k'));
  ExpectInvalid(Call(&v1::KV::Stub::Get, get), "key is 4097 bytes");
  get.set_key("k");
  get.set_consistency(static_cast<v1::ReadConsistency>(7));
  ExpectInvalid(Call(&v1::KV::Stub::Get, get), "consistency 7");

  v1::PutRequest put;
  put.set_value("v");
  ExpectInvalid(Call(&v1::KV::Stub::Put, put), "key");
  put.set_key("k");
  put.set_value(std::string(kMaxValueBytes + 1, 'v'));
  ExpectInvalid(Call(&v1::KV::Stub::Put, put), "value is");
  put.set_value("v");
  put.mutable_write()->set_client_id(5);
  ExpectInvalid(Call(&v1::KV::Stub::Put, put), "write.sequence");

  v1::DeleteRequest del;
  ExpectInvalid(Call(&v1::KV::Stub::Delete, del), "key");

  v1::ListRequest list;
  list.set_prefix(std::string(kMaxKeyBytes + 1, 'p'));
  ExpectInvalid(Call(&v1::KV::Stub::List, list), "prefix");

  v1::CompareAndSetRequest cas;
  cas.set_key("k");
  cas.set_expect_absent(true);
  cas.set_expected_value("x");
  ExpectInvalid(Call(&v1::KV::Stub::CompareAndSet, cas), "expected_value");
  cas.clear_expected_value();
  cas.set_delete_on_match(true);
  cas.set_new_value("n");
  ExpectInvalid(Call(&v1::KV::Stub::CompareAndSet, cas), "new_value");

  // Nothing above was applied.
  v1::GetResponse resp;
  get.set_consistency(v1::LINEARIZABLE);
  ASSERT_TRUE(Call(&v1::KV::Stub::Get, get, &resp).ok());
  EXPECT_FALSE(resp.found());
}

TEST_F(BadInputTest, OffsetAndSessionRequestsNameTheBadFieldAndApplyNothing) {
  v1::CommitOffsetsRequest oc;
  ExpectInvalid(Call(&v1::Offset::Stub::Commit, oc), "group");
  oc.set_group("g");
  ExpectInvalid(Call(&v1::Offset::Stub::Commit, oc), "offsets must not be empty");
  oc.add_offsets()->set_topic("t");
  oc.add_offsets();  // the second has no topic: the first must not be committed either
  ExpectInvalid(Call(&v1::Offset::Stub::Commit, oc), "offsets[1].topic");
  for (size_t i = 0; i <= kMaxBatchItems; ++i) oc.add_offsets()->set_topic("t");
  ExpectInvalid(Call(&v1::Offset::Stub::Commit, oc), "offsets has");

  v1::GetOffsetsRequest og;
  og.set_group("g");
  og.add_partitions()->set_topic("t");
  v1::GetOffsetsResponse offsets;
  ASSERT_TRUE(Call(&v1::Offset::Stub::Get, og, &offsets).ok());
  EXPECT_FALSE(offsets.offsets(0).found());
  og.add_partitions();
  ExpectInvalid(Call(&v1::Offset::Stub::Get, og), "partitions[1].topic");

  v1::SessionBatchRequest sb;
  ExpectInvalid(Call(&v1::Session::Stub::Batch, sb), "upserts and deletes");
  sb.add_upserts()->set_client_id("good");
  sb.add_upserts()->set_expiry_interval_ms(1);  // no client id
  ExpectInvalid(Call(&v1::Session::Stub::Batch, sb), "upserts[1].client_id");
  sb.mutable_upserts(1)->set_client_id("bad");
  sb.mutable_upserts(1)->set_expiry_interval_ms(-1);
  ExpectInvalid(Call(&v1::Session::Stub::Batch, sb), "upserts[1].expiry_interval_ms");
  sb.mutable_upserts(1)->set_expiry_interval_ms(0);
  sb.add_deletes("");
  ExpectInvalid(Call(&v1::Session::Stub::Batch, sb), "deletes[0]");

  v1::GetSessionRequest gs;
  ExpectInvalid(Call(&v1::Session::Stub::Get, gs), "client_id");
  gs.set_client_id("good");
  v1::GetSessionResponse session;
  ASSERT_TRUE(Call(&v1::Session::Stub::Get, gs, &session).ok());
  EXPECT_FALSE(session.found()) << "half of a refused batch was applied";

  v1::ListSessionsRequest ls;
  ls.set_consistency(static_cast<v1::ReadConsistency>(-1));
  ExpectInvalid(Call(&v1::Session::Stub::List, ls), "consistency");
}

TEST_F(BadInputTest, ClusterRequestsNameTheBadField) {
  v1::MemberAddRequest add;
  ExpectInvalid(Call(&v1::Cluster::Stub::MemberAdd, add), "member.id");
  add.mutable_member()->set_id(9);
  add.mutable_member()->set_addr("no-port");
  ExpectInvalid(Call(&v1::Cluster::Stub::MemberAdd, add), "member.addr");
  v1::MemberRemoveRequest rm;
  ExpectInvalid(Call(&v1::Cluster::Stub::MemberRemove, rm), "id");
  v1::TransferLeaderRequest tl;
  ExpectInvalid(Call(&v1::Cluster::Stub::TransferLeader, tl), "to");
  tl.set_to(2);
  tl.set_group_id(4242);
  EXPECT_EQ(Call(&v1::Cluster::Stub::TransferLeader, tl).error_code(), grpc::StatusCode::NOT_FOUND);
  tl.set_group_id(1);
  tl.set_to(77);
  EXPECT_EQ(Call(&v1::Cluster::Stub::TransferLeader, tl).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(BadInputTest, MalformedAndOversizedMessagesAreRefusedAndTheServerCarriesOn) {
  // Bytes that are not a valid protobuf, sent to every method.
  grpc::GenericStub generic(*channel_);
  const char garbage[] = "\xff\xff\xff\xff\x0f\x0a\x80";
  for (const char* method :
       {"/meta.v1.KV/Get", "/meta.v1.KV/Put", "/meta.v1.KV/Delete", "/meta.v1.KV/List",
        "/meta.v1.KV/CompareAndSet", "/meta.v1.Offset/Commit", "/meta.v1.Offset/Get",
        "/meta.v1.Session/Batch", "/meta.v1.Session/Get", "/meta.v1.Session/List",
        "/meta.v1.Cluster/Status", "/meta.v1.Cluster/MemberAdd", "/meta.v1.Cluster/MemberRemove",
        "/meta.v1.Cluster/TransferLeader", "/meta.v1.Cluster/Snapshot"}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Slice slice(garbage, sizeof(garbage) - 1);
    grpc::ByteBuffer request(&slice, 1), response;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
    generic.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
      std::lock_guard lock(mu);
      status = s;
      done = true;
      cv.notify_one();
    });
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done; });
    EXPECT_FALSE(status.ok()) << method << " accepted garbage";
    EXPECT_NE(status.error_code(), grpc::StatusCode::UNAVAILABLE) << method;
  }
  // A message over the server's limit.
  v1::PutRequest huge;
  huge.set_key("k");
  huge.set_value(std::string(kMaxRequestBytes + 1, 'v'));
  EXPECT_EQ(Call(&v1::KV::Stub::Put, huge).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Still serving.
  v1::PutRequest ok;
  ok.set_key("after-garbage");
  ok.set_value("fine");
  EXPECT_TRUE(Call(&v1::KV::Stub::Put, ok).ok());
}

TEST_F(BadInputTest, AStrangerCannotOpenARaftStream) {
  auto stub = transportpb::RaftTransport::NewStub(*channel_);
  for (auto [cluster, from, to, code] :
       std::vector<std::tuple<std::string, std::string, std::string, grpc::StatusCode>>{
           {"12345", "2", "1", grpc::StatusCode::PERMISSION_DENIED},
           {"", "2", "1", grpc::StatusCode::INVALID_ARGUMENT},
           {std::to_string(ClusterId("test")), "2", "3", grpc::StatusCode::FAILED_PRECONDITION},
       }) {
    grpc::ClientContext ctx;
    if (!cluster.empty()) ctx.AddMetadata("x-meta-cluster-id", cluster);
    ctx.AddMetadata("x-meta-from", from);
    ctx.AddMetadata("x-meta-to", to);
    transportpb::StreamEnd end;
    auto w = stub->Stream(&ctx, &end);
    transportpb::FrameBatch batch;
    batch.add_frames("not a frame");
    w->Write(batch);
    w->WritesDone();
    EXPECT_EQ(w->Finish().error_code(), code) << cluster << " " << from << "->" << to;
  }
}

}  // namespace
}  // namespace meta::net
