#!/usr/bin/env bash
# Waits until a metad cluster is ready: every member answers and reports a leader for each of its
# groups. Used by ci/run.sh, cmd/metabench/compare.sh and cmd/metabench/smoke_test.sh.
#   bash ci/cluster_ready.sh METACTL ENDPOINTS SECONDS     (exit 0: ready; 1: not within SECONDS)
set -uo pipefail
metactl=$1 endpoints=$2 seconds=$3
deadline=$((SECONDS + seconds))
while [ "$SECONDS" -lt "$deadline" ]; do
  if json=$("$metactl" --endpoints "$endpoints" --json status 2>/dev/null); then
    groups=$(grep -o '"group_id"' <<<"$json" | wc -l)
    leaders=$(grep -o '"leader_id"' <<<"$json" | wc -l)
    [ "$groups" -gt 0 ] && [ "$groups" = "$leaders" ] && exit 0
  fi
  sleep 0.1
done
exit 1
