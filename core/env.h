// core::Env: the one seam through which time, timers, task scheduling, randomness, logging, the
// network and storage reach the code above it (DESIGN.md §2). Implemented twice: the real runtime
// in net/ (an event-loop thread per node) and the simulated one in sim/ (virtual time, one thread
// for every node). raft/, store/ and controller/ see only this interface.
//
// Execution model: each Env is one single-threaded loop. Tasks, timer callbacks and fibers of one
// Env never run concurrently, so code on the loop needs no locks. Only Post() may be called from
// other threads, and only where the implementation says so (the real runtime allows it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/random.h"
#include "core/time.h"

namespace spdlog {
class logger;
}
namespace rocksdb {
class Env;
class FileSystem;
}  // namespace rocksdb

namespace meta {

using NodeId = uint64_t;
using Task = std::function<void()>;

struct TimerId {
  uint64_t value = 0;
  bool valid() const { return value != 0; }
};

class Transport;
class FiberScheduler;

// What RocksDB is opened with: the file system (the simulator's in-memory one, or null for the
// real disk), the node's data directory and, in simulation, the RocksDB Env that runs RocksDB's
// background jobs on the node's loop (null: RocksDB's own thread pools over `file_system`). With
// such an Env, RocksDB starts no threads of its own: table files are opened on the caller's.
struct StorageEnv {
  std::shared_ptr<rocksdb::FileSystem> file_system;
  std::string data_dir;
  std::shared_ptr<rocksdb::Env> rocksdb_env;
};

class Env {
 public:
  Env(NodeId node_id, Random random, std::shared_ptr<spdlog::logger> logger);
  virtual ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  // Monotonic time of this Env's clock (virtual in simulation).
  virtual Instant Now() const = 0;
  // Runs `fn` on this Env's loop once `delay` has passed; delay <= 0 means "as soon as possible,
  // after the tasks already queued". Timers due at the same instant run in the order they were set.
  virtual TimerId After(Duration delay, Task fn) = 0;
  // Cancels a pending timer. False if it already ran, was cancelled or never existed.
  virtual bool Cancel(TimerId id) = 0;
  // Queues `fn` to run on this Env's loop after everything already queued.
  virtual void Post(Task fn) = 0;
  // Calendar time, nanoseconds since the Unix epoch (virtual in simulation). Only for timestamps
  // that leave the node (a leader stamps commands with it); never for measuring durations.
  virtual int64_t UnixNanos() const = 0;

  // The node's message transport; null where the runtime has none.
  virtual Transport* transport() { return nullptr; }

  NodeId node_id() const { return node_id_; }
  Random& random() { return random_; }
  spdlog::logger& log() { return *logger_; }
  const std::shared_ptr<spdlog::logger>& logger() const { return logger_; }
  const StorageEnv& storage() const { return storage_; }
  void set_storage(StorageEnv storage) { storage_ = std::move(storage); }

  // The fibers of this Env's loop (see core/fiber.h).
  FiberScheduler& fibers() { return *fibers_; }

  // The Env whose task is running on this thread, or null (set by the runtimes).
  static Env* Current();

  // Marks `env` as the one running on the calling thread for the life of the scope (runtimes only).
  class ScopedCurrent {
   public:
    explicit ScopedCurrent(Env* env);
    ~ScopedCurrent();

   private:
    Env* previous_;
  };

 protected:
  // Unwinds every unfinished fiber. Runtimes call it before tearing down their queues, so fibers'
  // destructors still find a working Env. Idempotent.
  void ShutdownFibers();

 private:
  NodeId node_id_;
  Random random_;
  std::shared_ptr<spdlog::logger> logger_;
  StorageEnv storage_;
  std::unique_ptr<FiberScheduler> fibers_;
};

}  // namespace meta
