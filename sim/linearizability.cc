#include "sim/linearizability.h"

#include <algorithm>
#include <map>
#include <unordered_set>

#include "core/hash.h"

namespace meta::sim {
namespace {

using State = std::optional<std::string>;

// Applies `op` to `state` if its recorded output is consistent with it; returns false if not.
bool Step(const KvOp& op, State& state) {
  switch (op.type) {
    case KvOp::Type::kPut:
      state = op.value;
      return true;
    case KvOp::Type::kGet:
      return op.indeterminate || op.read == state;
    case KvOp::Type::kCas: {
      const bool match = op.expected ? state == op.expected : !state.has_value();
      if (!op.indeterminate && match != op.ok) return false;
      if (match) state = op.value;
      return true;
    }
    case KvOp::Type::kDelete: {
      const bool existed = state.has_value();
      if (!op.indeterminate && existed != op.ok) return false;
      state.reset();
      return true;
    }
  }
  return false;
}

class KeySearch {
 public:
  KeySearch(std::vector<const KvOp*> ops, uint64_t max_states)
      : ops_(std::move(ops)), max_states_(max_states), done_(ops_.size(), false) {
    std::sort(ops_.begin(), ops_.end(),
              [](const KvOp* a, const KvOp* b) { return a->call < b->call; });
    for (const KvOp* op : ops_) completed_ += op->indeterminate ? 0 : 1;
  }

  // True if some linearization exists. `exhausted` is set when the bound stopped the search.
  bool Run(bool* exhausted) {
    const bool ok = Search(State(), 0);
    *exhausted = exhausted_;
    return ok;
  }
  uint64_t visited() const { return visited_; }

 private:
  static Instant Ret(const KvOp* op) {
    return op->indeterminate ? Instant::FromNanos(INT64_MAX) : op->ret;
  }

  uint64_t Memo(const State& state) const {
    uint64_t h = state ? HashBytes(*state, 1) : 0x51ed27;
    for (size_t i = 0; i < done_.size(); ++i) {
      if (done_[i]) h = HashCombine(h, i);
    }
    return h;
  }

  bool Search(const State& state, size_t linearized_completed) {
    if (linearized_completed == completed_) return true;
    if (++visited_ > max_states_) {
      exhausted_ = true;
      return false;
    }
    if (!seen_.insert(Memo(state)).second) return false;
    // An operation may go next only if no other pending operation returned before it was called.
    Instant horizon = Instant::FromNanos(INT64_MAX);
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (!done_[i]) horizon = std::min(horizon, Ret(ops_[i]));
    }
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (done_[i] || ops_[i]->call > horizon) continue;
      State next = state;
      if (!Step(*ops_[i], next)) continue;
      done_[i] = true;
      const bool found = Search(next, linearized_completed + (ops_[i]->indeterminate ? 0 : 1));
      done_[i] = false;
      if (found) return true;
      if (exhausted_) return false;
    }
    return false;
  }

  std::vector<const KvOp*> ops_;
  uint64_t max_states_;
  std::vector<bool> done_;
  size_t completed_ = 0;
  uint64_t visited_ = 0;
  bool exhausted_ = false;
  std::unordered_set<uint64_t> seen_;
};

std::string Quote(const std::optional<std::string>& v) { return v ? "'" + *v + "'" : "absent"; }

}  // namespace

std::string KvOp::ToString() const {
  std::string s = "client " + std::to_string(client) + " [" + call.ToString() + ", " +
                  (indeterminate ? std::string("?") : ret.ToString()) + "] ";
  switch (type) {
    case Type::kPut:
      s += "put " + key + "=" + value;
      break;
    case Type::kGet:
      s += "get " + key + " -> " + (indeterminate ? "?" : Quote(read));
      break;
    case Type::kCas:
      s += "cas " + key + " " + Quote(expected) + " -> '" + value + "': " +
           (indeterminate ? "?"
            : ok          ? "swapped"
                          : "no");
      break;
    case Type::kDelete:
      s += "delete " + key + ": " + (indeterminate ? "?" : ok ? "existed" : "absent");
      break;
  }
  return s;
}

LinearizabilityResult CheckLinearizable(const std::vector<KvOp>& history,
                                        const LinearizabilityOptions& options) {
  LinearizabilityResult result;
  std::map<std::string, std::vector<const KvOp*>> by_key;
  for (const KvOp& op : history) by_key[op.key].push_back(&op);
  result.keys = by_key.size();
  for (auto& [key, ops] : by_key) {
    KeySearch search(ops, options.max_states_per_key);
    bool exhausted = false;
    const bool ok = search.Run(&exhausted);
    result.states_visited += search.visited();
    if (ok) continue;
    if (exhausted) {
      result.unknown = true;
      continue;
    }
    std::string text = "history of key '" + key + "' is not linearizable:";
    for (const KvOp* op : ops) text += "\n  " + op->ToString();
    result.status = InternalError(text);
    return result;
  }
  return result;
}

}  // namespace meta::sim
