// Promise<T> / Future<T> for fibers on one Env's loop. Future::Get() suspends only the calling
// fiber; the loop and other fibers keep running. Not thread-safe: to complete a promise from
// another thread, Env::Post a task that does it.
//
//   Promise<int> p;
//   Future<int> f = p.GetFuture();
//   env.fibers().Spawn("waiter", [f] { Result<int> r = f.Get(Seconds(1)); ... });
//   ...
//   p.Set(42);  // the waiter resumes on a later loop turn
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "core/env.h"
#include "core/fiber.h"
#include "core/status.h"

namespace meta {
namespace internal {

template <class T>
struct FutureState {
  std::optional<Result<T>> result;
  std::vector<FiberScheduler::Waker> waiters;
  std::vector<std::function<void(const Result<T>&)>> callbacks;
};

}  // namespace internal

template <class T>
class Future {
 public:
  Future() = default;

  bool valid() const { return state_ != nullptr; }
  bool IsReady() const { return state_ && state_->result.has_value(); }

  // Waits for the result. Inside a fiber only (unless ready). CANCELLED if the fiber is cancelled.
  Result<T> Get() const { return GetUntil(Duration::Max()); }

  // As Get(), but DEADLINE_EXCEEDED once `timeout` has passed without a result.
  Result<T> Get(Duration timeout) const { return GetUntil(timeout); }

  // Runs `fn(result)` once the result is set: right away if it is, else inside Promise::Set.
  // `fn` must not suspend.
  void OnReady(std::function<void(const Result<T>&)> fn) const {
    CHECK(valid());
    if (state_->result) {
      fn(*state_->result);
    } else {
      state_->callbacks.push_back(std::move(fn));
    }
  }

 private:
  template <class>
  friend class Promise;
  explicit Future(std::shared_ptr<internal::FutureState<T>> s) : state_(std::move(s)) {}

  Result<T> GetUntil(Duration timeout) const {
    CHECK(valid()) << "Get() on an empty Future";
    if (state_->result) return *state_->result;
    if (fiber::Cancelled()) return CancelledError("fiber cancelled");
    FiberScheduler::Waker waker = FiberScheduler::PrepareWait();
    state_->waiters.push_back(waker);
    TimerId timer;
    if (timeout != Duration::Max()) {
      timer =
          fiber::CurrentEnv().After(timeout, [waker] { waker.WakeFromLoop(WakeReason::kTimer); });
    }
    const WakeReason reason = FiberScheduler::Wait();
    if (timer.valid()) fiber::CurrentEnv().Cancel(timer);
    // A result that arrived alongside a timeout still counts.
    if (state_->result) return *state_->result;
    if (reason == WakeReason::kCancelled) return CancelledError("fiber cancelled");
    return DeadlineExceededError("no result within " + timeout.ToString());
  }

  std::shared_ptr<internal::FutureState<T>> state_;
};

template <class T>
class Promise {
 public:
  Promise() : state_(std::make_shared<internal::FutureState<T>>()) {}
  Promise(Promise&&) noexcept = default;
  Promise& operator=(Promise&& other) noexcept {
    Abandon();
    state_ = std::move(other.state_);
    return *this;
  }
  Promise(const Promise&) = delete;
  Promise& operator=(const Promise&) = delete;
  // A promise dropped without a value completes its future with CANCELLED, so no waiter hangs.
  ~Promise() { Abandon(); }

  Future<T> GetFuture() const { return Future<T>(state_); }
  bool IsSet() const { return state_ && state_->result.has_value(); }

  // Completes the future. Exactly once.
  void Set(Result<T> result) {
    CHECK(state_ && !state_->result) << "Promise set twice";
    state_->result.emplace(std::move(result));
    for (const auto& w : state_->waiters) w.Wake(WakeReason::kSignal);
    state_->waiters.clear();
    auto callbacks = std::move(state_->callbacks);
    for (auto& fn : callbacks) fn(*state_->result);
  }

 private:
  void Abandon() {
    if (state_ && !state_->result) Set(CancelledError("promise abandoned without a result"));
  }

  std::shared_ptr<internal::FutureState<T>> state_;
};

}  // namespace meta
