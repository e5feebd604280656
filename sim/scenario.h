// One seeded simulation run of real nodes (metasim's unit of work): a swarm of fault parameters
// drawn from the seed, a KV workload whose history is checked for linearizability, offset and
// session traffic, a nemesis (network faults, crashes with loss of unsynced data, clogging,
// leadership transfers), per-group Raft safety checks after every event, then a liveness phase
// (everything healed: every group must elect a leader and commit within 10 election timeouts)
// and a convergence check (every replica of every group holds identical data).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace meta::sim {

enum class FaultMode { kNone, kNetwork, kDisk, kAll };
Result<FaultMode> ParseFaultMode(const std::string& s);

struct ScenarioOptions {
  uint64_t seed = 1;
  int nodes = 3;
  uint32_t groups_per_type = 1;
  Duration duration = Seconds(30);  // virtual time of the workload + fault phase
  FaultMode faults = FaultMode::kAll;
  bool record_trace_lines = false;
};

struct ScenarioReport {
  Status status;      // the first violation, or OK
  std::string swarm;  // the fault parameters this seed drew
  Duration virtual_time;
  uint64_t events = 0;
  uint64_t ops = 0;     // client operations issued
  uint64_t ops_ok = 0;  // completed with a definite outcome
  uint64_t ops_indeterminate = 0;
  uint64_t faults = 0;  // nemesis actions taken
  uint64_t crashes = 0;
  uint64_t disk_faults = 0;  // injected I/O errors and disk-full refusals
  uint64_t fail_stops = 0;   // nodes that stopped themselves on an I/O error
  uint64_t messages_dropped = 0;
  uint64_t error_logs = 0;
  bool linearizability_unknown = false;
  uint64_t buggify_fired = 0;              // SIM_BUGGIFY sites that fired
  std::map<std::string, uint64_t> probes;  // SIM_PROBE hits (coverage)
  uint64_t trace_hash = 0;
  std::vector<std::string> trace_lines;
};

ScenarioReport RunScenario(const ScenarioOptions& options);

}  // namespace meta::sim
