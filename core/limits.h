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
