// The real runtime: one event-loop thread per node, timers on the monotonic clock. Post() may be
// called from any thread; everything else — After, Cancel, fibers — belongs to the loop thread.
// Stop() drains nothing: queued tasks are dropped, unfinished fibers are unwound on the loop
// thread, then the thread is joined.
//
// The loop can also be gRPC's poller: given a completion queue, it waits in that
// queue (not on a condition variable), so a request or a Raft frame that arrives is read from the
// socket by the loop thread itself and handled there, with no thread hand-off on the way in or
// out. Every operation started on the queue carries a CqTag, whose Done runs on the loop thread.
// A Post from another thread wakes the queue with an alarm. At Stop, after the fibers are unwound,
// the loop shuts the queue down and runs every remaining tag with its outcome, so the owner of a
// tag may free it then; the gRPC server that feeds the queue must be shut down before Stop.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "core/env.h"

namespace grpc {
class Alarm;
class CompletionQueue;
}  // namespace grpc

namespace meta::net {

// What a gRPC operation started on the loop's completion queue reports to. Loop thread.
class CqTag {
 public:
  virtual void Done(bool ok) = 0;

 protected:
  ~CqTag() = default;
};

// A tag that calls `fn(ok)`: for objects that have more than one kind of operation in flight.
template <class F>
class CqCallback final : public CqTag {
 public:
  explicit CqCallback(F fn) : fn_(std::move(fn)) {}
  void Done(bool ok) override { fn_(ok); }

 private:
  F fn_;
};

class RealEnv final : public Env {
 public:
  RealEnv(NodeId node_id, Random random, std::shared_ptr<spdlog::logger> logger);
  ~RealEnv() override;  // calls Stop()

  // Makes the loop thread the poller of `cq` (see above) from its next turn. Once; before Start
  // or on the loop thread. `cq` outlives Stop.
  void DriveCompletionQueue(grpc::CompletionQueue* cq);
  // Starts the loop thread. Once.
  void Start();
  // Stops and joins the loop thread; unwinds fibers there. Idempotent; not from the loop thread.
  void Stop();
  bool OnLoopThread() const { return std::this_thread::get_id() == loop_thread_id_; }
  // True once Stop began draining the completion queue: a tag's Done must then only release
  // what it holds and start no new operation. Loop thread.
  bool stopping() const { return draining_; }

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
  // One turn of the completion-queue loop: waits up to `wait` for the first event, then takes
  // what else is ready at once (bounded), running each tag.
  void PollQueue(Duration wait);
  void DrainQueue();
  // Wakes the loop: the condition variable, or the queue's alarm. Called after adding work.
  void Wake();
  // Moves due timers into `ready`; returns how long the loop may sleep.
  Duration CollectDueTimers(std::deque<Task>& ready);

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                                // guarded by mu_
  std::deque<Task> tasks_;                               // guarded by mu_
  std::map<std::pair<Instant, uint64_t>, Task> timers_;  // guarded by mu_
  std::map<uint64_t, Instant> timer_deadlines_;          // guarded by mu_
  uint64_t next_timer_ = 1;                              // guarded by mu_
  grpc::CompletionQueue* cq_ = nullptr;      // set under mu_ by the loop thread (or before Start)
  std::unique_ptr<grpc::Alarm> wake_alarm_;  // likewise
  bool wake_armed_ = false;  // guarded by mu_: the alarm is set and its tag not yet taken
  bool draining_ = false;    // loop thread
  std::thread thread_;
  std::thread::id loop_thread_id_;
  Transport* transport_ = nullptr;
};

}  // namespace meta::net
