#!/bin/sh
# scale.sh — both table kinds as they grow (scale_bench.c), then plots.
#   sh bench/scale.sh NSET NVECTOR
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/build/bench
nset=${1:-1000000}
nvec=${2:-100000}
mkdir -p "$dir" "$top/bench/results"
[ -s "$dir/kjv.txt" ] || bible -f "Gen1:1-Rev22:21" > "$dir/kjv.txt"
out=$top/bench/results/scale.md
{
  echo "# docpipe scale benchmark — $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
  echo
  echo "2-5 KB KJV documents, 5 % planted near-copies, 1,000 per transaction, WAL, stats=off, default options of each kind."
  echo
} > "$out"
for kind in jaccard vector; do
  n=$nset; [ "$kind" = vector ] && n=$nvec
  "$top/build/scale_bench" "$top/dist/docpipe.so" "$dir/kjv.txt" "$kind" "$n" \
    "$dir/scale-$kind.db" | tee "$dir/scale-$kind.md"
  rm -f "$dir/scale-$kind.db" "$dir/scale-$kind.db-wal" "$dir/scale-$kind.db-shm"
done
{
  cat "$dir/scale-jaccard.md"
  tail -n +3 "$dir/scale-vector.md"
} >> "$out"
# columns: stored docs/s first-insert-ms
for kind in jaccard vector; do
  tail -n +3 "$dir/scale-$kind.md" | awk -F'|' '{print $3, $4, $5}' > "$top/bench/results/scale-$kind.dat"
done
gnuplot <<PLOT
set terminal png size 900,540
set output '$top/bench/results/scale.png'
set multiplot layout 1,2
set logscale xy; set grid; set key bottom left
set xlabel 'documents stored'; set ylabel 'documents per second'
set title 'insert throughput'
plot '$top/bench/results/scale-jaccard.dat' u 1:2 w lp lw 2 t "measure='jaccard' (sets)", \\
     '$top/bench/results/scale-vector.dat' u 1:2 w lp lw 2 t "measure='vector' (dense)"
set ylabel 'ms'; set key top left
set title 'first INSERT on a new connection'
plot '$top/bench/results/scale-jaccard.dat' u 1:3 w lp lw 2 t "measure='jaccard' (sets)", \\
     '$top/bench/results/scale-vector.dat' u 1:3 w lp lw 2 t "measure='vector' (dense)"
unset multiplot
PLOT
cat "$out"
