#!/usr/bin/python3
"""The single-machine side of bench/cluster.sh: ingest a folder of text
files into a docpipe table of a local SQLite database (WAL, synchronous
NORMAL as dqlite's own disk mode; docpipe loaded as an extension), in
transactions of BATCH documents, and print the same key=value figures as
`docpipe-cluster ingest -report`.

    cluster_local.py DOCPIPE_SO DB FOLDER BATCH
"""
import math
import os
import sqlite3
import sys
import time


def percentile(values, p):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * p) - 1)] if ordered else 0.0


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    so, db_path, folder, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    names = sorted(n for n in os.listdir(folder)
                   if os.path.isfile(os.path.join(folder, n)))
    bodies = []
    for name in names:
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            bodies.append(f.read())

    db = sqlite3.connect(db_path, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(so)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE VIRTUAL TABLE docs USING docpipe")

    txn_ms, commit_ms = [], []
    started = time.perf_counter()
    for start in range(0, len(bodies), batch):
        t0 = time.perf_counter()
        db.execute("BEGIN")
        db.executemany("INSERT INTO docs(rowid, body) VALUES(?, ?)",
                       ((start + i + 1, body)
                        for i, body in enumerate(bodies[start:start + batch])))
        t1 = time.perf_counter()
        db.execute("COMMIT")
        t2 = time.perf_counter()
        txn_ms.append((t2 - t0) * 1000)
        commit_ms.append((t2 - t1) * 1000)
    elapsed = time.perf_counter() - started
    print("docs=%d seconds=%.3f docs_per_s=%.0f txns=%d txn_p50_ms=%.2f txn_p99_ms=%.2f "
          "commit_p50_ms=%.2f commit_p99_ms=%.2f retries=0"
          % (len(bodies), elapsed, len(bodies) / elapsed, len(txn_ms),
             percentile(txn_ms, 0.50), percentile(txn_ms, 0.99),
             percentile(commit_ms, 0.50), percentile(commit_ms, 0.99)))


if __name__ == "__main__":
    main()
