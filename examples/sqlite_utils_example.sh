#!/bin/sh
# docpipe from the sqlite-utils command (Debian's sqlite-utils): every
# command that touches the table loads the extension with --load-extension;
# the rows go in as JSON.
#
#   sh examples/sqlite_utils_example.sh dist/docpipe [DB]
#
# DB (default: a temporary file, removed at the end) must not hold a table
# named docs.
set -eu
ext=${1:-dist/docpipe}
if [ $# -ge 2 ]; then db=$2; else
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; db=$tmp/docs.db
fi

sqlite-utils query "$db" --load-extension "$ext" \
  "CREATE VIRTUAL TABLE docs USING docpipe(threshold=0.7)" >/dev/null
sqlite-utils insert "$db" docs - --load-extension "$ext" <<'JSON'
[
  {"body": "In the beginning God created the heaven and the earth. And the earth was without form, and void."},
  {"body": "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse."},
  {"body": "In the beginning God created the heaven and the earth. And the earth was without form, and empty."},
  {"body": "It was the best of times, it was the worst of times, it was the age of wisdom."}
]
JSON

# One formatted column per row, printed without quoting or headers.
sqlite-utils query "$db" --load-extension "$ext" --tsv --no-headers \
  "SELECT printf('%d duplicate of %d (similarity %.3f)', rowid, duplicate_of, similarity)
   FROM docs WHERE is_duplicate"
sqlite-utils query "$db" --load-extension "$ext" --tsv --no-headers \
  -p q "Call me Ishmael. Some years ago, never mind how long" \
  "SELECT printf('nearest %d %.3f', rowid, score)
   FROM docs WHERE docs MATCH :q AND k = 2"
