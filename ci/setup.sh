#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, only when some are missing (idempotent; a
# second run takes well under a second).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git clang-format
  librocksdb-dev libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libboost-context-dev librapidcheck-dev libgtest-dev libgmock-dev libspdlog-dev
  libbenchmark-dev libtomlplusplus-dev libjemalloc-dev
  etcd-server etcd-client   # cmd/metabench: the etcd it is compared with (and its smoke test)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install packages" >&2; exit 1; }
  SUDO=sudo
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
