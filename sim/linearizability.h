// Linearizability of a key-value history (Wing & Gong's search with memoization, as in Lowe's and
// Porcupine's checkers), partitioned per key: a history is linearizable iff each key's is.
//
// An operation that timed out is *indeterminate*: it may have taken effect at any point after its
// call, or never. It gets an infinite return time, and the search may leave it out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace meta::sim {

struct KvOp {
  enum class Type { kPut, kGet, kCas, kDelete };
  Type type = Type::kGet;
  uint64_t client = 0;
  std::string key;
  // Inputs: kPut: value. kCas: expected (nullopt = must be absent) and value (the new one).
  std::optional<std::string> expected;
  std::string value;
  // Outputs (when completed): kGet: the value read (nullopt = absent); kCas: whether it swapped;
  // kDelete: whether the key existed.
  std::optional<std::string> read;
  bool ok = false;
  Instant call;
  Instant ret;  // ignored when indeterminate
  bool indeterminate = false;

  std::string ToString() const;
};

struct LinearizabilityOptions {
  // The search gives up (and reports UNKNOWN) after visiting this many states for one key.
  uint64_t max_states_per_key = 2'000'000;
};

struct LinearizabilityResult {
  Status status;         // OK, or INTERNAL naming the key and its history
  bool unknown = false;  // the search hit its bound on some key (not a violation)
  uint64_t keys = 0;
  uint64_t states_visited = 0;
};

LinearizabilityResult CheckLinearizable(const std::vector<KvOp>& history,
                                        const LinearizabilityOptions& options = {});

}  // namespace meta::sim
