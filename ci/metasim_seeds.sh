#!/usr/bin/env bash
# Many simulation seeds with the Release metasim (ASan would make them ~40x slower), plus a
# determinism check on a sample: ci/metasim_seeds.sh [SEEDS] [DETERMINISM_SEEDS]
# ci/test.sh builds build/release/cmd/metasim first; without it this test is skipped (exit 77).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
metasim=$root/build/release/cmd/metasim
seeds=${1:-1..300}
determinism=${2:-1..10}
if [ ! -x "$metasim" ]; then
  echo "skipped: $metasim is missing (bash ci/build.sh release metasim)"
  exit 77
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$metasim" --seeds "$seeds" --duration 10s --faults all 2>/dev/null > "$out"
status=$?
grep -E "FAIL|^  " "$out" | head -40
tail -n 1 "$out"
"$metasim" --seeds "$determinism" --duration 10s --faults all --check-determinism 2>/dev/null > "$out"
status2=$?
grep -E "FAIL|^  " "$out" | head -40
tail -n 1 "$out" | sed 's/^/determinism: /'
[ $status -eq 0 ] && [ $status2 -eq 0 ]
