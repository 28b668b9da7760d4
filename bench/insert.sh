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
if [ ! -f "$dir/node_modules/sqlite-vec-linux-x64/vec0.so" ] \
   || [ ! -f "$dir/node_modules/@sqliteai/sqlite-vector-linux-x86_64/vector.so" ]; then
  [ -f "$dir/package.json" ] || echo '{"private": true}' > "$dir/package.json"
  (cd "$dir" && npm install --no-save --no-audit --no-fund --silent sqlite-vec-linux-x64 \
     @sqliteai/sqlite-vector-linux-x86_64 >&2)
fi
[ -s "$dir/kjv.txt" ] || bible -f "Gen1:1-Rev22:21" > "$dir/kjv.txt"
make -s -C "$top" build/insert_bench
echo "# docpipe insert benchmark — $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $n documents"
echo
cd "$top"
mkdir -p "$top/bench/results"
INSERT_CSV="$top/bench/results/insert.dat" QUERY_CSV="$top/bench/results/query.dat" \
  "$top/build/insert_bench" "$top/dist/docpipe.so" "$dir/kjv.txt" "$n" \
  "$dir/node_modules/sqlite-vec-linux-x64/vec0.so" \
  "$dir/node_modules/@sqliteai/sqlite-vector-linux-x86_64/vector"
gnuplot <<PLOT
set terminal png size 900,540
set output '$top/bench/results/insert.png'
set title 'docpipe insert throughput against index size (2-5 KB documents, exact decisions)'
set xlabel 'documents already stored'; set ylabel 'documents per second'
set logscale y; set grid
plot '$top/bench/results/insert.dat' u 1:2 w l lw 2 t 'docpipe INSERT'
PLOT
gnuplot <<PLOT
set terminal png size 900,540
set output '$top/bench/results/query.png'
set title 'nearest 10 documents, 1024-d: query latency against table size'
set xlabel 'documents in the table'; set ylabel 'ms per query'
set logscale xy; set grid; set key top left
plot '$top/bench/results/query.dat' u 1:2 w lp lw 2 t 'docpipe MATCH (exact)', \\
     '' u 1:3 w lp t 'sqlite-vec vec0 (exact)', \\
     '' u 1:4 w lp t 'sqlite-vector full scan (exact)', \\
     '' u 1:5 w lp t 'sqlite-vector quantized (approximate)', \\
     '' u 1:6 w lp t 'SQL ORDER BY cosine()'
PLOT
