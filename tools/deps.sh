#!/bin/sh
# deps.sh — make sure the Debian packages docpipe builds and tests with are
# installed.  Usage: tools/deps.sh build|test|bench|cluster
#
# Each group lists "package:file-that-proves-it" pairs.  Missing packages are
# installed with apt-get when we are root (after one apt-get update); when we
# are not, the script names exactly what to install and fails.  The test
# group also needs the de_DE.UTF-8 locale (test/locale.test: docpipe in a
# host program whose LC_NUMERIC writes "0,8"), made with localedef.
set -eu

build="libsqlite3-dev:/usr/include/sqlite3ext.h
libutf8proc-dev:/usr/include/utf8proc.h
libxxhash-dev:/usr/include/xxhash.h
libzstd-dev:/usr/include/zstd.h"
test="sqlite3:/usr/bin/sqlite3
tcl:/usr/bin/tclsh
libsqlite3-tcl:/usr/lib/tcltk/sqlite3/pkgIndex.tcl
valgrind:/usr/bin/valgrind
clang:/usr/bin/clang
libclang-rt-14-dev:/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.asan-x86_64.a
python3:/usr/bin/python3
zstd:/usr/bin/zstd
pkgconf:/usr/bin/pkg-config
sqlite-utils:/usr/bin/sqlite-utils
python3-apsw:/usr/lib/python3/dist-packages/apsw/__init__.pyi
locales:/usr/share/i18n/locales/de_DE
nodejs:/usr/bin/node
npm:/usr/bin/npm
g++:/usr/bin/g++"
bench="gnuplot-nox:/usr/bin/gnuplot
bible-kjv:/usr/bin/bible"
cluster="libdqlite-dev:/usr/include/dqlite.h
golang-go:/usr/bin/go
golang-github-canonical-go-dqlite-dev:/usr/share/gocode/src/github.com/canonical/go-dqlite/client/client.go"

want=""
need_locale=""
for group in "$@"; do
  case "$group" in test|bench|cluster) need_locale=1 ;; esac
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

# de_DE.UTF-8 (locale -a spells it de_DE.utf8), once locales is installed.
have_locale() {
  locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8'
}
make_locale() {
  [ -z "$need_locale" ] && return 0
  have_locale && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "docpipe's tests need the de_DE.UTF-8 locale; make it as root:" >&2
    echo "  localedef -i de_DE -f UTF-8 de_DE.UTF-8" >&2
    exit 1
  fi
  echo "deps.sh: making the de_DE.UTF-8 locale" >&2
  localedef -i de_DE -f UTF-8 de_DE.UTF-8 >&2
}

if [ -z "$want" ]; then
  make_locale
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "docpipe needs these Debian packages; install them as root:" >&2
  echo "  apt-get update && apt-get install -y$want" >&2
  exit 1
fi
echo "deps.sh: installing$want" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq $want >&2
make_locale
