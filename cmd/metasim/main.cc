// metasim: the seeded simulator. First version: runs the ping-pong fiber workload on K simulated
// nodes and prints virtual time, wall time, events, speedup and the trace hash of each seed.
//
//   metasim --seed 7 --nodes 5 --duration 60s
//   metasim --seeds 1..100
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "sim/pingpong.h"
#include "sim/trace.h"

namespace {

using meta::Duration;

struct Flags {
  uint64_t seed_first = 1;
  uint64_t seed_last = 1;
  int nodes = 3;
  Duration duration = meta::Seconds(60);
  bool trace = false;
};

[[noreturn]] void Usage(const std::string& error) {
  if (!error.empty()) std::fprintf(stderr, "metasim: %s\n", error.c_str());
  std::fprintf(stderr,
               "usage: metasim [--seed N | --seeds A..B] [--nodes K] [--duration 60s|500ms]"
               " [--trace]\n");
  std::exit(2);
}

std::optional<uint64_t> ParseUint(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (UINT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::optional<Duration> ParseDuration(std::string_view s) {
  auto unit = [&](std::string_view suffix) {
    return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
  };
  if (unit("ms")) {
    auto v = ParseUint(s.substr(0, s.size() - 2));
    if (v) return meta::Millis(static_cast<int64_t>(*v));
  } else if (unit("s")) {
    auto v = ParseUint(s.substr(0, s.size() - 1));
    if (v) return meta::Seconds(static_cast<int64_t>(*v));
  }
  return std::nullopt;
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) Usage(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--seed") {
      auto v = ParseUint(value());
      if (!v) Usage("--seed must be a non-negative integer");
      f.seed_first = f.seed_last = *v;
    } else if (arg == "--seeds") {
      std::string_view range = value();
      size_t dots = range.find("..");
      auto a = dots == std::string_view::npos ? std::nullopt : ParseUint(range.substr(0, dots));
      auto b = dots == std::string_view::npos ? std::nullopt : ParseUint(range.substr(dots + 2));
      if (!a || !b || *a > *b) Usage("--seeds must look like A..B with A <= B");
      f.seed_first = *a;
      f.seed_last = *b;
    } else if (arg == "--nodes") {
      auto v = ParseUint(value());
      if (!v || *v < 2 || *v > 100) Usage("--nodes must be between 2 and 100");
      f.nodes = static_cast<int>(*v);
    } else if (arg == "--duration") {
      auto d = ParseDuration(value());
      if (!d || *d <= Duration::Zero()) Usage("--duration must look like 60s or 500ms");
      f.duration = *d;
    } else if (arg == "--trace") {
      f.trace = true;
    } else if (arg == "--help" || arg == "-h") {
      Usage("");
    } else {
      Usage("unknown flag '" + std::string(arg) + "'");
    }
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  for (uint64_t seed = flags.seed_first; seed <= flags.seed_last; ++seed) {
    meta::sim::PingPongOptions options{.seed = seed,
                                       .nodes = flags.nodes,
                                       .duration = flags.duration,
                                       .record_trace_lines = flags.trace};
    // Wall time is only reported, never fed back into the simulation.
    const auto wall_start = std::chrono::steady_clock::now();
    meta::sim::PingPongReport r = meta::sim::RunPingPongWorkload(options);
    const double wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    for (const std::string& line : r.trace_lines) std::printf("trace %s\n", line.c_str());
    const double virtual_s = static_cast<double>(r.virtual_time.nanos()) / 1e9;
    std::printf("seed=%" PRIu64 " nodes=%d virtual_time=%.3fs wall_time=%.3fs events=%" PRIu64
                " speedup=%.1fx messages=%" PRIu64 " round_trips=%" PRIu64 " timeouts=%" PRIu64
                " trace_hash=%s\n",
                seed, flags.nodes, virtual_s, wall_s, r.events,
                wall_s > 0 ? virtual_s / wall_s : 0.0, r.messages, r.round_trips, r.timeouts,
                meta::sim::HexHash(r.trace_hash).c_str());
    std::printf("replay: metasim --seed %" PRIu64 " --nodes %d --duration %" PRId64 "ms\n", seed,
                flags.nodes, flags.duration.millis());
  }
  return 0;
}
