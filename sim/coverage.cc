#include "sim/coverage.h"

namespace meta::sim {

SimHooks::SimHooks(Random random, bool buggify)
    : random_(random), buggify_(buggify), previous_(sim_hooks::current) {
  sim_hooks::current = this;
}

SimHooks::~SimHooks() { sim_hooks::current = previous_; }

bool SimHooks::Buggify(const char* file, int line) {
  if (!buggify_) return false;
  // FoundationDB's rule: a site is active in a quarter of the runs; when active it fires a
  // quarter of the times it is reached.
  auto [it, inserted] = sites_.emplace(std::make_pair(std::string(file), line), false);
  if (inserted) it->second = random_.OneIn(4);
  if (!it->second || !random_.OneIn(4)) return false;
  ++fired_;
  return true;
}

void SimHooks::Probe(const char* name) { ++probes_[name]; }

std::string SimHooks::Summary() const {
  std::string out;
  for (const auto& [name, count] : probes_) {
    if (!out.empty()) out += ", ";
    out += name + "=" + std::to_string(count);
  }
  return out;
}

}  // namespace meta::sim
