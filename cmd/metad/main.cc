// metad: one node of the Meta Service.
//
//   metad --config node1.toml
//
// The config is TOML (see deploy/local/node1.toml for every key). Unknown keys, wrong types and
// out-of-range values are refused at startup with the key's name. SIGTERM or SIGINT drains and
// exits 0; a node that fail-stops on an I/O error exits 1 so its supervisor restarts it.
#include <signal.h>
#include <toml++/toml.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <set>
#include <sstream>
#include <string>

#include "net/server.h"

namespace {

using meta::InvalidArgumentError;
using meta::Result;
using meta::Status;

// Reads one TOML table, refusing keys it does not know.
class Table {
 public:
  Table(const toml::table* t, std::string path) : t_(t), path_(std::move(path)) {}

  template <class T>
  Status Get(const std::string& key, T& out) {
    known_.insert(key);
    if (t_ == nullptr) return Status::Ok();
    const toml::node* n = t_->get(key);
    if (n == nullptr) return Status::Ok();
    if constexpr (std::is_same_v<T, std::string>) {
      if (!n->is_string()) return InvalidArgumentError(Name(key) + " must be a string");
      out = n->as_string()->get();
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!n->is_boolean()) return InvalidArgumentError(Name(key) + " must be true or false");
      out = n->as_boolean()->get();
    } else {
      if (!n->is_integer()) return InvalidArgumentError(Name(key) + " must be an integer");
      const int64_t v = n->as_integer()->get();
      if (v < 0 || static_cast<uint64_t>(v) > std::numeric_limits<T>::max()) {
        return InvalidArgumentError(Name(key) + " = " + std::to_string(v) + " is out of range");
      }
      out = static_cast<T>(v);
    }
    return Status::Ok();
  }

  // Fails on any key not asked for through Get (or listed in `also`).
  Status CheckUnknown(std::set<std::string> also = {}) const {
    if (t_ == nullptr) return Status::Ok();
    for (const auto& [k, v] : *t_) {
      const std::string key(k.str());
      if (!known_.contains(key) && !also.contains(key)) {
        return InvalidArgumentError("unknown config key " + Name(key));
      }
    }
    return Status::Ok();
  }

  std::string Name(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  const toml::table* t_;
  std::string path_;
  std::set<std::string> known_;
};

Result<meta::net::ServerOptions> LoadConfig(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    return InvalidArgumentError(path + ": " + std::string(e.description()) + " at " + where.str());
  }
  meta::net::ServerOptions o;
  meta::store::NodeOptions& n = o.node;
  Table top(&root, "");
  RETURN_IF_ERROR(top.Get("cluster_name", o.cluster_name));
  RETURN_IF_ERROR(top.Get("node_id", n.id));
  RETURN_IF_ERROR(top.Get("data_dir", o.data_dir));
  RETURN_IF_ERROR(top.Get("listen_addr", o.listen_addr));
  RETURN_IF_ERROR(top.Get("log_level", o.log_level));
  std::string state = "new";
  RETURN_IF_ERROR(top.Get("initial_cluster_state", state));
  if (state != "new" && state != "existing") {
    return InvalidArgumentError("initial_cluster_state must be \"new\" or \"existing\"");
  }
  o.join = state == "existing";
  RETURN_IF_ERROR(top.CheckUnknown({"meta_addrs", "groups", "raft", "limits", "storage"}));

  const toml::table* addrs = root["meta_addrs"].as_table();
  if (addrs == nullptr)
    return InvalidArgumentError("meta_addrs must be a table: node id = \"host:port\"");
  for (const auto& [k, v] : *addrs) {
    const std::string key(k.str());
    uint64_t id = 0;
    auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || ptr != key.data() + key.size() || id == 0) {
      return InvalidArgumentError("meta_addrs." + key + ": keys must be node ids (1, 2, ...)");
    }
    if (!v.is_string()) return InvalidArgumentError("meta_addrs." + key + " must be a string");
    o.members[id] = v.as_string()->get();
  }

  Table groups(root["groups"].as_table(), "groups");
  RETURN_IF_ERROR(groups.Get("offset", n.offset_groups));
  RETURN_IF_ERROR(groups.Get("data", n.data_groups));
  RETURN_IF_ERROR(groups.CheckUnknown());

  // Raft timing in milliseconds, converted to ticks of tick_ms.
  uint64_t tick_ms = 10, heartbeat_ms = 250, election_ms = 300;
  Table raft(root["raft"].as_table(), "raft");
  RETURN_IF_ERROR(raft.Get("tick_ms", tick_ms));
  RETURN_IF_ERROR(raft.Get("heartbeat_ms", heartbeat_ms));
  RETURN_IF_ERROR(raft.Get("election_timeout_ms", election_ms));
  RETURN_IF_ERROR(raft.Get("snapshot_entries", n.snapshot_entries));
  RETURN_IF_ERROR(raft.Get("lease_reads", n.lease_reads));
  RETURN_IF_ERROR(raft.CheckUnknown());
  if (tick_ms == 0 || heartbeat_ms < tick_ms || election_ms <= heartbeat_ms) {
    return InvalidArgumentError("raft: need 0 < tick_ms <= heartbeat_ms < election_timeout_ms");
  }
  n.tick_interval = meta::Millis(static_cast<int64_t>(tick_ms));
  n.heartbeat_ticks = static_cast<int>(heartbeat_ms / tick_ms);
  n.election_ticks = static_cast<int>((election_ms + tick_ms - 1) / tick_ms);

  uint64_t write_timeout_ms = 30000, slow_write_ms = 1000;
  Table limits(root["limits"].as_table(), "limits");
  RETURN_IF_ERROR(limits.Get("write_timeout_ms", write_timeout_ms));
  RETURN_IF_ERROR(limits.Get("slow_write_ms", slow_write_ms));
  RETURN_IF_ERROR(limits.CheckUnknown());
  n.write_timeout = meta::Millis(static_cast<int64_t>(write_timeout_ms));
  n.slow_write = meta::Millis(static_cast<int64_t>(slow_write_ms));

  uint64_t max_wal_mb = n.engine.max_wal_bytes >> 20;
  Table storage(root["storage"].as_table(), "storage");
  RETURN_IF_ERROR(storage.Get("max_wal_mb", max_wal_mb));
  // Memtable sizes (store/engine.h says why they differ).
  struct Memtable {
    const char* key;
    size_t& bytes;
  };
  for (const Memtable& m : {Memtable{"metadata_memtable_mb", n.engine.metadata_memtable_bytes},
                            Memtable{"offset_memtable_mb", n.engine.offset_memtable_bytes},
                            Memtable{"data_memtable_mb", n.engine.data_memtable_bytes},
                            Memtable{"log_memtable_mb", n.engine.log_memtable_bytes}}) {
    uint64_t mb = m.bytes >> 20;
    RETURN_IF_ERROR(storage.Get(m.key, mb));
    if (mb == 0 || mb > 4096) {
      return InvalidArgumentError(std::string("storage.") + m.key + " must be in 1..4096");
    }
    m.bytes = static_cast<size_t>(mb) << 20;
  }
  RETURN_IF_ERROR(storage.CheckUnknown());
  if (max_wal_mb == 0 || max_wal_mb > (1 << 20)) {
    return InvalidArgumentError("storage.max_wal_mb must be in 1..1048576");
  }
  n.engine.max_wal_bytes = max_wal_mb << 20;

  if (o.log_level != "trace" && o.log_level != "debug" && o.log_level != "info" &&
      o.log_level != "warn" && o.log_level != "error") {
    return InvalidArgumentError("log_level must be trace, debug, info, warn or error");
  }
  for (const auto& [id, addr] : o.members) n.members.push_back(id);
  RETURN_IF_ERROR(n.Validate().Annotate("config"));
  RETURN_IF_ERROR(o.Validate().Annotate("config"));
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  meta::net::DisableAbslLockOrderTracking();
  std::string config;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config = argv[++i];
    } else if (a.starts_with("--config=")) {
      config = a.substr(9);
    } else {
      std::cerr << "usage: metad --config FILE.toml\n";
      return 2;
    }
  }
  if (config.empty()) {
    std::cerr << "usage: metad --config FILE.toml\n";
    return 2;
  }
  Result<meta::net::ServerOptions> options = LoadConfig(config);
  if (!options.ok()) {
    std::cerr << "metad: " << options.status() << "\n";
    return 2;
  }
  // Signals are taken synchronously by this thread: block them before any other thread starts,
  // so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Result<std::unique_ptr<meta::net::Server>> server = meta::net::Server::Start(*options);
  if (!server.ok()) {
    std::cerr << "metad: " << server.status() << "\n";
    return 1;
  }
  for (;;) {
    timespec wait{0, 200 * 1000 * 1000};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) {
      std::cerr << "metad: " << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ", draining\n";
      (*server)->Shutdown(meta::Seconds(5));
      return 0;
    }
    if (std::optional<Status> failed = (*server)->failure()) {
      std::cerr << "metad: fail-stop: " << *failed << "\n";
      (*server)->Shutdown(meta::Duration::Zero());
      return 1;
    }
  }
}
