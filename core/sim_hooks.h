// Fault sites and coverage probes (FoundationDB's BUGGIFY and TEST()):
//
//   if (SIM_BUGGIFY) { ...a legal but rare behaviour: a delay, an early compaction... }
//   SIM_PROBE("raft: follower log truncated by a new leader");
//
// Outside simulation no hooks are installed and each costs one predictable branch on a global
// pointer; building with -DMETA_NO_SIM_HOOKS compiles both to nothing. In simulation the run's
// hooks decide, deterministically from the seed, which fault sites are active (each site is
// switched on for a run with some probability, then fires at random), and count probe hits for
// the run's coverage summary. Single-threaded: only the simulator installs hooks.
#pragma once

namespace meta::sim_hooks {

class Hooks {
 public:
  virtual ~Hooks() = default;
  virtual bool Buggify(const char* file, int line) = 0;
  virtual void Probe(const char* name) = 0;
};

// The installed hooks, or null (production, and tests that do not install any).
extern Hooks* current;

}  // namespace meta::sim_hooks

#ifdef META_NO_SIM_HOOKS
#define SIM_BUGGIFY false
#define SIM_PROBE(name) ((void)0)
#else
#define SIM_BUGGIFY \
  (::meta::sim_hooks::current != nullptr && ::meta::sim_hooks::current->Buggify(__FILE__, __LINE__))
#define SIM_PROBE(name)                                                                 \
  do {                                                                                  \
    if (::meta::sim_hooks::current != nullptr) ::meta::sim_hooks::current->Probe(name); \
  } while (false)
#endif
