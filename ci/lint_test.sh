#!/usr/bin/env bash
# Proves the lint catches what it should: copies the tree, plants one violation at a time, and
# expects ci/lint.sh to fail naming the planted file. Also expects the clean tree to pass.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fresh_copy() {
  rm -rf "$work/tree"
  mkdir -p "$work/tree"
  (cd "$src" && tar cf - --exclude=./build --exclude=./.git .) | (cd "$work/tree" && tar xf -)
  mkdir -p "$work/tree/raft" "$work/tree/store" "$work/tree/controller"
}

expect_fail() {  # name file content
  local name=$1 file=$2 content=$3
  fresh_copy
  printf '%s\n' "$content" > "$work/tree/$file"
  if out=$(bash "$src/ci/lint.sh" "$work/tree" 2>&1); then
    echo "FAIL ($name): lint passed with a planted violation in $file"
    exit 1
  fi
  if ! grep -q "$file" <<<"$out"; then
    echo "FAIL ($name): lint failed but did not name $file:"
    echo "$out"
    exit 1
  fi
  echo "ok: $name caught"
}

fresh_copy
bash "$src/ci/lint.sh" "$work/tree" >/dev/null || { echo "FAIL: clean tree does not pass lint"; exit 1; }
echo "ok: clean tree passes"

expect_fail "thread include" raft/planted.cc '#include <thread>'
expect_fail "steady_clock" store/planted.cc 'auto t = std::chrono::steady_clock::now();'
expect_fail "sleep" controller/planted.cc 'void f() { usleep(10); }'
expect_fail "rand" raft/planted2.cc 'int f() { return rand(); }'
expect_fail "random_device" store/planted2.cc 'std::random_device rd;'
expect_fail "grpc include" controller/planted2.h '#include <grpcpp/grpcpp.h>'
expect_fail "clock_gettime" raft/planted3.cc 'void f() { clock_gettime(0, nullptr); }'
expect_fail "format" core/planted_format.cc 'int   f( ) {return 1 ;}'
echo "PASS"
