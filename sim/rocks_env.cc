#include "sim/rocks_env.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/system_clock.h>

#include <atomic>
#include <cstdint>
#include <map>

#include "core/sim_hooks.h"

namespace meta::sim {
namespace {

// RocksDB sleeps between retries of a failed flush (a second) and to slow writers down. In the
// simulator those sleeps must not stall the whole world: they return at once, and the clock jumps
// ahead by the time slept, so loops waiting for a delay to pass still end.
class SkippingClock final : public rocksdb::SystemClockWrapper {
 public:
  explicit SkippingClock(const std::shared_ptr<rocksdb::SystemClock>& target)
      : SystemClockWrapper(target) {}
  const char* Name() const override { return "SkippingClock"; }
  uint64_t NowMicros() override { return target_->NowMicros() + skipped_us_; }
  uint64_t NowNanos() override { return target_->NowNanos() + skipped_us_ * 1000; }
  void SleepForMicroseconds(int micros) override {
    if (micros > 0) skipped_us_ += static_cast<uint64_t>(micros);
  }

 private:
  std::atomic<uint64_t> skipped_us_{0};
};

class DeterministicEnv final : public rocksdb::EnvWrapper {
 public:
  DeterministicEnv(std::unique_ptr<rocksdb::Env> base, std::function<void(Task)> post)
      : EnvWrapper(base.get()),
        base_(std::move(base)),
        post_(std::move(post)),
        jobs_(std::make_shared<Jobs>()) {
    system_clock_ = std::make_shared<SkippingClock>(system_clock_);
  }

  void SleepForMicroseconds(int micros) override { system_clock_->SleepForMicroseconds(micros); }

  const char* Name() const override { return "DeterministicEnv"; }

  void Schedule(void (*function)(void*), void* arg, Priority pri, void* tag,
                void (*unschedule)(void*)) override {
    const uint64_t id = next_id_++;
    jobs_->emplace(id, Job{function, arg, pri, tag, unschedule});
    post_([weak = std::weak_ptr<Jobs>(jobs_), id] {
      std::shared_ptr<Jobs> jobs = weak.lock();
      if (!jobs) return;  // the database and its Env are gone
      auto it = jobs->find(id);
      if (it == jobs->end()) return;  // unscheduled meanwhile
      const Job job = it->second;
      jobs->erase(it);
      if (job.pri == Priority::HIGH) {
        SIM_PROBE("rocksdb: flush ran");
      } else {
        SIM_PROBE("rocksdb: compaction ran");
      }
      job.function(job.arg);
    });
  }

  int UnSchedule(void* tag, Priority pri) override {
    int removed = 0;
    for (auto it = jobs_->begin(); it != jobs_->end();) {
      if (it->second.tag != tag || it->second.pri != pri) {
        ++it;
        continue;
      }
      const Job job = it->second;
      it = jobs_->erase(it);
      if (job.unschedule != nullptr) job.unschedule(job.arg);
      ++removed;
    }
    return removed;
  }

  unsigned int GetThreadPoolQueueLen(Priority pri) const override {
    unsigned int n = 0;
    for (const auto& [id, job] : *jobs_) n += job.pri == pri ? 1 : 0;
    return n;
  }

 private:
  struct Job {
    void (*function)(void*);
    void* arg;
    Priority pri;
    void* tag;
    void (*unschedule)(void*);
  };
  using Jobs = std::map<uint64_t, Job>;  // by id: queued and not yet run

  std::unique_ptr<rocksdb::Env> base_;
  std::function<void(Task)> post_;
  uint64_t next_id_ = 1;
  // Shared with the queued tasks, which outlive the Env when the node's process dies.
  std::shared_ptr<Jobs> jobs_;
};

}  // namespace

std::shared_ptr<rocksdb::Env> NewDeterministicRocksEnv(std::shared_ptr<rocksdb::FileSystem> fs,
                                                       std::function<void(Task)> post) {
  if (!fs) fs = rocksdb::FileSystem::Default();
  return std::make_shared<DeterministicEnv>(rocksdb::NewCompositeEnv(fs), std::move(post));
}

}  // namespace meta::sim
