#include "core/env.h"

#include "core/fiber.h"

namespace meta {
namespace {
thread_local Env* current_env = nullptr;
}  // namespace

Env::Env(NodeId node_id, Random random, std::shared_ptr<spdlog::logger> logger)
    : node_id_(node_id),
      random_(random),
      logger_(std::move(logger)),
      fibers_(std::make_unique<FiberScheduler>(*this)) {}

Env::~Env() { ShutdownFibers(); }

Env* Env::Current() { return current_env; }

Env::ScopedCurrent::ScopedCurrent(Env* env) : previous_(current_env) { current_env = env; }
Env::ScopedCurrent::~ScopedCurrent() { current_env = previous_; }

void Env::ShutdownFibers() {
  ScopedCurrent scope(this);
  fibers_->Shutdown();
}

}  // namespace meta
