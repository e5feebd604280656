#!/usr/bin/env bash
# Project lint: ci/lint.sh [ROOT]
#  1. The determinism boundary (DESIGN.md §1): raft/, store/ and controller/ never reach for clocks,
#     sleeps, threads, random devices, rand or gRPC themselves; time, randomness and I/O come through
#     core::Env.
#  2. clang-format conformance (.clang-format: Google style, 100 columns) of every C++ source.
# Prints each violation as file:line and exits 1 if there is any.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
status=0

forbidden='std::chrono::(system_clock|steady_clock|high_resolution_clock|utc_clock|file_clock)'
forbidden+='|std::this_thread|std::thread\b|std::jthread|std::async\b|std::random_device'
# libc randomness: rand(), random(), drand48()... (not a variable or method of that name)
forbidden+='|(^|[^_a-zA-Z0-9:.>])(rand|random|drand48|lrand48)\(\)|(^|[^_a-zA-Z0-9:.>])(srand|srandom|srand48)\('
forbidden+='|(^|[^_a-zA-Z0-9])(u|nano)?sleep\(|gettimeofday|clock_gettime|(^|[^_a-zA-Z0-9])time\(NULL|time\(nullptr'
forbidden+='|#include *[<"](grpc|grpcpp)/|#include *<(thread|random|future|ctime|sys/time\.h)>'
boundary_dirs=()
for d in raft store controller; do [ -d "$d" ] && boundary_dirs+=("$d"); done
if [ ${#boundary_dirs[@]} -gt 0 ]; then
  hits=$(grep -rnE "$forbidden" --include='*.h' --include='*.cc' "${boundary_dirs[@]}" \
         | grep -v '/testdata/' || true)
  if [ -n "$hits" ]; then
    echo "lint: determinism boundary crossed (use core::Env for time, timers, randomness, I/O):"
    echo "$hits" | sed 's/^/  /'
    status=1
  fi
fi

clang_format=${CLANG_FORMAT:-clang-format}
if ! command -v "$clang_format" >/dev/null; then
  echo "lint: $clang_format not found (ci/setup.sh installs it)"
  exit 1
fi
sources=$(find core raft store net sim controller fuzz cmd -name '*.h' -o -name '*.cc' 2>/dev/null | sort)
if [ -n "$sources" ]; then
  bad=$(echo "$sources" | xargs "$clang_format" --style=file --dry-run -Werror 2>&1 \
        | grep -E '^[^ ].*: (error|warning):' | cut -d: -f1,2 | sort -u || true)
  if [ -n "$bad" ]; then
    echo "lint: not clang-formatted (run: clang-format -i FILE):"
    echo "$bad" | sed 's/^/  /'
    status=1
  fi
fi

[ $status -eq 0 ] && echo "lint: OK"
exit $status
