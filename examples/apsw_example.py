#!/usr/bin/python3
"""docpipe from APSW (Debian's python3-apsw), rows given as JSON.

    /usr/bin/python3 examples/apsw_example.py dist/docpipe
"""
import json
import sys

import apsw

ext = sys.argv[1] if len(sys.argv) > 1 else "dist/docpipe"
conn = apsw.Connection(":memory:")
conn.enableloadextension(True)
conn.loadextension(ext)
conn.enableloadextension(False)

conn.execute("CREATE VIRTUAL TABLE docs USING docpipe(threshold=0.7)")
rows = json.dumps([
    {"body": "In the beginning God created the heaven and the earth. And the earth was without form, and void."},
    {"body": "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse."},
    {"body": "In the beginning God created the heaven and the earth. And the earth was without form, and empty."},
    {"body": "It was the best of times, it was the worst of times, it was the age of wisdom."},
])
with conn:
    conn.execute("INSERT INTO docs(body)"
                 " SELECT json_extract(value, '$.body') FROM json_each(?)"
                 " ORDER BY key", (rows,))

for rowid, dup_of, sim in conn.execute(
        "SELECT rowid, duplicate_of, similarity FROM docs WHERE is_duplicate"):
    print(f"{rowid} duplicate of {dup_of} (similarity {sim:.3f})")
for rowid, score in conn.execute(
        "SELECT rowid, score FROM docs WHERE docs MATCH ? AND k = 2",
        ("Call me Ishmael. Some years ago, never mind how long",)):
    print(f"nearest {rowid} {score:.3f}")
