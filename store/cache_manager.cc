#include "store/cache_manager.h"

namespace meta::store {

const storepb::KvValue* CacheManager::Lookup(std::string_view key) {
  auto it = map_.find(key);
  if (it == map_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->value;
}

void CacheManager::Put(const std::string& key, storepb::KvValue value) {
  const size_t bytes = key.size() + value.ByteSizeLong() + 64;
  auto it = map_.find(key);
  if (bytes > capacity_bytes_) {
    if (it != map_.end()) Erase(key);
    return;
  }
  if (it != map_.end()) {
    Item& item = *it->second;
    bytes_ = bytes_ - item.bytes + bytes;
    item.value = std::move(value);
    item.bytes = bytes;
    lru_.splice(lru_.begin(), lru_, it->second);
  } else {
    lru_.push_front(Item{key, std::move(value), bytes});
    map_.emplace(lru_.front().key, lru_.begin());
    bytes_ += bytes;
  }
  EvictToFit();
}

void CacheManager::Erase(const std::string& key) {
  auto it = map_.find(key);
  if (it == map_.end()) return;
  bytes_ -= it->second->bytes;
  auto item = it->second;
  map_.erase(it);
  lru_.erase(item);
}

void CacheManager::Clear() {
  map_.clear();
  lru_.clear();
  bytes_ = 0;
}

void CacheManager::EvictToFit() {
  while (bytes_ > capacity_bytes_ && !lru_.empty()) {
    map_.erase(lru_.back().key);
    bytes_ -= lru_.back().bytes;
    lru_.pop_back();
  }
}

}  // namespace meta::store
