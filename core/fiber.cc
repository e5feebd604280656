// Fibers on Boost.Context. Sanitizer builds select the ucontext backend (BOOST_USE_UCONTEXT +
// BOOST_USE_ASAN, set by core/CMakeLists.txt for this file only) so ASan follows stack switches.
#include "core/fiber.h"

#include <boost/context/fiber.hpp>
#include <boost/context/fixedsize_stack.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>
#include <vector>

#include "core/check.h"
#include "core/limits.h"

#if defined(BOOST_USE_UCONTEXT)
namespace boost::context::detail {
// Debian's libboost_context is built for the fcontext backend, so it lacks the ucontext backend's
// per-thread "current activation record". Sanitizer builds need the ucontext backend (the only one
// that reports stack switches to ASan), so it is defined here: each thread starts in its own main
// context record, made on first use and kept for the life of the thread.
fiber_activation_record*& fiber_activation_record::current() noexcept {
  thread_local std::unique_ptr<fiber_activation_record> main_record =
      std::make_unique<fiber_activation_record>();
  thread_local fiber_activation_record* current_record = main_record.get();
  return current_record;
}
}  // namespace boost::context::detail
#endif

namespace meta {

namespace ctx = boost::context;

struct FiberScheduler::Fiber {
  FiberId id = 0;
  std::string name;
  FiberScheduler* scheduler = nullptr;
  std::function<void()> body;
  ctx::fiber self;    // the fiber's own context while it is suspended
  ctx::fiber caller;  // the loop's context while the fiber runs
  uint64_t wait_generation = 0;
  bool waiting = false;
  bool cancelled = false;
  bool done = false;
  WakeReason wake_reason = WakeReason::kSignal;
};

namespace {

thread_local FiberScheduler::Fiber* current_fiber = nullptr;

// Debug builds put a guard page under every stack so an overflow faults at once.
#ifdef NDEBUG
using BaseStackAllocator = ctx::fixedsize_stack;
#else
using BaseStackAllocator = ctx::protected_fixedsize_stack;
#endif

// Stacks are recycled per thread: a fiber per request must not cost an mmap and a munmap (and,
// with guard pages, an mprotect). The pool keeps at most kFiberStackPoolSize idle stacks.
class StackPool {
 public:
  ~StackPool() {
    for (ctx::stack_context& sc : free_) base_.deallocate(sc);
  }
  ctx::stack_context Allocate() {
    if (free_.empty()) return base_.allocate();
    ctx::stack_context sc = free_.back();
    free_.pop_back();
    return sc;
  }
  void Deallocate(ctx::stack_context& sc) {
    if (free_.size() < kFiberStackPoolSize) {
      free_.push_back(sc);
    } else {
      base_.deallocate(sc);
    }
  }

 private:
  BaseStackAllocator base_{kFiberStackBytes};
  std::vector<ctx::stack_context> free_;
};

StackPool& ThreadStackPool() {
  thread_local StackPool pool;
  return pool;
}

// The allocator Boost.Context is given: it draws from (and returns to) the thread's pool.
struct PooledStack {
  ctx::stack_context allocate() { return ThreadStackPool().Allocate(); }
  void deallocate(ctx::stack_context& sc) { ThreadStackPool().Deallocate(sc); }
};

FiberScheduler::Fiber& Current() {
  CHECK(current_fiber != nullptr) << "not inside a fiber";
  return *current_fiber;
}

// Switches from the running fiber back to the loop until something resumes it.
void SwitchToLoop(FiberScheduler::Fiber& f) { f.caller = std::move(f.caller).resume(); }

}  // namespace

FiberScheduler::FiberScheduler(Env& env)
    : env_(env), self_(std::make_shared<FiberScheduler*>(this)) {}

FiberScheduler::~FiberScheduler() {
  Shutdown();
  *self_ = nullptr;
}

FiberId FiberScheduler::Spawn(std::string name, std::function<void()> body) {
  auto fiber = std::make_unique<Fiber>();
  Fiber* f = fiber.get();
  f->id = next_id_++;
  f->name = std::move(name);
  f->scheduler = this;
  f->body = std::move(body);
  fibers_.emplace(f->id, std::move(fiber));
  const FiberId id = f->id;
  env_.Post([this, id] {
    auto it = fibers_.find(id);
    if (it != fibers_.end()) Start(it->second.get());
  });
  return id;
}

void FiberScheduler::Start(Fiber* f) {
  f->self = ctx::fiber(std::allocator_arg, PooledStack(), [f](ctx::fiber&& loop) {
    f->caller = std::move(loop);
    f->body();
    f->done = true;
    return std::move(f->caller);
  });
  Resume(f);
}

void FiberScheduler::Resume(Fiber* f) {
  CHECK(current_fiber == nullptr) << "fiber '" << f->name << "' resumed from inside a fiber";
  current_fiber = f;
  f->self = std::move(f->self).resume();
  current_fiber = nullptr;
  if (f->done) fibers_.erase(f->id);  // destroys the finished fiber's stack
}

bool FiberScheduler::Cancel(FiberId id) {
  auto it = fibers_.find(id);
  if (it == fibers_.end()) return false;
  Fiber& f = *it->second;
  f.cancelled = true;
  if (f.waiting) Waker(self_, id, f.wait_generation).Wake(WakeReason::kCancelled);
  return true;
}

void FiberScheduler::Shutdown() {
  CHECK(current_fiber == nullptr) << "FiberScheduler::Shutdown from inside a fiber";
  // Destroying a suspended ctx::fiber unwinds its stack (forced_unwind), running destructors.
  // Pop one at a time: an unwinding fiber may spawn or cancel others.
  while (!fibers_.empty()) {
    auto node = fibers_.extract(fibers_.begin());
    Fiber* f = node.mapped().get();
    current_fiber = f;
    f->self = ctx::fiber();
    current_fiber = nullptr;
  }
}

void FiberScheduler::WakeNow(FiberId id, uint64_t generation, WakeReason reason) {
  auto it = fibers_.find(id);
  if (it == fibers_.end()) return;
  Fiber* f = it->second.get();
  if (!f->waiting || f->wait_generation != generation) return;  // stale waker
  f->waiting = false;
  f->wake_reason = reason;
  Resume(f);
}

void FiberScheduler::Waker::Wake(WakeReason reason) const {
  FiberScheduler* s = scheduler();
  if (s == nullptr) return;
  s->env_.Post([handle = scheduler_, id = id_, generation = generation_, reason] {
    if (FiberScheduler* alive = *handle) alive->WakeNow(id, generation, reason);
  });
}

void FiberScheduler::Waker::WakeFromLoop(WakeReason reason) const {
  if (FiberScheduler* s = scheduler()) s->WakeNow(id_, generation_, reason);
}

FiberScheduler::Waker FiberScheduler::PrepareWait() {
  Fiber& f = Current();
  ++f.wait_generation;
  return Waker(f.scheduler->self_, f.id, f.wait_generation);
}

WakeReason FiberScheduler::Wait() {
  Fiber& f = Current();
  if (f.cancelled) return WakeReason::kCancelled;
  f.waiting = true;
  SwitchToLoop(f);
  return f.wake_reason;
}

namespace fiber {

bool InFiber() { return current_fiber != nullptr; }
FiberId CurrentId() { return Current().id; }
const std::string& CurrentName() { return Current().name; }
Env& CurrentEnv() { return Current().scheduler->env(); }

NodeId CurrentNodeId() {
  if (current_fiber != nullptr) return current_fiber->scheduler->env().node_id();
  Env* env = Env::Current();
  return env != nullptr ? env->node_id() : 0;
}

Status Sleep(Duration d) {
  FiberScheduler::Waker waker = FiberScheduler::PrepareWait();
  Env& env = CurrentEnv();
  const TimerId timer = env.After(d, [waker] { waker.WakeFromLoop(WakeReason::kTimer); });
  const WakeReason reason = FiberScheduler::Wait();
  if (reason == WakeReason::kCancelled) {
    env.Cancel(timer);
    return CancelledError("fiber cancelled during sleep");
  }
  return Status::Ok();
}

Status Yield() {
  FiberScheduler::Waker waker = FiberScheduler::PrepareWait();
  waker.Wake(WakeReason::kSignal);
  if (FiberScheduler::Wait() == WakeReason::kCancelled) {
    return CancelledError("fiber cancelled during yield");
  }
  return Status::Ok();
}

bool Cancelled() { return current_fiber != nullptr && current_fiber->cancelled; }

}  // namespace fiber
}  // namespace meta
