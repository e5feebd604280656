// A toy multi-node fiber workload for the first metasim: every node runs pinger fibers that sleep a
// random while, ping a random peer over the simulated network and wait for the pong with a timeout;
// receivers answer after a random processing delay, so some pings time out. It exercises fibers,
// timers, futures with timeouts, the network and per-node random streams under one seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/time.h"

namespace meta::sim {

struct PingPongOptions {
  uint64_t seed = 1;
  int nodes = 3;
  int pingers_per_node = 4;
  Duration duration = Seconds(60);
  bool record_trace_lines = false;
};

struct PingPongReport {
  Duration virtual_time;
  uint64_t events = 0;
  uint64_t messages = 0;
  uint64_t round_trips = 0;
  uint64_t timeouts = 0;
  uint64_t trace_hash = 0;
  std::vector<std::string> trace_lines;
};

PingPongReport RunPingPongWorkload(const PingPongOptions& options);

}  // namespace meta::sim
