// A simulated disk for one node: RocksDB runs on an in-memory file system (RocksDB's MemEnv)
// wrapped so that synced and unsynced bytes are kept apart. A power loss is:
//
//   disk.PowerOff();   // from now on nothing the process does reaches the disk
//   node.reset();      // the process dies (RocksDB is closed; its last writes go nowhere)
//   disk.Recover();    // unsynced bytes are lost — a random prefix of each unsynced tail may
//                      // survive (a torn write) — and files never synced disappear
//
// Simplifications (documented, not hidden): a file's creation and renames are durable once they
// happen (as on ext4 with data=ordered after the file's own fsync; RocksDB fsyncs the directory
// anyway); RangeSync is not durability.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "core/time.h"

namespace rocksdb {
class Env;
class FileSystem;
}  // namespace rocksdb

namespace meta::sim {

// Injected I/O faults. Write, sync and space faults hit the write-ahead log ("*.log"); read faults
// hit every file (the WAL replayed at start-up, table files, the MANIFEST), on reads made by the
// simulator's thread — which, with RocksDB's background jobs run as node events (sim/rocks_env.h),
// is every read, so the draws stay deterministic. A node that sees a write fault must fail-stop and
// recover after a restart; a failed read must fail-stop the node or fail that one request, never
// be taken for data.
struct DiskFaults {
  double write_error = 0;                // probability an append fails with an I/O error
  double sync_error = 0;                 // probability an fsync fails (nothing becomes durable)
  double read_error = 0;                 // probability a read fails with an I/O error
  uint64_t capacity_bytes = UINT64_MAX;  // appends past this many WAL bytes fail: disk full
  double slow_sync = 0;                  // probability an fsync is slow...
  Duration slow_sync_max = Millis(500);  // ...taking up to this long
};

class SimDisk {
 public:
  explicit SimDisk(uint64_t seed);
  ~SimDisk();

  std::shared_ptr<rocksdb::FileSystem> file_system();
  void PowerOff();
  void Recover();
  void SetFaults(const DiskFaults& faults);
  // While quiet, no fault is injected and none is drawn: checkers read the node's state through
  // its own code, and must neither fail nor change what the run does next.
  void SetQuiet(bool quiet);
  // Called (on the syncing thread) with the extra time a slow fsync takes. The simulator stalls
  // the node's process for that long: its next events wait (the turn that synced has already
  // sent its messages; a real slow fsync would hold those too — an approximation).
  void SetSlowSyncHandler(std::function<void(Duration)> handler);
  uint64_t faults_injected() const;

  uint64_t crashes() const;
  uint64_t bytes_lost() const;  // unsynced bytes dropped over all crashes
  uint64_t files_lost() const;  // never-synced files dropped over all crashes

 private:
  class CrashFs;
  std::unique_ptr<rocksdb::Env> mem_env_;
  std::shared_ptr<CrashFs> fs_;
};

}  // namespace meta::sim
