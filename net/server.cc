#include "net/server.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <future>
#include <random>
#include <thread>

#include "core/hash.h"
#include "core/limits.h"
#include "core/log.h"
#include "net/api_service.h"
#include "net/grpc_transport.h"
#include "net/real_env.h"

namespace meta::net {

uint64_t ClusterId(std::string_view cluster_name) { return HashBytes(cluster_name) | 1; }

Status ServerOptions::Validate() const {
  if (cluster_name.empty()) return InvalidArgumentError("cluster_name must not be empty");
  if (data_dir.empty()) return InvalidArgumentError("data_dir must be set");
  if (listen_addr.find(':') == std::string::npos) {
    return InvalidArgumentError("listen_addr must be host:port, not '" + listen_addr + "'");
  }
  if (node.id == 0) return InvalidArgumentError("node id must not be 0");
  if (!members.contains(node.id)) {
    return InvalidArgumentError("meta_addrs must list this node (" + std::to_string(node.id) + ")");
  }
  for (const auto& [id, addr] : members) {
    if (id == 0) return InvalidArgumentError("meta_addrs: node id 0 is not allowed");
    if (addr.find(':') == std::string::npos) {
      return InvalidArgumentError("meta_addrs: address of node " + std::to_string(id) +
                                  " must be host:port, not '" + addr + "'");
    }
  }
  return Status::Ok();
}

struct Server::Impl {
  ServerOptions options;
  uint64_t cluster_id = 0;
  std::unique_ptr<RealEnv> env;
  std::unique_ptr<GrpcTransport> transport;
  std::unique_ptr<store::Node> node;
  ApiContext api;
  std::vector<std::unique_ptr<ApiService>> services;
  std::unique_ptr<grpc::ServerCompletionQueue> cq;  // polled by the loop thread; outlives server
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::map<NodeId, std::string> replicated;  // loop thread: addresses from MemberUpdate commands
  TimerId refresh_timer;
  mutable std::mutex mu;
  std::optional<Status> failure;  // guarded by mu
  bool shut_down = false;
  bool started = false;  // the loop thread runs

  // Runs `fn` on the loop and waits for it.
  template <class F>
  auto OnLoop(F fn) {
    std::promise<decltype(fn())> done;
    auto result = done.get_future();
    env->Post([&] { done.set_value(fn()); });
    return result.get();
  }

  std::string AddressOf(NodeId id) const {
    if (auto it = options.members.find(id); it != options.members.end()) return it->second;
    if (auto it = replicated.find(id); it != replicated.end()) return it->second;
    return "";
  }

  std::map<NodeId, std::string> Members() const {
    std::map<NodeId, std::string> all = replicated;
    for (const auto& [id, addr] : options.members) all[id] = addr;
    return all;
  }

  // Loop: notices a fail-stop, and learns the addresses of members added at runtime.
  void Refresh() {
    if (!node->failure().ok()) {
      std::lock_guard lock(mu);
      failure = node->failure();
      return;
    }
    Result<std::map<uint64_t, std::string>> m =
        node->state_machine(store::kMetadataGroup).Members();
    if (m.ok()) {
      for (const auto& [id, addr] : *m) {
        if (id == options.node.id || options.members.contains(id)) continue;
        if (replicated[id] != addr) transport->SetPeerAddress(id, addr);
        replicated[id] = addr;
      }
    }
    refresh_timer = env->After(Millis(200), [this] { Refresh(); });
  }

  void Shutdown(Duration grace) {
    if (shut_down) return;
    shut_down = true;
    api.draining.store(true);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::nanoseconds(grace.nanos());
    while (api.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (started) {
      OnLoop([this] {
        env->Cancel(refresh_timer);
        if (node != nullptr) node->Stop();  // fails every waiting call; their fibers answer
        transport->Stop();
        return 0;
      });
    }
    if (server != nullptr) {
      // API calls have all been answered by now (the node failed what was waiting); what is
      // left are peers' Raft streams, which the deadline cancels. The loop keeps polling the
      // queue meanwhile, so the cancellations are seen.
      server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    }
    // Unwinds what is left (an unwound call answers UNAVAILABLE), then drains the queue: every
    // call and stream still open is freed there.
    if (env != nullptr) env->Stop();
    if (server != nullptr) server->Wait();
    // Applied state is written without the WAL: flushing it spares the next start replaying the
    // log since the last flush (a crash needs no flush, it only makes that replay longer).
    if (node != nullptr && grace > Duration::Zero()) {
      if (Status st = node->engine().FlushAppliedState(); !st.ok()) {
        env->log().warn("flushing at shutdown: {}", st.ToString());
      }
    }
    node.reset();
  }
};

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options) {
  RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>();
  Impl& s = *impl;
  s.options = std::move(options);
  s.cluster_id = ClusterId(s.options.cluster_name);
  store::NodeOptions& no = s.options.node;
  no.cluster_id = s.cluster_id;
  no.members.clear();
  no.join = s.options.join;
  for (const auto& [id, addr] : s.options.members) no.members.push_back(id);

  std::error_code ec;
  std::filesystem::create_directories(s.options.data_dir, ec);
  if (ec) {
    return InvalidArgumentError("data_dir '" + s.options.data_dir +
                                "' cannot be created: " + ec.message());
  }
  auto logger = MakeNodeLogger(no.id, {StderrSink()});
  logger->set_level(spdlog::level::from_str(s.options.log_level));
  s.env = std::make_unique<RealEnv>(no.id, Random(std::random_device{}()), logger);
  s.env->set_storage(StorageEnv{nullptr, s.options.data_dir});
  s.transport = std::make_unique<GrpcTransport>(*s.env, TransportOptions{no.id, s.cluster_id});
  s.env->set_transport(s.transport.get());
  for (const auto& [id, addr] : s.options.members) {
    if (id != no.id) s.transport->SetPeerAddress(id, addr);
  }
  s.api.env = s.env.get();
  s.api.transport = s.transport.get();
  s.api.cluster_id = s.cluster_id;
  s.api.address_of = [&s](NodeId id) { return s.AddressOf(id); };
  s.api.members = [&s] { return s.Members(); };
  s.services = MakeApiServices(s.api);
  std::unique_ptr<Server> server(new Server(std::move(impl)));
  s.env->Start();
  s.started = true;

  // The node opens before the port is bound: until it is open, clients and peers are refused
  // rather than kept waiting.
  Status opened = s.OnLoop([&]() -> Status {
    ASSIGN_OR_RETURN(s.node, store::Node::Open(*s.env, no));
    return s.node->engine().CheckIdentity(s.options.cluster_name, no.id);
  });
  if (!opened.ok()) return opened.Annotate("opening " + s.options.data_dir);

  // Every service is async, on one completion queue that the loop thread polls: no gRPC thread
  // of ours handles a call or a frame.
  grpc::ServerBuilder builder;
  builder.AddListeningPort(s.options.listen_addr, grpc::InsecureServerCredentials(), &s.port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxRequestBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(kMaxRequestBytes));
  builder.RegisterService(s.transport->service());
  for (auto& svc : s.services) builder.RegisterService(svc->service());
  s.cq = builder.AddCompletionQueue();
  s.server = builder.BuildAndStart();
  if (s.server == nullptr || s.port == 0) {
    return UnavailableError("cannot listen on " + s.options.listen_addr +
                            " (address in use, or not an address of this machine?)");
  }
  s.OnLoop([&] {
    s.env->DriveCompletionQueue(s.cq.get());
    s.api.node = s.node.get();
    s.transport->Start(s.cq.get());
    for (auto& svc : s.services) svc->Start(s.cq.get());
    s.node->Start();
    s.Refresh();
    return 0;
  });
  s.env->log().info("node {} of cluster '{}' serving on {} (port {}), data in {}", no.id,
                    s.options.cluster_name, s.options.listen_addr, s.port, s.options.data_dir);
  return server;
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Shutdown(Duration::Zero()); }

int Server::port() const { return impl_->port; }

NodeId Server::id() const { return impl_->options.node.id; }

void Server::Shutdown(Duration grace) { impl_->Shutdown(grace); }

std::optional<Status> Server::failure() const {
  std::lock_guard lock(impl_->mu);
  return impl_->failure;
}

void DisableAbslLockOrderTracking() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace meta::net
