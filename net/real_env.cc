#include "net/real_env.h"

#include <pthread.h>

#include <chrono>

#include "core/check.h"

namespace meta::net {
namespace {

Instant MonotonicNow() {
  return Instant::FromNanos(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::steady_clock::now().time_since_epoch())
                                .count());
}

}  // namespace

RealEnv::RealEnv(NodeId node_id, Random random, std::shared_ptr<spdlog::logger> logger)
    : Env(node_id, random, std::move(logger)) {}

RealEnv::~RealEnv() { Stop(); }

void RealEnv::Start() {
  CHECK(!thread_.joinable()) << "RealEnv started twice";
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "meta-loop");  // for top -H and perf
    Loop();
  });
  loop_thread_id_ = thread_.get_id();
}

void RealEnv::Stop() {
  if (!thread_.joinable()) return;
  CHECK(!OnLoopThread()) << "RealEnv::Stop from its own loop thread";
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

Instant RealEnv::Now() const { return MonotonicNow(); }

int64_t RealEnv::UnixNanos() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TimerId RealEnv::After(Duration delay, Task fn) {
  const Instant deadline = Now() + (delay < Duration::Zero() ? Duration::Zero() : delay);
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    id = next_timer_++;
    timers_.emplace(std::make_pair(deadline, id), std::move(fn));
    timer_deadlines_.emplace(id, deadline);
  }
  wake_.notify_one();
  return TimerId{id};
}

bool RealEnv::Cancel(TimerId id) {
  std::lock_guard lock(mu_);
  auto it = timer_deadlines_.find(id.value);
  if (it == timer_deadlines_.end()) return false;
  timers_.erase(std::make_pair(it->second, id.value));
  timer_deadlines_.erase(it);
  return true;
}

void RealEnv::Post(Task fn) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(fn));
  }
  wake_.notify_one();
}

Duration RealEnv::CollectDueTimers(std::deque<Task>& ready) {
  const Instant now = Now();
  while (!timers_.empty()) {
    auto it = timers_.begin();
    if (it->first.first > now) return it->first.first - now;
    ready.push_back(std::move(it->second));
    timer_deadlines_.erase(it->first.second);
    timers_.erase(it);
  }
  return Seconds(3600);
}

void RealEnv::Loop() {
  ScopedCurrent scope(this);
  std::deque<Task> ready;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (stopping_) break;
        const Duration wait = CollectDueTimers(ready);
        // Tasks posted before this turn run first, then timers that are due, in deadline order.
        while (!tasks_.empty()) {
          ready.push_front(std::move(tasks_.back()));
          tasks_.pop_back();
        }
        if (!ready.empty()) break;
        wake_.wait_for(lock, std::chrono::nanoseconds(wait.nanos()));
      }
      if (stopping_) break;
    }
    while (!ready.empty()) {
      Task task = std::move(ready.front());
      ready.pop_front();
      task();
    }
  }
  ready.clear();
  ShutdownFibers();
  std::lock_guard lock(mu_);
  tasks_.clear();
  timers_.clear();
  timer_deadlines_.clear();
}

}  // namespace meta::net
