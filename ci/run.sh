#!/usr/bin/env bash
# Sets up, builds (Release) and runs the main job. For now that is the simulator demo: a seeded,
# multi-node fiber workload on virtual time (it becomes the local metad cluster with the daemon).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
bash ci/build.sh release metasim
./build/release/cmd/metasim --seed "${SEED:-1}" --nodes "${NODES:-5}" --duration "${DURATION:-60s}"
