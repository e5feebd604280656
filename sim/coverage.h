// The simulator's SIM_BUGGIFY / SIM_PROBE hooks for one run (see core/sim_hooks.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "core/random.h"
#include "core/sim_hooks.h"

namespace meta::sim {

class SimHooks final : public sim_hooks::Hooks {
 public:
  // Installs itself for its lifetime. With `buggify` false, no fault site ever fires.
  SimHooks(Random random, bool buggify);
  ~SimHooks() override;

  bool Buggify(const char* file, int line) override;
  void Probe(const char* name) override;

  const std::map<std::string, uint64_t>& probes() const { return probes_; }
  uint64_t buggify_fired() const { return fired_; }
  // "name=count, ..." of the probes hit in this run.
  std::string Summary() const;

 private:
  Random random_;
  bool buggify_;
  sim_hooks::Hooks* previous_;
  std::map<std::pair<std::string, int>, bool> sites_;  // active this run?
  std::map<std::string, uint64_t> probes_;
  uint64_t fired_ = 0;
};

}  // namespace meta::sim
