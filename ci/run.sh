#!/usr/bin/env bash
# Sets up, builds (Release) and runs the main job. Until the daemon exists that is the simulator:
# a seeded cluster of real nodes (Raft + RocksDB) on virtual time under faults, with its checkers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
bash ci/build.sh release metasim
./build/release/cmd/metasim --seed "${SEED:-1}" --nodes "${NODES:-3}" --duration "${DURATION:-30s}" \
  --faults "${FAULTS:-all}"
