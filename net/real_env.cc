#include "net/real_env.h"

#include <grpcpp/alarm.h>
#include <grpcpp/completion_queue.h>
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

// The alarm's tag: it only wakes the loop, whose next turn takes the posted work.
char kWakeTag;

// Completion-queue events handled in a row before the loop looks at its tasks and timers again.
// Events are taken back to back first so that a turn's work (Raft's Ready, one fsync) covers all
// of them.
constexpr int kMaxEventsPerTurn = 256;

gpr_timespec DeadlineIn(Duration wait) {
  if (wait <= Duration::Zero()) return gpr_time_0(GPR_CLOCK_MONOTONIC);
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                      gpr_time_from_nanos(wait.nanos(), GPR_TIMESPAN));
}

}  // namespace

RealEnv::RealEnv(NodeId node_id, Random random, std::shared_ptr<spdlog::logger> logger)
    : Env(node_id, random, std::move(logger)) {}

RealEnv::~RealEnv() { Stop(); }

void RealEnv::DriveCompletionQueue(grpc::CompletionQueue* cq) {
  CHECK(!thread_.joinable() || OnLoopThread()) << "DriveCompletionQueue from another thread";
  CHECK(cq_ == nullptr) << "RealEnv drives one completion queue";
  auto alarm = std::make_unique<grpc::Alarm>();
  std::lock_guard lock(mu_);
  cq_ = cq;
  wake_alarm_ = std::move(alarm);
}

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
    if (cq_ != nullptr && !wake_armed_) {
      wake_armed_ = true;
      wake_alarm_->Set(cq_, gpr_time_0(GPR_CLOCK_MONOTONIC), &kWakeTag);
    }
    stopping_ = true;  // from here on nothing sets the alarm again
  }
  wake_.notify_one();
  thread_.join();
}

void RealEnv::Wake() {
  if (OnLoopThread()) return;  // the loop looks at its tasks before it waits again
  std::lock_guard lock(mu_);
  if (cq_ == nullptr) {
    wake_.notify_one();
    return;
  }
  if (wake_armed_ || stopping_) return;
  wake_armed_ = true;
  // A deadline in the past: gRPC completes the alarm at once and kicks the queue's poller.
  wake_alarm_->Set(cq_, gpr_time_0(GPR_CLOCK_MONOTONIC), &kWakeTag);
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
  Wake();
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
  Wake();
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

void RealEnv::PollQueue(Duration wait) {
  gpr_timespec deadline = DeadlineIn(wait);
  for (int i = 0; i < kMaxEventsPerTurn; ++i) {
    void* tag = nullptr;
    bool ok = false;
    if (cq_->AsyncNext(&tag, &ok, deadline) != grpc::CompletionQueue::GOT_EVENT) return;
    if (tag == &kWakeTag) {
      std::lock_guard lock(mu_);
      wake_armed_ = false;
    } else {
      static_cast<CqTag*>(tag)->Done(ok);
    }
    deadline = gpr_time_0(GPR_CLOCK_MONOTONIC);  // then only what is ready at once
  }
}

void RealEnv::DrainQueue() {
  draining_ = true;
  cq_->Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) {
    if (tag != &kWakeTag) static_cast<CqTag*>(tag)->Done(ok);
  }
}

void RealEnv::Loop() {
  ScopedCurrent scope(this);
  std::deque<Task> ready;
  for (;;) {
    Duration wait;
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (stopping_) break;
        wait = CollectDueTimers(ready);
        // Tasks posted before this turn run first, then timers that are due, in deadline order.
        while (!tasks_.empty()) {
          ready.push_front(std::move(tasks_.back()));
          tasks_.pop_back();
        }
        if (!ready.empty() || cq_ != nullptr) break;
        wake_.wait_for(lock, std::chrono::nanoseconds(wait.nanos()));
      }
      if (stopping_) break;
    }
    const bool ran = !ready.empty();
    while (!ready.empty()) {
      Task task = std::move(ready.front());
      ready.pop_front();
      task();
    }
    // With a queue: what the tasks started may already have completed, so after work the queue
    // is only looked at; otherwise the loop sleeps in it until the next timer is due.
    if (cq_ != nullptr) PollQueue(ran ? Duration::Zero() : wait);
  }
  ready.clear();
  ShutdownFibers();
  if (cq_ != nullptr) DrainQueue();
  std::lock_guard lock(mu_);
  tasks_.clear();
  timers_.clear();
  timer_deadlines_.clear();
}

}  // namespace meta::net
