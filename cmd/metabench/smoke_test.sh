#!/usr/bin/env bash
# CTest: metabench runs every workload against a real 3-node metad cluster for a moment, with no
# errors and a nonzero count, and refuses bad flags with exit status 2. Numbers are not checked
# (tests never depend on speed; compare.sh measures).
#   smoke_test.sh METAD METACTL METABENCH WORKDIR
set -euo pipefail
metad=$1 metactl=$2 metabench=$3 dir=$4
cd "$(dirname "$0")/../.."
rm -rf "$dir"
mkdir -p "$dir"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

endpoints=127.0.0.1:9311,127.0.0.1:9312,127.0.0.1:9313
for i in 1 2 3; do
  cat >"$dir/node$i.toml" <<EOT
cluster_name = "metabench-smoke"
node_id = $i
data_dir = "$dir/node$i"
listen_addr = "127.0.0.1:931$i"
log_level = "warn"
[meta_addrs]
1 = "127.0.0.1:9311"
2 = "127.0.0.1:9312"
3 = "127.0.0.1:9313"
EOT
  "$metad" --config "$dir/node$i.toml" >"$dir/node$i.log" 2>&1 &
  pids+=($!)
done
if ! bash ci/cluster_ready.sh "$metactl" "$endpoints" 120; then
  echo "smoke: the cluster did not come up" >&2
  tail -n 20 "$dir"/node*.log >&2
  exit 1
fi

server_pids=$(IFS=,; echo "${pids[*]}")
for w in put get sget mixed session offset; do
  if ! out=$("$metabench" --endpoints "$endpoints" --workload "$w" --duration 1 --warmup 0.2 \
    --clients 8 --conns 2 --key-space 50 --batch 10 --server-pids "$server_pids" --json --seed 7); then
    echo "smoke: metabench $w failed: $out" >&2
    exit 1
  fi
  echo "$w: $out"
  grep -q '"errors":0' <<<"$out" || { echo "smoke: $w had errors" >&2; exit 1; }
  grep -Eq '"ops":[1-9]' <<<"$out" || { echo "smoke: $w did nothing" >&2; exit 1; }
  grep -q '"server_cpu_us_per_op":' <<<"$out" || { echo "smoke: $w lacks server CPU" >&2; exit 1; }
done

# The etcd backend speaks etcd's own wire protocol: checked against a one-member etcd (Debian's
# etcd-server, which ci/setup.sh installs).
if command -v etcd >/dev/null; then
  etcd --name smoke --data-dir "$dir/etcd" --listen-client-urls http://127.0.0.1:9319 \
    --advertise-client-urls http://127.0.0.1:9319 --listen-peer-urls http://127.0.0.1:9320 \
    --initial-advertise-peer-urls http://127.0.0.1:9320 \
    --initial-cluster smoke=http://127.0.0.1:9320 >"$dir/etcd.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    ETCDCTL_API=3 etcdctl --endpoints 127.0.0.1:9319 endpoint health >/dev/null 2>&1 && break
    sleep 0.2
  done
  for w in put get sget; do
    if ! out=$("$metabench" --backend etcd --endpoints 127.0.0.1:9319 --workload "$w" \
      --duration 1 --warmup 0.2 --clients 8 --conns 2 --key-space 50 --json --seed 7); then
      echo "smoke: metabench etcd $w failed: $out" >&2
      tail -n 20 "$dir/etcd.log" >&2
      exit 1
    fi
    echo "etcd $w: $out"
    grep -q '"errors":0' <<<"$out" || { echo "smoke: etcd $w had errors" >&2; exit 1; }
    grep -Eq '"ops":[1-9]' <<<"$out" || { echo "smoke: etcd $w did nothing" >&2; exit 1; }
  done
else
  echo "smoke: etcd not installed; the etcd backend is not checked"
fi

# Usage errors exit 2 and say what is wrong.
for bad in "--workload nope" "--backend etcd --workload session" "--clients 0" "--key-size 2"; do
  set +e
  msg=$("$metabench" $bad 2>&1 >/dev/null)
  code=$?
  set -e
  [ "$code" = 2 ] || { echo "smoke: '$bad' exited $code, want 2" >&2; exit 1; }
  echo "refused '$bad': $(head -n1 <<<"$msg")"
done
echo "smoke: OK"
