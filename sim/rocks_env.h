// RocksDB's background work (flushes, compactions) as events of the simulated node.
//
// RocksDB normally runs flushes and compactions on its own thread pools, at moments the simulator
// cannot see: whether a read finds its key in a memtable or in a table file, and so whether a read
// reaches the (simulated) disk at all, would depend on the host's thread timing. This Env hands
// every job RocksDB schedules to `post` instead, which queues it on the node's loop: jobs run on
// the simulator's thread, in an order the seed decides, and so does every file access they make.
// Closing the database unschedules the jobs still queued, as RocksDB's own pools do.
#pragma once

#include <functional>
#include <memory>

#include "core/env.h"

namespace rocksdb {
class Env;
class FileSystem;
}  // namespace rocksdb

namespace meta::sim {

// `fs` null means the real disk.
std::shared_ptr<rocksdb::Env> NewDeterministicRocksEnv(std::shared_ptr<rocksdb::FileSystem> fs,
                                                       std::function<void(Task)> post);

}  // namespace meta::sim
