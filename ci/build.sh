#!/usr/bin/env bash
# Configures and builds one build type: ci/build.sh debug|release [targets...]
#   debug   — ASan + UBSan, what the tests run under (build/debug)
#   release — optimized, for benchmarks and metasim (build/release)
#   daemon  — optimized, simulation hooks compiled out: metad, metactl, metabench (build/daemon)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-debug}
shift || true
case "$kind" in
  debug) type=Debug ;;
  release) type=Release ;;
  daemon) type=Release extra=-DMETA_NO_SIM_HOOKS=ON ;;
  *) echo "usage: ci/build.sh debug|release|daemon [targets...]" >&2; exit 2 ;;
esac
# The daemon tree holds the daemon's programs only (the simulator and tests need the hooks).
if [ "$kind" = daemon ] && [ $# -eq 0 ]; then set -- metad metactl metabench; fi
dir=build/$kind
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" ${extra:-}
fi
# Two cores: two jobs keep the machine responsive and memory well within bounds.
cmake --build "$dir" -j "${META_BUILD_JOBS:-2}" ${1:+--target "$@"}
