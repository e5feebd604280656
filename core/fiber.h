// Fibers: cooperative, stackful coroutines (Boost.Context) on one Env's loop. They let drivers be
// written as straight-line code (`propose; wait for apply; reply`, `loop { sleep; scan; propose
// }`).
//
// Rules:
// - A fiber runs only on its Env's loop and only switches at Sleep/Yield/Future::Get. Code that
//   changes a state machine (raft/, store/ apply) never suspends.
// - Nothing keeps a pointer or view into mutable state across a suspension point.
// - Every wake-up goes through Env::Post, so a wake never re-enters the code that caused it.
// - Cancellation is sticky: once a fiber is cancelled, every suspension point returns CANCELLED at
//   once; fiber::Cancelled() lets loops notice between suspension points.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/env.h"
#include "core/status.h"

namespace meta {

using FiberId = uint64_t;

// Why a suspended fiber was resumed.
enum class WakeReason { kSignal, kTimer, kCancelled };

class FiberScheduler {
 public:
  explicit FiberScheduler(Env& env);
  ~FiberScheduler();
  FiberScheduler(const FiberScheduler&) = delete;
  FiberScheduler& operator=(const FiberScheduler&) = delete;

  // Creates a fiber that starts on a later loop turn (never inside the caller). Loop only.
  FiberId Spawn(std::string name, std::function<void()> body);

  // Requests cancellation; a suspended fiber wakes with CANCELLED. False if no such live fiber.
  bool Cancel(FiberId id);

  // Fibers spawned and not yet finished.
  size_t live() const { return fibers_.size(); }
  Env& env() { return env_; }

  // Unwinds and destroys every unfinished fiber (their destructors run). Not from inside a fiber.
  void Shutdown();

  struct Fiber;  // defined in fiber.cc

  // A one-shot handle that resumes one particular suspension of one fiber. Copyable; waking a
  // fiber that has since moved on (or finished), or whose scheduler is gone (its process died in
  // the simulator), is a no-op, so stale wakers are harmless.
  class Waker {
   public:
    Waker() = default;
    // Resumes the fiber on a later loop turn (via Env::Post). Callable from anywhere on the loop.
    void Wake(WakeReason reason) const;
    // Resumes the fiber right now. Only from loop-level code such as a timer callback.
    void WakeFromLoop(WakeReason reason) const;

   private:
    friend class FiberScheduler;
    Waker(std::shared_ptr<FiberScheduler*> scheduler, FiberId id, uint64_t generation)
        : scheduler_(std::move(scheduler)), id_(id), generation_(generation) {}
    FiberScheduler* scheduler() const { return scheduler_ ? *scheduler_ : nullptr; }
    std::shared_ptr<FiberScheduler*> scheduler_;  // null once the scheduler is destroyed
    FiberId id_ = 0;
    uint64_t generation_ = 0;
  };

  // Building blocks for suspension points (Sleep, Future::Get). Current fiber only:
  // PrepareWait() returns the waker for the next suspension; Wait() suspends until it fires.
  static Waker PrepareWait();
  static WakeReason Wait();

 private:
  void Start(Fiber* fiber);
  void Resume(Fiber* fiber);
  void WakeNow(FiberId id, uint64_t generation, WakeReason reason);

  Env& env_;
  std::shared_ptr<FiberScheduler*> self_;  // what wakers hold; cleared on destruction
  FiberId next_id_ = 1;
  std::map<FiberId, std::unique_ptr<Fiber>> fibers_;
};

namespace fiber {

// True when called from inside a fiber.
bool InFiber();
// The running fiber's id and name; CHECK-fails outside a fiber.
FiberId CurrentId();
const std::string& CurrentName();
// The Env the running fiber belongs to; CHECK-fails outside a fiber.
Env& CurrentEnv();
// Node id for log lines: the running fiber's Env, else the thread's current Env, else 0.
NodeId CurrentNodeId();

// Suspends the calling fiber for `d` of its Env's time. OK, or CANCELLED if cancelled.
Status Sleep(Duration d);
// Lets every task already queued run, then continues. OK, or CANCELLED if cancelled.
Status Yield();
// Whether the calling fiber has been cancelled.
bool Cancelled();

}  // namespace fiber
}  // namespace meta
