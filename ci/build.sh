#!/usr/bin/env bash
# Configures and builds one build type: ci/build.sh debug|release [targets...]
#   debug   — ASan + UBSan, what the tests run under (build/debug)
#   release — optimized, for benchmarks and the daemon (build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-debug}
shift || true
case "$kind" in
  debug) type=Debug ;;
  release) type=Release ;;
  *) echo "usage: ci/build.sh debug|release [targets...]" >&2; exit 2 ;;
esac
dir=build/$kind
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type"
fi
# Two cores: two jobs keep the machine responsive and memory well within bounds.
cmake --build "$dir" -j "${META_BUILD_JOBS:-2}" ${1:+--target "$@"}
