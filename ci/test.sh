#!/usr/bin/env bash
# Sets up, builds (Debug, ASan + UBSan; plus a Release metasim for the simulation seeds) and runs
# every test under CTest, the lint included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
bash ci/build.sh debug
# The simulation seeds run on a Release metasim (see ci/metasim_seeds.sh, a CTest test).
bash ci/build.sh release metasim
# The daemon as the run command builds it (simulation hooks compiled out): it must build too.
bash ci/build.sh daemon
cd build/debug
ctest --output-on-failure -j "${META_TEST_JOBS:-2}" --timeout 900
