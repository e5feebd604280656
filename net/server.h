// One metad process: the real runtime (RealEnv), the node (store::Node) on it, the gRPC transport
// to its peers and the gRPC server for clients and peers, on one listening address.
//
// Startup (DESIGN.md §5): open RocksDB and check that the data directory belongs to this node of
// this cluster; load every group (a fresh directory bootstraps from `members`; otherwise the
// membership on disk wins); connect to the peers; serve. Shutdown drains: new calls are refused,
// calls in flight get `grace` to finish, then the node stops (what is still waiting fails with
// ABORTED or UNAVAILABLE) and the server closes. Every acknowledged write was fsynced first, so a
// SIGKILL at any point loses nothing acknowledged.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/status.h"
#include "store/node.h"

namespace meta::net {

struct ServerOptions {
  std::string cluster_name = "meta";
  std::string data_dir;
  std::string listen_addr;  // host:port for clients and peers; port 0 picks a free one
  // The initial cluster: every member's id and address, this node's included (meta_addrs).
  std::map<NodeId, std::string> members;
  // initial_cluster_state = "existing": this node joins a running cluster that already added it
  // (metactl member add); `members` then only says where the others are.
  bool join = false;
  // node.id must be set; node.members and node.cluster_id are derived from the fields above.
  store::NodeOptions node;
  std::string log_level = "info";

  Status Validate() const;
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> Start(ServerOptions options);
  ~Server();  // Shutdown(0)

  // The port actually bound (useful with port 0).
  int port() const;
  NodeId id() const;

  // Drains and stops (see above). Idempotent; not from a gRPC or loop thread.
  void Shutdown(Duration grace);

  // Set once the node fail-stopped (an I/O error): the process should exit and be restarted.
  // Any thread.
  std::optional<Status> failure() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The cluster id carried by every Raft stream and frame: a stable hash of the cluster's name.
uint64_t ClusterId(std::string_view cluster_name);

// Turns off Abseil's lock-order tracking for the process. Debian builds Abseil with it on, and
// gRPC locks absl::Mutex on every call: the tracking's graph bookkeeping (GraphCycles) was ~5 % of
// a metad member's CPU under load. Our own code uses std::mutex, which it never checked. Mains
// call it first thing (metad, metabench); tests keep the checks.
void DisableAbslLockOrderTracking();

}  // namespace meta::net
