// Logging: one spdlog logger per node. Every line carries the node id; in simulation it carries the
// virtual time instead of the wall clock, so logs of one seed are identical run to run.
#pragma once

#include <spdlog/logger.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/time.h"

namespace meta {

// Where log lines go. Shared by all nodes of a process. Thread-safe.
std::shared_ptr<spdlog::sinks::sink> StderrSink();

// A logger for node `node_id` writing to `sinks`. With `virtual_clock`, lines start with that
// clock's time ("[12.000250000]"); without it, with the wall clock.
std::shared_ptr<spdlog::logger> MakeNodeLogger(
    NodeId node_id, std::vector<std::shared_ptr<spdlog::sinks::sink>> sinks,
    std::function<Instant()> virtual_clock = nullptr);

}  // namespace meta
