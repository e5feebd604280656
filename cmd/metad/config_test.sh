#!/usr/bin/env bash
# CTest: metad refuses bad [storage] values with the key's name and exit status 2 (as for every
# config error) before it opens anything, and a good config's memtable sizes reach RocksDB (its
# OPTIONS file in the data dir).
#   config_test.sh METAD WORKDIR
set -euo pipefail
metad=$1 dir=$2
rm -rf "$dir"
mkdir -p "$dir"
pid=""
cleanup() { [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true; }
trap cleanup EXIT

# config FILE STORAGE-LINES...: a one-node config on a free-ish port with the given [storage] keys.
config() {
  local file=$1
  shift
  {
    echo 'cluster_name = "config-test"'
    echo 'node_id = 1'
    echo "data_dir = \"$dir/data\""
    echo 'listen_addr = "127.0.0.1:9321"'
    echo 'log_level = "warn"'
    echo '[meta_addrs]'
    echo '1 = "127.0.0.1:9321"'
    echo '[storage]'
    printf '%s\n' "$@"
  } >"$file"
}

# refused MESSAGE STORAGE-LINES...: metad exits 2 naming the problem, and creates no data dir.
refused() {
  local want=$1
  shift
  config "$dir/bad.toml" "$@"
  local status=0
  "$metad" --config "$dir/bad.toml" >"$dir/bad.log" 2>&1 || status=$?
  if [ "$status" -ne 2 ] || ! grep -qF "$want" "$dir/bad.log"; then
    echo "config_test: '$*' gave status $status, wanted 2 with '$want':" >&2
    cat "$dir/bad.log" >&2
    exit 1
  fi
  [ ! -e "$dir/data" ] || { echo "config_test: '$*' created the data dir" >&2; exit 1; }
}
refused "storage.metadata_memtable_mb must be in 1..4096" "metadata_memtable_mb = 0"
refused "storage.data_memtable_mb must be in 1..4096" "data_memtable_mb = 5000"
refused "storage.log_memtable_mb = -1 is out of range" "log_memtable_mb = -1"
refused "storage.offset_memtable_mb must be an integer" 'offset_memtable_mb = "4"'
refused "unknown config key storage.memtable_mb" "memtable_mb = 4"

config "$dir/good.toml" "metadata_memtable_mb = 2" "offset_memtable_mb = 3" "data_memtable_mb = 5" \
  "log_memtable_mb = 6"
"$metad" --config "$dir/good.toml" >"$dir/good.log" 2>&1 &
pid=$!
# RocksDB writes an OPTIONS file as it opens and again as it creates each missing column family
# (each first as a .dbtmp, then renamed), and deletes older ones: poll until the newest complete
# file shows every size, which it does once the node has opened its store.
# sizes: the write_buffer_size of each column family checked, in the newest OPTIONS file.
sizes() {
  local options
  options=$(find "$dir/data" -maxdepth 1 -name 'OPTIONS-*' ! -name '*.dbtmp' 2>/dev/null |
    sort | tail -n 1 || true)
  [ -n "$options" ] || return 0
  awk '/^\[CFOptions "/ {cf = $0; gsub(/^\[CFOptions "|"\]$/, "", cf); next} /^\[/ {cf = ""}
    cf != "" && $1 ~ /^write_buffer_size=/ {sub(/.*=/, "", $1); size[cf] = $1}
    END {print "metadata=" size["metadata"], "offset=" size["offset"], "data=" size["data"],
         "raft_log=" size["raft_log"]}' "$options" 2>/dev/null || true
}
want="metadata=$((2 << 20)) offset=$((3 << 20)) data=$((5 << 20)) raft_log=$((6 << 20))"
got=""
for _ in $(seq 1 200); do
  got=$(sizes)
  [ "$got" = "$want" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "config_test: metad exited:" >&2; cat "$dir/good.log" >&2; exit 1; }
  sleep 0.1
done
[ "$got" = "$want" ] || { echo "config_test: memtables '$got', wanted '$want'" >&2; exit 1; }
echo "config_test: ok"
