// metabench: a load generator for this service's API and for etcd's v3 KV API, with one harness, so
// the two can be measured side by side on the same machine (cmd/metabench/compare.sh).
//
// Like etcd's `benchmark` tool, it opens --conns gRPC connections, spread over the endpoints, and
// runs --clients clients over them, each with one request in flight (closed loop). With --rate it
// runs open loop instead: requests start on a fixed schedule, and latency is measured from the
// scheduled start, so a stalled server is charged for the queue it causes (no coordinated
// omission). Everything runs on gRPC's callback API; no thread per client.
//
// Output: a table per operation (count, throughput, latency p50/p90/p99/p99.9/max, errors), the
// client's CPU per operation and, with --server-pids, the servers' CPU per operation read from
// /proc — the number that travels between machines — and their resident memory at the end of the
// window and at its peak. --json prints the same as one JSON object.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "net/server.h"
#include "proto/etcd/rpc.grpc.pb.h"
#include "proto/meta/kv.grpc.pb.h"
#include "proto/meta/offset.grpc.pb.h"
#include "proto/meta/session.grpc.pb.h"

namespace {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

constexpr char kUsage[] = R"(usage: metabench [flags]

  --backend meta|etcd        which API to drive (default meta)
  --endpoints H:P,...        servers; connections are spread over them round-robin
                             (default 127.0.0.1:9101,127.0.0.1:9102,127.0.0.1:9103)
  --workload W               put | get (linearizable) | sget (serializable) | mixed (90% get,
                             10% put) | session (batched session creates; meta only) |
                             offset (batched offset commits; meta only)     (default put)
  --conns N                  gRPC connections (default 1)
  --clients N                clients, one request in flight each (default 1)
  --rate R                   open loop: start R requests/s (at most --clients in flight)
  --duration S               measured seconds (default 10)
  --total N                  or: stop after N measured requests
  --warmup S                 seconds of load before measuring (default 2)
  --key-space N              distinct keys (default 10000); read workloads write them first
  --key-size N               bytes per key (default 8)
  --value-size N             bytes per value or session payload (default 256)
  --batch N                  sessions or offsets per request (default 100)
  --server-pids P,...        server processes whose CPU time is charged per operation (and
                             whose resident memory is reported)
  --seed N                   key choice and payload seed (default: from the clock)
  --label S                  a name for this run in the output
  --json                     print one JSON object on stdout (the table goes to stderr)
)";

enum class Backend { kMeta, kEtcd };
enum class Workload { kPut, kGet, kSget, kMixed, kSession, kOffset };
enum OpKind { kOpPut = 0, kOpGet = 1, kOpSession = 2, kOpOffset = 3, kOpKinds = 4 };
constexpr const char* kOpNames[kOpKinds] = {"put", "get", "session-batch", "offset-batch"};

struct Options {
  Backend backend = Backend::kMeta;
  std::vector<std::string> endpoints = {"127.0.0.1:9101", "127.0.0.1:9102", "127.0.0.1:9103"};
  Workload workload = Workload::kPut;
  std::string workload_name = "put";
  int conns = 1;
  int clients = 1;
  double rate = 0;
  double duration_s = 10;
  uint64_t total = 0;
  double warmup_s = 2;
  uint64_t key_space = 10000;
  int key_size = 8;
  int value_size = 256;
  int batch = 100;
  std::vector<int> server_pids;
  uint64_t seed = 0;
  std::string label;
  bool json = false;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "metabench: %s\n\n%s", why.c_str(), kUsage);
  std::exit(2);
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

// Exits at once, without destructors: gRPC callbacks may still be running on other threads.
[[noreturn]] void Die() {
  std::fflush(nullptr);
  std::_Exit(1);
}

uint64_t ParseInt(const std::string& flag, const std::string& v, uint64_t min, uint64_t max) {
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || *end != '\0' || errno != 0 || n < min || n > max) {
    Usage(flag + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
          "], got '" + v + "'");
  }
  return n;
}

double ParseNumber(const std::string& flag, const std::string& v, double min, double max) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(d >= min && d <= max)) {
    std::ostringstream why;
    why << flag << " must be a number in [" << min << ", " << max << "], got '" << v << "'";
    Usage(why.str());
  }
  return d;
}

Options ParseFlags(int argc, char** argv) {
  Options o;
  o.seed = static_cast<uint64_t>(SteadyClock::now().time_since_epoch().count());
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (flag == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= argc) Usage(flag + " needs a value");
    std::string v = argv[++i];
    if (flag == "--backend") {
      if (v == "meta") {
        o.backend = Backend::kMeta;
      } else if (v == "etcd") {
        o.backend = Backend::kEtcd;
      } else {
        Usage("--backend is meta or etcd, got '" + v + "'");
      }
    } else if (flag == "--endpoints") {
      o.endpoints = Split(v, ',');
      if (o.endpoints.empty()) Usage("--endpoints is empty");
    } else if (flag == "--workload") {
      static const std::map<std::string, Workload> kWorkloads = {
          {"put", Workload::kPut},         {"get", Workload::kGet},
          {"sget", Workload::kSget},       {"mixed", Workload::kMixed},
          {"session", Workload::kSession}, {"offset", Workload::kOffset}};
      auto it = kWorkloads.find(v);
      if (it == kWorkloads.end()) Usage("unknown --workload '" + v + "'");
      o.workload = it->second;
      o.workload_name = v;
    } else if (flag == "--conns") {
      o.conns = static_cast<int>(ParseInt(flag, v, 1, 10000));
    } else if (flag == "--clients") {
      o.clients = static_cast<int>(ParseInt(flag, v, 1, 100000));
    } else if (flag == "--rate") {
      o.rate = ParseNumber(flag, v, 0, 1e8);
    } else if (flag == "--duration") {
      o.duration_s = ParseNumber(flag, v, 0.1, 86400);
    } else if (flag == "--total") {
      o.total = ParseInt(flag, v, 1, uint64_t{1} << 40);
    } else if (flag == "--warmup") {
      o.warmup_s = ParseNumber(flag, v, 0, 3600);
    } else if (flag == "--key-space") {
      o.key_space = ParseInt(flag, v, 1, 1000000000);
    } else if (flag == "--key-size") {
      o.key_size = static_cast<int>(ParseInt(flag, v, 1, 4096));
    } else if (flag == "--value-size") {
      o.value_size = static_cast<int>(ParseInt(flag, v, 0, 1 << 20));
    } else if (flag == "--batch") {
      o.batch = static_cast<int>(ParseInt(flag, v, 1, 10000));
    } else if (flag == "--server-pids") {
      for (const auto& p : Split(v, ',')) {
        o.server_pids.push_back(static_cast<int>(ParseInt(flag, p, 1, 1 << 30)));
      }
    } else if (flag == "--seed") {
      o.seed = ParseInt(flag, v, 0, UINT64_MAX);
    } else if (flag == "--label") {
      o.label = v;
    } else {
      Usage("unknown flag " + flag);
    }
  }
  if (o.backend == Backend::kEtcd &&
      (o.workload == Workload::kSession || o.workload == Workload::kOffset)) {
    Usage("--workload " + o.workload_name + " exists only for --backend meta");
  }
  if (std::to_string(o.key_space - 1).size() > static_cast<size_t>(o.key_size)) {
    Usage("--key-size " + std::to_string(o.key_size) + " is too small for --key-space " +
          std::to_string(o.key_space));
  }
  if (o.conns > o.clients) o.conns = o.clients;
  return o;
}

// The fixed-size key of index i: zero-padded decimal.
std::string Key(uint64_t i, int size) {
  std::string digits = std::to_string(i);
  return std::string(static_cast<size_t>(size) - digits.size(), '0') + digits;
}

double CpuSecondsOfPid(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
  auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int f = 3; f <= 15 && rest >> field; ++f) {
    if (f == 14 || f == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double ServerCpuSeconds(const std::vector<int>& pids) {
  double total = 0;
  for (int pid : pids) {
    double s = CpuSecondsOfPid(pid);
    if (s < 0) {
      std::fprintf(stderr, "metabench: cannot read /proc/%d/stat (is the server running?)\n", pid);
      Die();
    }
    total += s;
  }
  return total;
}

// Resident and peak resident memory of the servers, summed, in MiB (VmRSS and VmHWM of
// /proc/PID/status). The peak covers the whole life of each process, warm-up included.
std::pair<double, double> ServerMemoryMib(const std::vector<int>& pids) {
  double rss_kib = 0, hwm_kib = 0;
  for (int pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      auto value = [&] { return std::stod(line.substr(line.find(':') + 1)); };  // "   123 kB"
      if (line.starts_with("VmRSS:")) rss_kib += value();
      if (line.starts_with("VmHWM:")) hwm_kib += value();
    }
  }
  return {rss_kib / 1024, hwm_kib / 1024};
}

double ClientCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

// Shared by every client: the measurement window and the stop signal.
struct Run {
  const Options& opt;
  std::atomic<int64_t> measure_start{INT64_MAX};  // steady-clock ns; ops starting before: warm-up
  std::atomic<int64_t> measure_end{INT64_MAX};    // ops finishing after are not counted
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> measured_started{0};  // for --total
  std::atomic<uint64_t> preload_next{0};      // the next key to write in the preload phase
  std::atomic<int> in_flight{0};
  std::mutex mu;
  std::condition_variable idle_cv;
  std::vector<int> idle;  // open loop: clients free to take the next scheduled request

  explicit Run(const Options& o) : opt(o) {}
};

int64_t Nanos(TimePoint t) { return t.time_since_epoch().count(); }

struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<meta::v1::KV::Stub> kv;
  std::unique_ptr<meta::v1::Session::Stub> session;
  std::unique_ptr<meta::v1::Offset::Stub> offset;
  std::unique_ptr<etcdserverpb::KV::Stub> etcd;
};

// A writer id fresh on every run, whatever the seed: the service remembers (writer, sequence)
// pairs, and a rerun restarting at sequence 1 under an old id would be refused as stale.
uint64_t FreshWriterId(int index) {
  uint64_t id = std::random_device()();
  id = (id << 32) ^ static_cast<uint64_t>(SteadyClock::now().time_since_epoch().count());
  id ^= static_cast<uint64_t>(index) << 40;
  return id | 1;  // 0 would turn exactly-once off
}

// One client: one request in flight; its results are touched only by its own callback chain.
class Client {
 public:
  Client(Run& run, Connection& conn, int index)
      : run_(run),
        conn_(conn),
        index_(index),
        rng_(run.opt.seed * 1000003 + static_cast<uint64_t>(index)),
        writer_id_(FreshWriterId(index)) {
    std::uniform_int_distribution<int> letter('a', 'z');
    value_.resize(static_cast<size_t>(run.opt.value_size));
    for (char& c : value_) c = static_cast<char>(letter(rng_));
  }

  // Preload: write keys until every key of the key space exists; `done` once this client is out.
  void Preload(std::function<void()> done) {
    uint64_t k = run_.preload_next.fetch_add(1);
    if (k >= run_.opt.key_space) {
      done();
      return;
    }
    Call(kOpPut, Key(k, run_.opt.key_size), [this, done](const grpc::Status& s) {
      if (!s.ok()) {
        std::fprintf(stderr, "metabench: preload put failed: %s\n", s.error_message().c_str());
        Die();
      }
      Preload(done);
    });
  }

  // Starts one request, timed from `scheduled` (its start in open loop; now in closed loop).
  void Issue(TimePoint scheduled) {
    if (run_.opt.total != 0 && Nanos(scheduled) >= run_.measure_start.load() &&
        run_.measured_started.fetch_add(1) >= run_.opt.total) {
      run_.stopping = true;
    }
    if (run_.stopping) {
      Finish();
      return;
    }
    OpKind kind = NextKind();
    std::string key = Key(std::uniform_int_distribution<uint64_t>(0, run_.opt.key_space - 1)(rng_),
                          run_.opt.key_size);
    Call(kind, key, [this, kind, scheduled](const grpc::Status& s) {
      TimePoint now = SteadyClock::now();
      if (Nanos(scheduled) >= run_.measure_start.load() && Nanos(now) <= run_.measure_end.load()) {
        if (s.ok()) {
          latencies_[kind].push_back(static_cast<uint64_t>(Nanos(now) - Nanos(scheduled)));
        } else {
          auto& e = errors_[s.error_code()];
          if (e.first++ == 0) e.second = std::string(kOpNames[kind]) + ": " + s.error_message();
        }
      }
      if (run_.opt.rate > 0) {
        Finish();
      } else {
        Issue(SteadyClock::now());
      }
    });
  }

  const std::vector<uint64_t>& latencies(int kind) const { return latencies_[kind]; }
  const std::map<int, std::pair<uint64_t, std::string>>& errors() const { return errors_; }

 private:
  using Done = std::function<void(const grpc::Status&)>;

  OpKind NextKind() {
    switch (run_.opt.workload) {
      case Workload::kPut:
        return kOpPut;
      case Workload::kGet:
      case Workload::kSget:
        return kOpGet;
      case Workload::kMixed:
        return rng_() % 10 == 0 ? kOpPut : kOpGet;
      case Workload::kSession:
        return kOpSession;
      case Workload::kOffset:
        return kOpOffset;
    }
    return kOpPut;
  }

  // This request is over and no other follows from this client (stopping, or open loop).
  void Finish() {
    {
      std::lock_guard<std::mutex> lock(run_.mu);
      run_.idle.push_back(index_);
      --run_.in_flight;
    }
    run_.idle_cv.notify_all();
  }

  void Call(OpKind kind, const std::string& key, Done done) {
    ctx_ = std::make_unique<grpc::ClientContext>();
    ctx_->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    done_ = std::move(done);
    // The callback may start this client's next call, which replaces done_: move it out first.
    auto cb = [this](grpc::Status s) {
      Done done = std::move(done_);
      done(s);
    };
    bool serializable = run_.opt.workload == Workload::kSget;
    if (run_.opt.backend == Backend::kEtcd) {
      if (kind == kOpPut) {
        etcd_put_.set_key(key);
        etcd_put_.set_value(value_);
        conn_.etcd->async()->Put(ctx_.get(), &etcd_put_, &etcd_put_resp_, cb);
      } else {
        etcd_range_.set_key(key);
        etcd_range_.set_serializable(serializable);
        conn_.etcd->async()->Range(ctx_.get(), &etcd_range_, &etcd_range_resp_, cb);
      }
      return;
    }
    switch (kind) {
      case kOpPut:
        put_.mutable_write()->set_client_id(writer_id_);
        put_.mutable_write()->set_sequence(++sequence_);
        put_.set_key(key);
        put_.set_value(value_);
        conn_.kv->async()->Put(ctx_.get(), &put_, &put_resp_, cb);
        break;
      case kOpGet:
        get_.set_key(key);
        get_.set_consistency(serializable ? meta::v1::SERIALIZABLE : meta::v1::LINEARIZABLE);
        conn_.kv->async()->Get(ctx_.get(), &get_, &get_resp_, cb);
        break;
      case kOpSession: {
        session_.mutable_write()->set_client_id(writer_id_);
        session_.mutable_write()->set_sequence(++sequence_);
        session_.clear_upserts();
        for (int i = 0; i < run_.opt.batch; ++i) {
          auto* s = session_.add_upserts();
          s->set_client_id("bench-" + std::to_string(writer_id_ % 1000000) + "-" +
                           std::to_string(sessions_created_++));
          s->set_data(value_);
          s->set_expiry_interval_ms(3600 * 1000);
        }
        conn_.session->async()->Batch(ctx_.get(), &session_, &session_resp_, cb);
        break;
      }
      case kOpOffset: {
        offset_.mutable_write()->set_client_id(writer_id_);
        offset_.mutable_write()->set_sequence(++sequence_);
        offset_.set_group("bench-" + std::to_string(index_));
        offset_.clear_offsets();
        ++offset_value_;
        for (int i = 0; i < run_.opt.batch; ++i) {
          auto* c = offset_.add_offsets();
          c->set_topic("topic");
          c->set_partition(static_cast<uint32_t>(i));
          c->set_offset(offset_value_);
        }
        conn_.offset->async()->Commit(ctx_.get(), &offset_, &offset_resp_, cb);
        break;
      }
      default:
        break;
    }
  }

  Run& run_;
  Connection& conn_;
  int index_;
  std::mt19937_64 rng_;
  uint64_t writer_id_;
  uint64_t sequence_ = 0;
  uint64_t sessions_created_ = 0;
  uint64_t offset_value_ = 0;
  std::string value_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  Done done_;
  meta::v1::PutRequest put_;
  meta::v1::PutResponse put_resp_;
  meta::v1::GetRequest get_;
  meta::v1::GetResponse get_resp_;
  meta::v1::SessionBatchRequest session_;
  meta::v1::SessionBatchResponse session_resp_;
  meta::v1::CommitOffsetsRequest offset_;
  meta::v1::CommitOffsetsResponse offset_resp_;
  etcdserverpb::PutRequest etcd_put_;
  etcdserverpb::PutResponse etcd_put_resp_;
  etcdserverpb::RangeRequest etcd_range_;
  etcdserverpb::RangeResponse etcd_range_resp_;
  std::vector<uint64_t> latencies_[kOpKinds];
  std::map<int, std::pair<uint64_t, std::string>> errors_;  // code -> (count, first message)
};

struct Row {
  std::string op;
  uint64_t count = 0;
  double ops_per_s = 0;
  double items_per_s = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
};

Row Summarize(const std::string& op, std::vector<uint64_t>& lat, double seconds, int items) {
  Row r;
  r.op = op;
  r.count = lat.size();
  r.ops_per_s = static_cast<double>(r.count) / seconds;
  r.items_per_s = r.ops_per_s * items;
  if (lat.empty()) return r;
  std::sort(lat.begin(), lat.end());
  auto at = [&](double q) {
    size_t i = std::min(lat.size() - 1, static_cast<size_t>(q * static_cast<double>(lat.size())));
    return static_cast<double>(lat[i]) / 1e6;
  };
  r.p50_ms = at(0.50);
  r.p90_ms = at(0.90);
  r.p99_ms = at(0.99);
  r.p999_ms = at(0.999);
  r.max_ms = static_cast<double>(lat.back()) / 1e6;
  return r;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  meta::net::DisableAbslLockOrderTracking();
  Options opt = ParseFlags(argc, argv);
  FILE* table = opt.json ? stderr : stdout;
  std::fprintf(table,
               "metabench: backend=%s workload=%s endpoints=%zu conns=%d clients=%d rate=%s "
               "key-space=%llu key-size=%d value-size=%d batch=%d seed=%llu\n",
               opt.backend == Backend::kMeta ? "meta" : "etcd", opt.workload_name.c_str(),
               opt.endpoints.size(), opt.conns, opt.clients,
               opt.rate > 0 ? std::to_string(static_cast<uint64_t>(opt.rate)).c_str() : "closed",
               static_cast<unsigned long long>(opt.key_space), opt.key_size, opt.value_size,
               opt.batch, static_cast<unsigned long long>(opt.seed));

  std::vector<Connection> conns(static_cast<size_t>(opt.conns));
  for (int i = 0; i < opt.conns; ++i) {
    grpc::ChannelArguments args;
    // A distinct argument per channel keeps gRPC from sharing one TCP connection among them.
    args.SetInt("metabench.connection", i);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(64 << 20);
    auto& c = conns[static_cast<size_t>(i)];
    c.channel =
        grpc::CreateCustomChannel(opt.endpoints[static_cast<size_t>(i) % opt.endpoints.size()],
                                  grpc::InsecureChannelCredentials(), args);
    if (!c.channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      std::fprintf(stderr, "metabench: cannot connect to %s within 10 s\n",
                   opt.endpoints[static_cast<size_t>(i) % opt.endpoints.size()].c_str());
      return 1;
    }
    c.kv = meta::v1::KV::NewStub(c.channel);
    c.session = meta::v1::Session::NewStub(c.channel);
    c.offset = meta::v1::Offset::NewStub(c.channel);
    c.etcd = etcdserverpb::KV::NewStub(c.channel);
  }

  Run run(opt);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < opt.clients; ++i) {
    clients.push_back(std::make_unique<Client>(run, conns[static_cast<size_t>(i % opt.conns)], i));
  }
  auto wait_idle = [&](std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(run.mu);
    return run.idle_cv.wait_for(lock, limit, [&] { return run.in_flight == 0; });
  };

  bool reads = opt.workload == Workload::kGet || opt.workload == Workload::kSget ||
               opt.workload == Workload::kMixed;
  if (reads) {
    auto t0 = SteadyClock::now();
    run.in_flight = opt.clients;
    for (auto& c : clients) {
      c->Preload([&run] {
        {
          std::lock_guard<std::mutex> lock(run.mu);
          --run.in_flight;
        }
        run.idle_cv.notify_all();
      });
    }
    wait_idle(std::chrono::seconds(3600));
    std::fprintf(table, "metabench: preloaded %llu keys in %.1f s\n",
                 static_cast<unsigned long long>(opt.key_space),
                 std::chrono::duration<double>(SteadyClock::now() - t0).count());
  }

  // Load starts now; the measured window opens after the warm-up.
  auto start = SteadyClock::now();
  run.measure_start = Nanos(start + std::chrono::duration_cast<SteadyClock::duration>(
                                        std::chrono::duration<double>(opt.warmup_s)));
  run.in_flight = opt.clients;
  std::thread pacer;
  if (opt.rate > 0) {
    for (int i = 0; i < opt.clients; ++i) run.idle.push_back(i);
    run.in_flight = 0;
    pacer = std::thread([&] {
      auto interval = std::chrono::duration<double>(1.0 / opt.rate);
      for (uint64_t n = 0; !run.stopping; ++n) {
        auto due = start + std::chrono::duration_cast<SteadyClock::duration>(interval * n);
        std::this_thread::sleep_until(due);
        int c;
        {
          std::unique_lock<std::mutex> lock(run.mu);
          run.idle_cv.wait(lock, [&] { return !run.idle.empty() || run.stopping; });
          if (run.stopping) break;
          c = run.idle.back();
          run.idle.pop_back();
          ++run.in_flight;
        }
        clients[static_cast<size_t>(c)]->Issue(due);
      }
    });
  } else {
    for (auto& c : clients) c->Issue(SteadyClock::now());
  }

  std::this_thread::sleep_until(TimePoint(SteadyClock::duration(run.measure_start.load())));
  double server_cpu0 = ServerCpuSeconds(opt.server_pids);
  double client_cpu0 = ClientCpuSeconds();
  auto window_start = SteadyClock::now();
  if (opt.total == 0) {
    std::this_thread::sleep_until(window_start +
                                  std::chrono::duration_cast<SteadyClock::duration>(
                                      std::chrono::duration<double>(opt.duration_s)));
  } else {
    while (!run.stopping) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto window_end = SteadyClock::now();
  run.measure_end = Nanos(window_end);
  double server_cpu = ServerCpuSeconds(opt.server_pids) - server_cpu0;
  double client_cpu = ClientCpuSeconds() - client_cpu0;
  const auto [server_rss_mib, server_peak_mib] = ServerMemoryMib(opt.server_pids);
  run.stopping = true;
  run.idle_cv.notify_all();
  if (pacer.joinable()) pacer.join();
  if (!wait_idle(std::chrono::seconds(30))) {
    std::fprintf(stderr, "metabench: requests still in flight 30 s after the end; giving up\n");
    Die();
  }

  double seconds = std::chrono::duration<double>(window_end - window_start).count();
  int items =
      opt.workload == Workload::kSession || opt.workload == Workload::kOffset ? opt.batch : 1;
  std::vector<Row> rows;
  uint64_t ops = 0;
  for (int k = 0; k < kOpKinds; ++k) {
    std::vector<uint64_t> lat;
    for (auto& c : clients) lat.insert(lat.end(), c->latencies(k).begin(), c->latencies(k).end());
    if (lat.empty()) continue;
    rows.push_back(Summarize(kOpNames[k], lat, seconds, items));
    ops += rows.back().count;
  }
  std::map<int, std::pair<uint64_t, std::string>> errors;
  uint64_t error_count = 0;
  for (auto& c : clients) {
    for (const auto& [code, e] : c->errors()) {
      auto& mine = errors[code];
      if (mine.first == 0) mine.second = e.second;
      mine.first += e.first;
      error_count += e.first;
    }
  }

  std::fprintf(table, "%-14s %10s %12s %12s %9s %9s %9s %9s %9s\n", "op", "count", "ops/s",
               "items/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms");
  for (const auto& r : rows) {
    std::fprintf(table, "%-14s %10llu %12.0f %12.0f %9.3f %9.3f %9.3f %9.3f %9.3f\n", r.op.c_str(),
                 static_cast<unsigned long long>(r.count), r.ops_per_s, r.items_per_s, r.p50_ms,
                 r.p90_ms, r.p99_ms, r.p999_ms, r.max_ms);
  }
  double per_op = ops > 0 ? 1e6 / static_cast<double>(ops) : 0;
  std::fprintf(table, "window %.2f s; client CPU %.1f us/op", seconds, client_cpu * per_op);
  if (!opt.server_pids.empty()) {
    std::fprintf(table,
                 "; server CPU %.1f us/op (%zu processes, %.2f cores); server memory %.0f MiB "
                 "resident, %.0f MiB peak",
                 server_cpu * per_op, opt.server_pids.size(), server_cpu / seconds, server_rss_mib,
                 server_peak_mib);
  }
  std::fprintf(table, "\n");
  for (const auto& [code, e] : errors) {
    std::fprintf(table, "errors: %llu x code %d, first: %s\n",
                 static_cast<unsigned long long>(e.first), code, e.second.c_str());
  }

  if (opt.json) {
    std::ostringstream j;
    j << "{\"label\":" << JsonString(opt.label)
      << ",\"backend\":" << JsonString(opt.backend == Backend::kMeta ? "meta" : "etcd")
      << ",\"workload\":" << JsonString(opt.workload_name) << ",\"conns\":" << opt.conns
      << ",\"clients\":" << opt.clients << ",\"rate\":" << opt.rate
      << ",\"key_space\":" << opt.key_space << ",\"key_size\":" << opt.key_size
      << ",\"value_size\":" << opt.value_size << ",\"batch\":" << opt.batch
      << ",\"seed\":" << opt.seed << ",\"seconds\":" << seconds << ",\"ops\":" << ops
      << ",\"ops_per_s\":" << static_cast<double>(ops) / seconds
      << ",\"items_per_s\":" << static_cast<double>(ops) * items / seconds
      << ",\"client_cpu_us_per_op\":" << client_cpu * per_op;
    if (!opt.server_pids.empty()) {
      j << ",\"server_cpu_us_per_op\":" << server_cpu * per_op
        << ",\"server_rss_mib\":" << server_rss_mib
        << ",\"server_peak_rss_mib\":" << server_peak_mib;
    }
    j << ",\"errors\":" << error_count << ",\"ops_by_kind\":[";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      j << (i ? "," : "") << "{\"op\":" << JsonString(r.op) << ",\"count\":" << r.count
        << ",\"ops_per_s\":" << r.ops_per_s << ",\"p50_ms\":" << r.p50_ms
        << ",\"p90_ms\":" << r.p90_ms << ",\"p99_ms\":" << r.p99_ms << ",\"p999_ms\":" << r.p999_ms
        << ",\"max_ms\":" << r.max_ms << "}";
    }
    j << "]}";
    std::printf("%s\n", j.str().c_str());
  }
  return error_count > 0 || ops == 0 ? 1 : 0;
}
