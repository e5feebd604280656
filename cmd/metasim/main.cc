// metasim: the seeded simulator. Runs real nodes (Raft + RocksDB + state machines) on virtual time
// under a nemesis, checks Raft safety after every event, the KV history for linearizability,
// liveness after healing and convergence of replicas; prints one line per seed and the command
// that replays any failure.
//
//   metasim --seed 7                        one seed, all faults, 3 nodes, 30 s of virtual time
//   metasim --seeds 1..200 --faults network
//   metasim --seed 7 --check-determinism    runs it twice, compares trace hashes
//   metasim --workload pingpong --seed 7    the fiber/timer/network toy of the first version
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "sim/pingpong.h"
#include "sim/scenario.h"
#include "sim/trace.h"

namespace {

using meta::Duration;

struct Flags {
  uint64_t seed_first = 1;
  uint64_t seed_last = 1;
  int nodes = 3;
  uint32_t groups_per_type = 1;
  Duration duration = meta::Seconds(30);
  std::string faults = "all";
  std::string workload = "cluster";
  bool trace = false;
  bool check_determinism = false;
};

[[noreturn]] void Usage(const std::string& error) {
  if (!error.empty()) std::fprintf(stderr, "metasim: %s\n", error.c_str());
  std::fprintf(stderr,
               "usage: metasim [--seed N | --seeds A..B] [--nodes K] [--groups-per-type N]\n"
               "               [--duration 30s|500ms] [--faults none|network|disk|all]\n"
               "               [--workload cluster|pingpong] [--trace] [--check-determinism]\n");
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
      if (!v || *v < 1 || *v > 9) Usage("--nodes must be between 1 and 9");
      f.nodes = static_cast<int>(*v);
    } else if (arg == "--groups-per-type") {
      auto v = ParseUint(value());
      if (!v || *v < 1 || *v > 16) Usage("--groups-per-type must be between 1 and 16");
      f.groups_per_type = static_cast<uint32_t>(*v);
    } else if (arg == "--duration") {
      auto d = ParseDuration(value());
      if (!d || *d <= Duration::Zero()) Usage("--duration must look like 30s or 500ms");
      f.duration = *d;
    } else if (arg == "--faults") {
      f.faults = std::string(value());
      if (!meta::sim::ParseFaultMode(f.faults).ok()) Usage("--faults: none|network|disk|all");
    } else if (arg == "--workload") {
      f.workload = std::string(value());
      if (f.workload != "cluster" && f.workload != "pingpong")
        Usage("--workload: cluster|pingpong");
    } else if (arg == "--trace") {
      f.trace = true;
    } else if (arg == "--check-determinism") {
      f.check_determinism = true;
    } else if (arg == "--help" || arg == "-h") {
      Usage("");
    } else {
      Usage("unknown flag '" + std::string(arg) + "'");
    }
  }
  return f;
}

std::string ReplayCommand(const Flags& f, uint64_t seed) {
  return "metasim --seed " + std::to_string(seed) + " --nodes " + std::to_string(f.nodes) +
         " --groups-per-type " + std::to_string(f.groups_per_type) + " --duration " +
         std::to_string(f.duration.millis()) + "ms --faults " + f.faults + " --workload " +
         f.workload + (f.check_determinism ? " --check-determinism" : "");
}

struct Run {
  bool ok = true;
  std::map<std::string, uint64_t> probes;
  std::string summary;
  std::string failure;
  uint64_t trace_hash = 0;
  std::vector<std::string> trace_lines;
  double virtual_s = 0;
};

Run RunOnce(const Flags& f, uint64_t seed, bool keep_trace) {
  Run run;
  char buf[512];
  if (f.workload == "pingpong") {
    meta::sim::PingPongReport r = meta::sim::RunPingPongWorkload(
        {.seed = seed, .nodes = f.nodes, .duration = f.duration, .record_trace_lines = keep_trace});
    run.virtual_s = static_cast<double>(r.virtual_time.nanos()) / 1e9;
    std::snprintf(buf, sizeof buf,
                  "events=%" PRIu64 " messages=%" PRIu64 " round_trips=%" PRIu64
                  " timeouts=%" PRIu64,
                  r.events, r.messages, r.round_trips, r.timeouts);
    run.trace_hash = r.trace_hash;
    run.trace_lines = std::move(r.trace_lines);
  } else {
    meta::sim::ScenarioReport r =
        meta::sim::RunScenario({.seed = seed,
                                .nodes = f.nodes,
                                .groups_per_type = f.groups_per_type,
                                .duration = f.duration,
                                .faults = *meta::sim::ParseFaultMode(f.faults),
                                .record_trace_lines = keep_trace});
    std::printf("seed=%" PRIu64 " swarm: %s\n", seed, r.swarm.c_str());
    run.virtual_s = static_cast<double>(r.virtual_time.nanos()) / 1e9;
    std::snprintf(buf, sizeof buf,
                  "events=%" PRIu64 " ops=%" PRIu64 " ok=%" PRIu64 " indeterminate=%" PRIu64
                  " buggify=%" PRIu64 " faults=%" PRIu64 " crashes=%" PRIu64 " disk_faults=%" PRIu64
                  " fail_stops=%" PRIu64 " dropped=%" PRIu64 " checks=%s linearizable=%s",
                  r.events, r.ops, r.ops_ok, r.ops_indeterminate, r.buggify_fired, r.faults,
                  r.crashes, r.disk_faults, r.fail_stops, r.messages_dropped,
                  r.status.ok() ? "ok" : "FAIL",
                  r.linearizability_unknown ? "unknown" : (r.status.ok() ? "ok" : "-"));
    run.ok = r.status.ok();
    run.probes = r.probes;
    if (!run.ok) run.failure = r.status.ToString();
    run.trace_hash = r.trace_hash;
    run.trace_lines = std::move(r.trace_lines);
  }
  run.summary = buf;
  return run;
}

// A failed CHECK (or a crash) inside a seed ends the process: it still names the seed and the
// command that replays it, after the CHECK's own message on stderr.
char crash_line[1024];

void OnCrash(int sig) {
  std::fflush(stdout);
  const size_t n = std::strlen(crash_line);
  (void)!write(STDOUT_FILENO, crash_line, n);
  (void)!write(STDERR_FILENO, crash_line, n);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  int failures = 0;
  std::map<std::string, uint64_t> coverage;
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, OnCrash);
  for (uint64_t seed = flags.seed_first; seed <= flags.seed_last; ++seed) {
    std::snprintf(crash_line, sizeof crash_line,
                  "seed=%" PRIu64 " FAIL crashed (see the message above)\n  replay: %s\n", seed,
                  ReplayCommand(flags, seed).c_str());
    // Wall time is only reported, never fed back into the simulation.
    const auto wall_start = std::chrono::steady_clock::now();
    Run run = RunOnce(flags, seed, flags.trace || flags.check_determinism);
    const double wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    if (flags.trace) {
      for (const std::string& line : run.trace_lines) std::printf("trace %s\n", line.c_str());
    }
    std::string determinism;
    if (flags.check_determinism) {
      Run again = RunOnce(flags, seed, true);
      if (again.trace_hash == run.trace_hash) {
        determinism = " determinism=ok";
      } else {
        run.ok = false;
        size_t i = 0;
        while (i < run.trace_lines.size() && i < again.trace_lines.size() &&
               run.trace_lines[i] == again.trace_lines[i]) {
          ++i;
        }
        run.failure =
            "nondeterminism: trace hashes differ; first differing event #" + std::to_string(i) +
            ":\n  first run:  " + (i < run.trace_lines.size() ? run.trace_lines[i] : "(end)") +
            "\n  second run: " + (i < again.trace_lines.size() ? again.trace_lines[i] : "(end)");
        determinism = " determinism=FAIL";
      }
    }
    std::printf("seed=%" PRIu64
                " %s virtual_time=%.3fs wall_time=%.3fs speedup=%.1fx %s%s "
                "trace_hash=%s\n",
                seed, run.ok ? "PASS" : "FAIL", run.virtual_s, wall_s,
                wall_s > 0 ? run.virtual_s / wall_s : 0.0, run.summary.c_str(), determinism.c_str(),
                meta::sim::HexHash(run.trace_hash).c_str());
    for (const auto& [probe, hits] : run.probes) coverage[probe] += hits;
    if (!run.ok) {
      ++failures;
      std::printf("  replay: %s\n  %s\n", ReplayCommand(flags, seed).c_str(), run.failure.c_str());
    }
    std::fflush(stdout);
  }
  const uint64_t seeds = flags.seed_last - flags.seed_first + 1;
  if (!coverage.empty()) {
    std::printf("coverage (SIM_PROBE hits over all seeds):\n");
    for (const auto& [probe, hits] : coverage) {
      std::printf("  %8" PRIu64 "  %s\n", hits, probe.c_str());
    }
  }
  std::printf("metasim: %" PRIu64 " seeds, %d failed\n", seeds, failures);
  return failures == 0 ? 0 : 1;
}
