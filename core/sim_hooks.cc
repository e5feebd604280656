#include "core/sim_hooks.h"

namespace meta::sim_hooks {

Hooks* current = nullptr;

}  // namespace meta::sim_hooks
