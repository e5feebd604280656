// The real runtime: one event-loop thread per node, timers on the monotonic clock. Post() may be
// called from any thread (gRPC completion-queue threads decode and Post into the loop); everything
// else — After, Cancel, fibers — belongs to the loop thread. Stop() drains nothing: queued tasks
// are dropped, unfinished fibers are unwound on the loop thread, then the thread is joined.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "core/env.h"

namespace meta::net {

class RealEnv final : public Env {
 public:
  RealEnv(NodeId node_id, Random random, std::shared_ptr<spdlog::logger> logger);
  ~RealEnv() override;  // calls Stop()

  // Starts the loop thread. Once.
  void Start();
  // Stops and joins the loop thread; unwinds fibers there. Idempotent; not from the loop thread.
  void Stop();
  bool OnLoopThread() const { return std::this_thread::get_id() == loop_thread_id_; }

  Instant Now() const override;
  TimerId After(Duration delay, Task fn) override;
  bool Cancel(TimerId id) override;
  void Post(Task fn) override;
  int64_t UnixNanos() const override;
  Transport* transport() override { return transport_; }
  // Installs the node's transport (before Start).
  void set_transport(Transport* transport) { transport_ = transport; }

 private:
  void Loop();
  // Moves due timers into `ready`; returns how long the loop may sleep.
  Duration CollectDueTimers(std::deque<Task>& ready);

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                                // guarded by mu_
  std::deque<Task> tasks_;                               // guarded by mu_
  std::map<std::pair<Instant, uint64_t>, Task> timers_;  // guarded by mu_
  std::map<uint64_t, Instant> timer_deadlines_;          // guarded by mu_
  uint64_t next_timer_ = 1;                              // guarded by mu_
  std::thread thread_;
  std::thread::id loop_thread_id_;
  Transport* transport_ = nullptr;
};

}  // namespace meta::net
