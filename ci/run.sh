#!/usr/bin/env bash
# The README's run command: installs what is missing, builds (Release, simulation hooks compiled out), starts a 3-node cluster on
# loopback (ports 9101-9103, data and logs under local-cluster/) and shows how to use it.
#   bash ci/run.sh          start it (a cluster already running is stopped first; data is kept)
#   bash ci/run.sh stop     stop it (SIGTERM: each node drains and exits)
#   bash ci/run.sh clean    stop it and delete its data
set -euo pipefail
cd "$(dirname "$0")/.."
dir=local-cluster
bin=build/daemon/cmd

stop() {
  local pids=()
  for i in 1 2 3; do
    local f=$dir/node$i.pid
    if [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then
      kill -TERM "$(cat "$f")"
      pids+=("$(cat "$f")")
    fi
    rm -f "$f"
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
}

case "${1:-start}" in
  stop) stop; echo "local cluster stopped"; exit 0 ;;
  clean) stop; rm -rf "$dir"; echo "local cluster stopped and its data deleted"; exit 0 ;;
  start) ;;
  *) echo "usage: bash ci/run.sh [start|stop|clean]" >&2; exit 2 ;;
esac

bash ci/setup.sh
bash ci/build.sh daemon  # metad, metactl, metabench
stop
mkdir -p "$dir/logs"
for i in 1 2 3; do
  nohup "$bin/metad" --config "deploy/local/node$i.toml" >>"$dir/logs/node$i.log" 2>&1 &
  echo $! >"$dir/node$i.pid"
done

# Ready when every member reports a leader for each of its groups.
ready=0
bash ci/cluster_ready.sh "$bin/metactl" 127.0.0.1:9101,127.0.0.1:9102,127.0.0.1:9103 20 && ready=1
if [ "$ready" != 1 ]; then
  echo "the cluster did not come up; logs in $dir/logs/" >&2
  tail -n 20 "$dir"/logs/*.log >&2
  exit 1
fi
"$bin/metactl" status
cat <<EOT

A 3-node Meta Service cluster is running on 127.0.0.1:9101-9103 (logs: $dir/logs/).
  $bin/metactl put /hello world
  $bin/metactl get /hello                     # linearizable, through any member
  $bin/metactl --endpoints 127.0.0.1:9102 get /hello --serializable
  $bin/metactl list /
  $bin/metactl offset commit my-group my-topic 0 42
  $bin/metactl leader transfer 2
  $bin/metactl --help
Stop it with: bash ci/run.sh stop      (delete its data too: bash ci/run.sh clean)
EOT
