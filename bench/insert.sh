#!/bin/sh
# insert.sh — insert throughput and nearest-document queries (insert_bench.c)
# on King James Bible verses from Debian's bible-kjv, with sqlite-vec from
# npm installed into build/bench at bench time (never vendored).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/build/bench
n=${1:-101000}
mkdir -p "$dir"
if [ "$n" = --kjv-only ]; then      # just make the verse file (bench-dedup)
  [ -s "$dir/kjv.txt" ] || bible -f "Gen1:1-Rev22:21" > "$dir/kjv.txt"
  exit 0
fi
if [ ! -f "$dir/node_modules/sqlite-vec-linux-x64/vec0.so" ]; then
  (cd "$dir" && npm install --no-save --no-audit --no-fund --silent sqlite-vec-linux-x64 >&2)
fi
[ -s "$dir/kjv.txt" ] || bible -f "Gen1:1-Rev22:21" > "$dir/kjv.txt"
make -s -C "$top" build/insert_bench
echo "# docpipe insert benchmark — $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $n documents"
echo
cd "$top"
mkdir -p "$top/bench/results"
INSERT_CSV="$top/bench/results/insert.dat" "$top/build/insert_bench" \
  "$top/dist/docpipe.so" "$dir/kjv.txt" "$n" \
  "$dir/node_modules/sqlite-vec-linux-x64/vec0.so"
gnuplot <<PLOT
set terminal png size 900,540
set output '$top/bench/results/insert.png'
set title 'docpipe insert throughput against index size (2-5 KB documents, exact decisions)'
set xlabel 'documents already stored'; set ylabel 'documents per second'
set logscale y; set grid
plot '$top/bench/results/insert.dat' u 1:2 w l lw 2 t 'docpipe INSERT'
PLOT
