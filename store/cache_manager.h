// A bounded LRU cache of hot KV values for one group, always consistent with applied state: apply
// writes through it after the data is in RocksDB, and a snapshot install clears it. Everything not
// cached is read from RocksDB, so the data set is not bounded by memory.
#pragma once

#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "proto/store.pb.h"

namespace meta::store {

class CacheManager {
 public:
  explicit CacheManager(size_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

  // The cached value of a present key, valid until the cache next changes; null when not cached
  // (the caller reads RocksDB).
  const storepb::KvValue* Lookup(std::string_view key);
  // Caches `value` for `key`, replacing a cached value in place.
  void Put(const std::string& key, storepb::KvValue value);
  void Erase(const std::string& key);
  void Clear();

  size_t bytes() const { return bytes_; }
  size_t entries() const { return map_.size(); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Item {
    std::string key;
    storepb::KvValue value;
    size_t bytes;
  };
  void EvictToFit();

  size_t capacity_bytes_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  std::list<Item> lru_;  // front = most recently used
  std::unordered_map<std::string_view, std::list<Item>::iterator> map_;
};

}  // namespace meta::store
