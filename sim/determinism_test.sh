#!/usr/bin/env bash
# The same seed must give the same trace hash in separate processes; different seeds must differ.
set -euo pipefail
metasim=$1
hash_of() { "$metasim" --workload pingpong --seed "$1" --nodes 4 --duration 10s | sed -n 's/.*trace_hash=\(0x[0-9a-f]*\).*/\1/p'; }
a=$(hash_of 7); b=$(hash_of 7); c=$(hash_of 8)
echo "seed 7: $a, seed 7 again: $b, seed 8: $c"
[ -n "$a" ] || { echo "FAIL: metasim printed no trace hash"; exit 1; }
[ "$a" = "$b" ] || { echo "FAIL: seed 7 gave two different trace hashes"; exit 1; }
[ "$a" != "$c" ] || { echo "FAIL: seeds 7 and 8 gave the same trace hash"; exit 1; }
echo "PASS"
