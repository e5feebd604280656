#!/usr/bin/env bash
# etcd and metad side by side, one harness (metabench), one machine, one disk:
#   bash cmd/metabench/compare.sh [--quick]
# Starts a 3-member etcd (Debian's etcd-server) and a 3-node metad cluster on loopback, with their
# data on the same disk (fsync on, as always), and runs each workload against both back to back,
# so that the two numbers of a row are measured seconds apart, not minutes
# (this kind of VM drifts by tens of percent over a few minutes). Meanwhile the idle cluster takes
# 3-4 % of one core (idle etcd 4.4 %, idle metad 2.7 %: slightly against metad). Then the workloads
# only metad has, and a ratio table. Data, logs and the raw JSON results go under bench-data/
# (deleted at the start of each run). --quick: 3 s per workload, not 10.
# Environment: BENCH_DIR (default bench-data), BENCH_SECONDS, BENCH_CLIENTS (default 1000).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${BENCH_SECONDS:-10}
[ "${1:-}" = "--quick" ] && seconds=${BENCH_SECONDS:-3}
clients=${BENCH_CLIENTS:-1000}
conns=$((clients >= 100 ? 100 : clients))
dir=${BENCH_DIR:-bench-data}
bin=build/daemon/cmd
results=$dir/results.jsonl

bash ci/setup.sh  # etcd-server included
bash ci/build.sh daemon metad metactl metabench

pids=()
stop_servers() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  pids=()
}
trap stop_servers EXIT

rm -rf "$dir"
mkdir -p "$dir/logs"
: >"$results"

# bench LABEL BACKEND ENDPOINTS METABENCH-ARGS...: one workload, appended to the results.
bench() {
  local label=$1 backend=$2 eps=$3
  shift 3
  echo "== $backend: $label"
  "$bin/metabench" --backend "$backend" --endpoints "$eps" --label "$label" \
    --duration "$seconds" --warmup 2 --key-size 8 --value-size 256 \
    --server-pids "${server_pids[$backend]}" --json "$@" >>"$results" ||
    echo "== $backend: $label: metabench reported errors (see the table above); row kept" >&2
}

# both LABEL ENDPOINT-KIND METABENCH-ARGS...: one workload against etcd and metad, back to back,
# each going first every other time (the one measured second meets what the first left running:
# flushes, compactions, a warm page cache). ENDPOINT-KIND is all, leader or follower: one client
# is latency-bound, and a write through a follower pays a forwarding hop, so it runs against the
# (metadata) leader and against a follower.
pairs=0
both() {
  local label=$1 kind=$2 backend order="etcd meta"
  shift 2
  [ $((pairs++ % 2)) -eq 0 ] || order="meta etcd"
  for backend in $order; do
    bench "$label" "$backend" "${endpoints[$backend,$kind]}" "$@"
  done
}

declare -A server_pids endpoints

# --- etcd ---------------------------------------------------------------------------------------
etcd_cluster=""
for i in 1 2 3; do etcd_cluster+="${etcd_cluster:+,}e$i=http://127.0.0.1:${i}2380"; done
for i in 1 2 3; do
  etcd --name "e$i" --data-dir "$dir/etcd$i" \
    --listen-client-urls "http://127.0.0.1:${i}2379" \
    --advertise-client-urls "http://127.0.0.1:${i}2379" \
    --listen-peer-urls "http://127.0.0.1:${i}2380" \
    --initial-advertise-peer-urls "http://127.0.0.1:${i}2380" \
    --initial-cluster "$etcd_cluster" --initial-cluster-state new \
    --initial-cluster-token metabench --log-level warn >"$dir/logs/etcd$i.log" 2>&1 &
  pids+=($!)
done
etcd_endpoints=127.0.0.1:12379,127.0.0.1:22379,127.0.0.1:32379
for _ in $(seq 1 100); do
  ETCDCTL_API=3 etcdctl --endpoints "$etcd_endpoints" endpoint health >/dev/null 2>&1 && break
  sleep 0.2
done
ETCDCTL_API=3 etcdctl --endpoints "$etcd_endpoints" endpoint health
# `endpoint status -w simple`: "addr, id, version, db size, is leader, ..."
etcd_leader=$(ETCDCTL_API=3 etcdctl --endpoints "$etcd_endpoints" endpoint status -w simple |
  awk -F', ' '$5 == "true" {print $1}' | sed 's|^http://||')
etcd_follower=$(tr ',' '\n' <<<"$etcd_endpoints" | grep -v -x "$etcd_leader" | head -n1)
server_pids[etcd]=$(IFS=,; echo "${pids[*]}")
endpoints[etcd,all]=$etcd_endpoints
endpoints[etcd,leader]=$etcd_leader
endpoints[etcd,follower]=$etcd_follower

# --- metad --------------------------------------------------------------------------------------
meta_pids=()
for i in 1 2 3; do
  cat >"$dir/metad$i.toml" <<EOT
cluster_name = "metabench"
node_id = $i
data_dir = "$dir/metad$i"
listen_addr = "127.0.0.1:920$i"
log_level = "warn"
[meta_addrs]
1 = "127.0.0.1:9201"
2 = "127.0.0.1:9202"
3 = "127.0.0.1:9203"
EOT
  "$bin/metad" --config "$dir/metad$i.toml" >"$dir/logs/metad$i.log" 2>&1 &
  pids+=($!)
  meta_pids+=($!)
done
meta_endpoints=127.0.0.1:9201,127.0.0.1:9202,127.0.0.1:9203
bash ci/cluster_ready.sh "$bin/metactl" "$meta_endpoints" 60 ||
  { echo "metad did not come up; logs in $dir/logs/" >&2; exit 1; }
"$bin/metactl" --endpoints "$meta_endpoints" status
# `metactl status`: "ID (ADDR)  GROUP  KIND  ROLE ..."; the KV lives in the metadata group.
meta_leader=$("$bin/metactl" --endpoints "$meta_endpoints" status |
  awk '$4 == "metadata" && $5 == "leader" {gsub(/[()]/, "", $2); print $2; exit}')
meta_follower=$(tr ',' '\n' <<<"$meta_endpoints" | grep -v -x "$meta_leader" | head -n1)
server_pids[meta]=$(IFS=,; echo "${meta_pids[*]}")
endpoints[meta,all]=$meta_endpoints
endpoints[meta,leader]=$meta_leader
endpoints[meta,follower]=$meta_follower

# --- the workloads -------------------------------------------------------------------------------
both "put, 1 client, to the leader" leader --workload put --conns 1 --clients 1
both "put, 1 client, via a follower" follower --workload put --conns 1 --clients 1
both "put, $clients clients" all --workload put --conns "$conns" --clients "$clients"
for w in "linearizable get:get" "serializable get:sget" "mixed 90/10:mixed"; do
  both "${w%%:*}, $clients clients" all --workload "${w##*:}" --conns "$conns" \
    --clients "$clients" --key-space 10000
done
bench "session creates, 100 per batch, 64 clients" meta "$meta_endpoints" --workload session \
  --conns 16 --clients 64 --batch 100
bench "offset commits, 100 per batch, 64 clients" meta "$meta_endpoints" --workload offset \
  --conns 16 --clients 64 --batch 100
stop_servers

# --- the ratio table ----------------------------------------------------------------------------
awk '
  function field(line, name,   m) {
    if (match(line, "\"" name "\":(\"[^\"]*\"|[-0-9.e+]+)")) {
      m = substr(line, RSTART + length(name) + 3, RLENGTH - length(name) - 3)
      gsub(/"/, "", m)
      return m
    }
    return ""
  }
  {
    label = field($0, "label"); backend = field($0, "backend")
    if (!(label in seen)) { seen[label] = 1; order[n++] = label }
    rate[backend, label] = field($0, "items_per_s")
    p50[backend, label] = field($0, "p50_ms")
    cpu[backend, label] = field($0, "server_cpu_us_per_op")
    rss[backend, label] = field($0, "server_peak_rss_mib")
  }
  END {
    printf "%-46s %10s %10s %7s %9s %9s %10s %10s %9s %9s\n", "workload", "etcd/s", "metad/s",
           "ratio", "etcd p50", "metad p50", "etcd cpu", "metad cpu", "etcd mem", "metad mem"
    for (i = 0; i < n; i++) {
      l = order[i]; e = rate["etcd", l]; m = rate["meta", l]
      printf "%-46s %10s %10.0f %7s %9s %9s %10s %10s %9s %9s\n", l,
             (e == "" ? "-" : sprintf("%.0f", e)), m, (e == "" || e == 0 ? "-" : sprintf("%.2fx", m / e)),
             (e == "" ? "-" : sprintf("%.3f", p50["etcd", l])), sprintf("%.3f", p50["meta", l]),
             (e == "" ? "-" : sprintf("%.0f us", cpu["etcd", l])), sprintf("%.0f us", cpu["meta", l]),
             (e == "" ? "-" : sprintf("%.0f", rss["etcd", l])), sprintf("%.0f", rss["meta", l])
    }
    print "(items/s: operations, or sessions/offsets for batches; p50 in ms; cpu: all 3 servers, per"
    print " operation; mem: the 3 servers peak resident MiB, summed, by the end of the workload)"
  }' "$results"
