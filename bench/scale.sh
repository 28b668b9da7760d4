#!/bin/sh
# scale.sh — both table kinds as they grow (scale_bench.c), then plots.
#   sh bench/scale.sh NSET NVECTOR [markov|verses]
# Figures go to bench/results/scale.md (markov) or scale-verses.md.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/build/bench
nset=${1:-1000000}
nvec=${2:-100000}
corpus=${3:-markov}
mkdir -p "$dir" "$top/bench/results"
[ -s "$dir/kjv.txt" ] || bible -f "Gen1:1-Rev22:21" > "$dir/kjv.txt"
case $corpus in
  markov) out=$top/bench/results/scale.md; sfx=;
          what="word-bigram text from the KJV (most 5-shingles a document's own, common phrases shared)" ;;
  verses) out=$top/bench/results/scale-verses.md; sfx=-verses;
          what="random KJV verses (every verse in ~n/1,240 documents: the set kind's worst case)" ;;
  *) echo "scale.sh: corpus must be markov or verses, not $corpus" >&2; exit 2 ;;
esac
{
  echo "# docpipe scale benchmark — $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
  echo
  echo "2-5 KB documents of $what, 5 % planted near-copies, 1,000 per transaction, WAL, stats=off, default options of each kind."
  echo
} > "$out"
for kind in jaccard vector; do
  n=$nset; [ "$kind" = vector ] && n=$nvec
  # the set kind is measured once more after 'optimize' (SCALE_OPTIMIZE)
  SCALE_OPTIMIZE=1 "$top/build/scale_bench" "$top/dist/docpipe.so" "$dir/kjv.txt" \
    "$kind" "$n" "$dir/scale-$kind.db" "$corpus" | tee "$dir/scale-$kind.md"
  rm -f "$dir/scale-$kind.db" "$dir/scale-$kind.db-wal" "$dir/scale-$kind.db-shm"
done
{
  grep -v '^| dedup\|^| optimize' "$dir/scale-jaccard.md"
  tail -n +3 "$dir/scale-vector.md" | grep -v '^| dedup'
  echo
  echo "'optimize' (INSERT INTO docs(docs) VALUES('optimize')) merges the set index's runs into one, as after a bulk load; the row \"jaccard, optimized\" above is measured after it (its file keeps the merged runs' pages free until a VACUUM)."
  echo
  echo "| kind | stored | optimize |"
  echo "|---|---|---|"
  grep -h '^| optimize' "$dir/scale-jaccard.md" | sed 's/^| optimize /| /'
  echo
  echo "dedup_index('docs') in mode 'first' over the whole table, on a new connection; SQLite MB: its peak through SQLite's allocator; RSS MB: the process's peak resident memory during it (the set join's large arrays come from malloc); duplicates: the table's INSERT decisions / dedup_index's (equal: the same rule)."
  echo
  echo "| kind | stored | seconds | SQLite MB | RSS MB | duplicates: table / dedup_index |"
  echo "|---|---|---|---|---|---|"
  grep -h '^| dedup' "$dir/scale-jaccard.md" "$dir/scale-vector.md" | sed 's/^| dedup /| /'
} >> "$out"
# columns: stored docs/s first-insert-ms
for kind in jaccard vector; do
  tail -n +3 "$dir/scale-$kind.md" | grep -v '^| dedup\|^| optimize\|optimized' | awk -F'|' '{print $3, $4, $5}' > "$top/bench/results/scale$sfx-$kind.dat"
done
gnuplot <<PLOT
set terminal png size 900,540
set output '$top/bench/results/scale$sfx.png'
set multiplot layout 1,2
set logscale xy; set grid; set key bottom left
set xlabel 'documents stored'; set ylabel 'documents per second'
set title 'insert throughput'
plot '$top/bench/results/scale$sfx-jaccard.dat' u 1:2 w lp lw 2 t "measure='jaccard' (sets)", \\
     '$top/bench/results/scale$sfx-vector.dat' u 1:2 w lp lw 2 t "measure='vector' (dense)"
set ylabel 'ms'; set key top left
set title 'first INSERT on a new connection'
plot '$top/bench/results/scale$sfx-jaccard.dat' u 1:3 w lp lw 2 t "measure='jaccard' (sets)", \\
     '$top/bench/results/scale$sfx-vector.dat' u 1:3 w lp lw 2 t "measure='vector' (dense)"
unset multiplot
PLOT
cat "$out"
