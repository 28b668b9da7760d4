#!/bin/sh
# deps.sh — make sure the Debian packages docpipe builds and tests with are
# installed.  Usage: tools/deps.sh build|test|bench|cluster
#
# Each group lists "package:file-that-proves-it" pairs.  Missing packages are
# installed with apt-get when we are root (after one apt-get update); when we
# are not, the script names exactly what to install and fails.
set -eu

build="libsqlite3-dev:/usr/include/sqlite3ext.h
libutf8proc-dev:/usr/include/utf8proc.h
libxxhash-dev:/usr/include/xxhash.h"
test="sqlite3:/usr/bin/sqlite3
tcl:/usr/bin/tclsh
libsqlite3-tcl:/usr/lib/tcltk/sqlite3/pkgIndex.tcl
valgrind:/usr/bin/valgrind
clang:/usr/bin/clang
libclang-rt-14-dev:/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.asan-x86_64.a
python3:/usr/bin/python3
pkgconf:/usr/bin/pkg-config
sqlite-utils:/usr/bin/sqlite-utils
python3-apsw:/usr/lib/python3/dist-packages/apsw/__init__.pyi
nodejs:/usr/bin/node
npm:/usr/bin/npm
g++:/usr/bin/g++"
bench="gnuplot-nox:/usr/bin/gnuplot
bible-kjv:/usr/bin/bible"
cluster="libdqlite-dev:/usr/include/dqlite.h
golang-go:/usr/bin/go
golang-github-canonical-go-dqlite-dev:/usr/share/gocode/src/github.com/canonical/go-dqlite/client/client.go"

want=""
for group in "$@"; do
  case "$group" in
    build) list=$build ;;
    test)  list="$build
$test" ;;
    bench) list="$build
$test
$bench" ;;
    cluster) list="$build
$test
$cluster" ;;
    *) echo "deps.sh: unknown group '$group' (build, test, bench, cluster)" >&2; exit 2 ;;
  esac
  for pair in $list; do
    pkg=${pair%%:*}; file=${pair#*:}
    if [ ! -e "$file" ]; then
      case " $want " in *" $pkg "*) ;; *) want="$want $pkg" ;; esac
    fi
  done
done

[ -z "$want" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "docpipe needs these Debian packages; install them as root:" >&2
  echo "  apt-get update && apt-get install -y$want" >&2
  exit 1
fi
echo "deps.sh: installing$want" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq $want >&2
