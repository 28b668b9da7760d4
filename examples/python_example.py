#!/usr/bin/python3
"""docpipe from Python: Debian's python3 and its sqlite3 module.

    /usr/bin/python3 examples/python_example.py dist/docpipe
"""
import sqlite3
import sys

ext = sys.argv[1] if len(sys.argv) > 1 else "dist/docpipe"
conn = sqlite3.connect(":memory:")
conn.enable_load_extension(True)
conn.load_extension(ext)
conn.enable_load_extension(False)

conn.execute("CREATE VIRTUAL TABLE docs USING docpipe(threshold=0.7)")
docs = [
    "In the beginning God created the heaven and the earth. And the earth was without form, and void.",
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse.",
    "In the beginning God created the heaven and the earth. And the earth was without form, and empty.",
    "It was the best of times, it was the worst of times, it was the age of wisdom.",
]
with conn:
    conn.executemany("INSERT INTO docs(body) VALUES (?)", [(d,) for d in docs])

for rowid, dup_of, sim in conn.execute(
        "SELECT rowid, duplicate_of, similarity FROM docs WHERE is_duplicate"):
    print(f"{rowid} duplicate of {dup_of} (similarity {sim:.3f})")
for rowid, score in conn.execute(
        "SELECT rowid, score FROM docs WHERE docs MATCH ? AND k = 2",
        ("Call me Ishmael. Some years ago, never mind how long",)):
    print(f"nearest {rowid} {score:.3f}")
