#!/bin/sh
# kernel.sh — build and run bench/kernel_bench.c, with sqlite-vec from npm
# installed into build/bench at bench time (never vendored).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/build/bench
mkdir -p "$dir"
if [ ! -f "$dir/node_modules/sqlite-vec-linux-x64/vec0.so" ]; then
  (cd "$dir" && npm install --no-save --no-audit --no-fund --silent sqlite-vec-linux-x64 >&2)
fi
make -s -C "$top" build/kernel_bench
echo "# docpipe kernel benchmark — $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
"$top/build/kernel_bench" "$top/dist/docpipe.so" "$top/test/fixtures/seed-compat/docs.jsonl" \
  "$dir/node_modules/sqlite-vec-linux-x64/vec0.so"
