#!/usr/bin/env bash
# Sets up, builds (Debug, ASan + UBSan) and runs every test under CTest, the lint included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
bash ci/build.sh debug
cd build/debug
ctest --output-on-failure -j "${META_TEST_JOBS:-2}" --timeout 900
