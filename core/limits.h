// Every bound of the system in one place, units last in the name (STYLE.md §4). A full queue
// answers UNAVAILABLE; it does not grow.
#pragma once

#include <cstddef>

namespace meta {

// Stack of one fiber. Debug (sanitizer) builds need more: ASan pads every frame.
#ifdef NDEBUG
inline constexpr size_t kFiberStackBytes = 128 * 1024;
#else
inline constexpr size_t kFiberStackBytes = 512 * 1024;
#endif
// Idle fiber stacks kept per thread for reuse.
inline constexpr size_t kFiberStackPoolSize = 256;

}  // namespace meta

namespace meta {

// Raft log entries per group kept in memory (the rest is read from RocksDB).
inline constexpr size_t kLogTailCacheEntries = 4096;

// Snapshots travel in chunks of this size; a reassembled snapshot may not exceed the maximum.
inline constexpr size_t kSnapshotChunkBytes = 1 << 20;
inline constexpr size_t kMaxSnapshotBytes = size_t{4} << 30;

}  // namespace meta

namespace meta {

// Public API bounds: a request over any of them is refused with INVALID_ARGUMENT naming the field.
inline constexpr size_t kMaxKeyBytes = 4 << 10;
inline constexpr size_t kMaxValueBytes = 1 << 20;
inline constexpr size_t kMaxBatchItems = 10000;       // sessions or offsets in one batch
inline constexpr size_t kMaxBatchBytes = 8 << 20;     // payload bytes of one batch
inline constexpr size_t kMaxNameBytes = 1 << 10;      // topics, consumer groups, client ids
inline constexpr size_t kMaxListPage = 10000;         // items in one List page
inline constexpr size_t kMaxRequestBytes = 16 << 20;  // one gRPC message, either direction

// Node-to-node transport: per peer, frames queued while the stream is busy (a full queue makes
// Send answer UNAVAILABLE), and frames written per stream message.
inline constexpr size_t kTransportQueueFrames = 4096;
inline constexpr size_t kTransportQueueBytes = 64 << 20;
inline constexpr size_t kTransportBatchBytes = 4 << 20;

}  // namespace meta
