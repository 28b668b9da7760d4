#!/usr/bin/env bash
# bench/cluster.sh — docpipe through a dqlite cluster on 127.0.0.1, side by
# side with one machine, in one run (make bench-cluster; markdown on stdout).
#
#  1. Ingest: the same CLUSTER_DOCS documents (test/cluster_corpus.py) in
#     transactions of 100 and 1,000, into a local SQLite file
#     (bench/cluster_local.py), a one-node dqlite "cluster" and a three-node
#     cluster, through the same docpipe code.
#  2. Commit latency: one document per transaction, docpipe table and a
#     plain table, on one node and on three.
#  3. Failover: CLUSTER_KILLS times, SIGKILL the leader while a client is
#     ingesting, time the next successful write, restart the node; at the
#     end count the documents (none may be lost) and compare every decision
#     with a single-machine run over the same input; then again with
#     docpipe-node --latency-ms 10 (shorter Raft timeouts).
#  4. Connections: a query on a new connection (a table of the default,
#     set kind reads its run summaries; a vector table would build its
#     index from _vectors) against the same query on a warm one.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d "${TMPDIR:-/tmp}/docpipe-bench-cluster.XXXXXX")
. cluster/lib.sh
trap 'stop_all_nodes; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

DOCS=${CLUSTER_DOCS:-5000}
KILLS=${CLUSTER_KILLS:-20}
FAST_KILLS=${CLUSTER_FAST_KILLS:-10}   # the second failover run, --latency-ms 10
LATENCY_DOCS=300
SLICE=100            # documents ingested around each leader kill
PY=/usr/bin/python3

# die MESSAGE: into the results as well as on stderr, then stop.
die() { echo "bench/cluster.sh: $*" | tee /dev/stderr; exit 1; }
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

$PY test/cluster_corpus.py "$WORK/corpus" "$DOCS" "$LATENCY_DOCS" \
  "$(( (KILLS > FAST_KILLS ? KILLS : FAST_KILLS) * SLICE ))" 1000 500 500 >/dev/null
INGEST_DIR=$WORK/corpus/part1
LATENCY_DIR=$WORK/corpus/part2
FAILOVER_DIR=$WORK/corpus/part3
ONE_WRITER_DIR=$WORK/corpus/part4          # 1,000 documents, one client
TWO_WRITER_DIRS=("$WORK/corpus/part5" "$WORK/corpus/part6")   # 500 + 500, two clients

echo "# docpipe on a dqlite cluster — $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo
echo "All nodes on 127.0.0.1 of this one machine (so three nodes share its $(nproc) cores);"
echo "documents: $DOCS synthetic texts of 60-160 words, a quarter planted near-duplicates."
echo

# --- 1. ingest ------------------------------------------------------------------
declare -A RESULT=()
for batch in 100 1000; do
  RESULT[local,$batch]=$($PY bench/cluster_local.py "$ROOT/dist/docpipe" \
    "$WORK/local$batch.db" "$INGEST_DIR" "$batch")
done
for nodes in 1 3; do
  pick_ports "$nodes"
  start_cluster "$nodes" || die "cannot start $nodes node(s)"
  for batch in 100 1000; do
    CL_DB=ingest$batch
    cl sql "CREATE VIRTUAL TABLE docs USING docpipe" || die "create on $nodes node(s)"
    RESULT[$nodes,$batch]=$(cl ingest -batch "$batch" -report docs "$INGEST_DIR" 2>&1) ||
      die "ingest on $nodes node(s): ${RESULT[$nodes,$batch]}"
  done
  if [ "$nodes" = 3 ]; then
    CL_DB=ingest1000
    query="SELECT count(*) FROM (SELECT rowid FROM docs WHERE docs MATCH 'harbour pilots guiding grain ships' AND k = 10)"
    t0=$(now_ms); cl sql "SELECT 1" >/dev/null
    t1=$(now_ms); cl sql "$query" >/dev/null
    # 1 + 200 queries on one connection: the 200 after the first are warm.
    queries=("$query"); for ((i = 0; i < 200; i++)); do queries+=("$query"); done
    t2=$(now_ms); cl sql "${queries[@]}" >/dev/null
    t3=$(now_ms)
    # Writers on separate connections: each reloads docpipe's index after
    # the other's commits (data_version), and dqlite answers SQLITE_BUSY.
    first=$((DOCS + 1))
    ONE=$(cl ingest -batch 10 -first-id "$first" -report docs "$ONE_WRITER_DIR" 2>&1) ||
      die "one writer: $ONE"
    t4=$(now_ms)
    cl ingest -batch 10 -first-id $((first + 1000)) -report docs "${TWO_WRITER_DIRS[0]}" \
      >"$WORK/writer1.out" 2>&1 &
    writer=$!
    cl ingest -batch 10 -first-id $((first + 1500)) -report docs "${TWO_WRITER_DIRS[1]}" \
      >"$WORK/writer2.out" 2>&1 || die "second writer: $(cat "$WORK/writer2.out")"
    wait "$writer" || die "first writer: $(cat "$WORK/writer1.out")"
    t5=$(now_ms)
    WRITERS="one client, 1,000 documents in transactions of 10 into the table of $DOCS: $(field docs_per_s "$ONE") docs/s; two clients at once, 500 each: $(awk -v ms=$((t5 - t4)) 'BEGIN { printf "%.0f", 1000000 / ms }') docs/s together ($(( $(field retries "$(cat "$WORK/writer1.out")") + $(field retries "$(cat "$WORK/writer2.out")") )) transactions retried after SQLITE_BUSY)"
    CONN="new connection + SELECT 1: $((t1 - t0)) ms; new connection + first MATCH (the table of $DOCS documents: a set table reads its run summaries, a vector table builds its index): $((t2 - t1)) ms; each further MATCH on that connection: $(awk -v a=$((t3 - t2)) -v b=$((t2 - t1)) 'BEGIN { printf "%.2f", (a - b) / 200 }') ms (200 of them, round trip included)"
  fi
  for table in docs plain; do
    CL_DB=latency
    if [ $table = docs ]; then
      cl sql "CREATE VIRTUAL TABLE docs USING docpipe" || exit 1
    else
      cl sql "CREATE TABLE plain(body TEXT)" || exit 1
    fi
    RESULT[$nodes,latency,$table]=$(cl ingest -batch 1 -report "$table" "$LATENCY_DIR" 2>&1) ||
      die "latency ingest on $nodes node(s): ${RESULT[$nodes,latency,$table]}"
  done
  stop_all_nodes
  rm -rf "$WORK"/node*
done

echo "## Ingest throughput (documents per second; exact near-duplicate decisions)"
echo
echo "| per transaction | local SQLite file | dqlite, 1 node | dqlite, 3 nodes | 3 nodes / local | 3 nodes / 1 node |"
echo "|---|---|---|---|---|---|"
for batch in 100 1000; do
  l=$(field docs_per_s "${RESULT[local,$batch]}")
  one=$(field docs_per_s "${RESULT[1,$batch]}")
  three=$(field docs_per_s "${RESULT[3,$batch]}")
  echo "| $batch | $l | $one | $three | $(ratio "$three" "$l") | $(ratio "$three" "$one") |"
done
echo
echo "Transaction time p50 / p99 (ms), 1,000 per transaction: local $(field txn_p50_ms "${RESULT[local,1000]}") / $(field txn_p99_ms "${RESULT[local,1000]}"), 1 node $(field txn_p50_ms "${RESULT[1,1000]}") / $(field txn_p99_ms "${RESULT[1,1000]}"), 3 nodes $(field txn_p50_ms "${RESULT[3,1000]}") / $(field txn_p99_ms "${RESULT[3,1000]}")."
echo
echo "## Connections (3 nodes, through the client)"
echo
echo "$CONN."
echo
echo "Writers: $WRITERS."
echo
echo "## Commit latency, one document per transaction ($LATENCY_DOCS transactions)"
echo
echo "| table | nodes | COMMIT p50 ms | COMMIT p99 ms | whole transaction p50 ms | p99 ms |"
echo "|---|---|---|---|---|---|"
for table in docs plain; do
  for nodes in 1 3; do
    r=${RESULT[$nodes,latency,$table]}
    name=$table; [ $table = docs ] && name="docpipe"
    echo "| $name | $nodes | $(field commit_p50_ms "$r") | $(field commit_p99_ms "$r") | $(field txn_p50_ms "$r") | $(field txn_p99_ms "$r") |"
  done
done
echo

# --- 3. failover --------------------------------------------------------------------
# failover_run KILLS DESCRIPTION [docpipe-node options...]: a fresh 3-node
# cluster; KILLS times, kill the leader while a client ingests a slice of
# SLICE documents, time the next successful write, restart the node.
failover_run() {
  local kills=$1 description=$2 k i first slice ingest_pid leader t0 out r
  shift 2
  NODE_OPTIONS=("$@")
  rm -rf "$WORK"/node* "$WORK/slices" "$WORK/all"
  pick_ports 3
  start_cluster 3 || die "cannot start 3 nodes"
  CL_DB=failover
  cl sql "CREATE VIRTUAL TABLE docs USING docpipe" "CREATE TABLE probe(k INTEGER, ms INTEGER)" ||
    die "create for the failover run"
  mkdir -p "$WORK/slices" "$WORK/all"
  local failover_ms=() retries=0 ingest_failures=0
  for ((k = 1; k <= kills; k++)); do
    slice=$WORK/slices/$k
    mkdir -p "$slice"
    first=$(( (k - 1) * SLICE + 1 ))
    for ((i = first; i < first + SLICE; i++)); do
      ln -s "$FAILOVER_DIR/$(printf '%06d' $((DOCS + LATENCY_DOCS + i))).txt" "$slice/"
      ln -s "$FAILOVER_DIR/$(printf '%06d' $((DOCS + LATENCY_DOCS + i))).txt" "$WORK/all/"
    done
    cl ingest -batch 10 -pause 10ms -first-id "$first" -report docs "$slice" >"$WORK/ingest$k.out" 2>&1 &
    ingest_pid=$!
    retry 200 0.02 eval 'test "$(cl sql "SELECT count(*) FROM docs" 2>/dev/null)" -gt $((first + 10))'
    leader=$(leader_id)
    t0=$(now_ms)
    kill_node "$leader"
    out=$(cl sql "INSERT INTO probe VALUES($k, $t0)" 2>&1) || die "probe write $k failed: $out"
    failover_ms+=($(( $(now_ms) - t0 )))
    wait "$ingest_pid" || ingest_failures=$((ingest_failures + 1))
    r=$(field retries "$(cat "$WORK/ingest$k.out")")
    [ -n "$r" ] || { echo "ingest $k: $(cat "$WORK/ingest$k.out")" >&2; r=0; }
    retries=$((retries + r))
    start_node "$leader" || die "node $leader did not restart: $(cat "${LOG[$leader]}")"
  done
  local expected=$((kills * SLICE)) stored same integrity sorted n
  stored=$(cl sql "SELECT count(*) FROM docs")
  rm -f "$WORK/failover-ref.db"
  $PY bench/cluster_local.py "$ROOT/dist/docpipe" "$WORK/failover-ref.db" "$WORK/all" 1000 >/dev/null
  local decisions="$DECISIONS_SQL ORDER BY rowid"
  if [ "$(cl sql "$decisions")" = "$(sqlite3 -cmd ".load $ROOT/dist/docpipe" "$WORK/failover-ref.db" "$decisions")" ]; then
    same=yes
  else
    same=NO
  fi
  integrity=$(cl sql "INSERT INTO docs(docs) VALUES('integrity-check')" "PRAGMA integrity_check" 2>&1)
  stop_all_nodes
  sorted=$(printf '%s\n' "${failover_ms[@]}" | sort -n)
  n=${#failover_ms[@]}
  echo "## Failover: $kills leader kills (SIGKILL) during ingest, $description"
  echo
  echo "Time from the SIGKILL to the next successful write:"
  echo "median $(sed -n "$(( (n + 1) / 2 ))p" <<<"$sorted") ms, fastest $(sed -n 1p <<<"$sorted") ms, slowest $(sed -n "${n}p" <<<"$sorted") ms."
  echo "Documents: $expected sent in transactions of 10, $stored stored, $((expected - stored)) lost;"
  echo "client transactions retried after an unknown outcome: $retries; ingest runs that failed: $ingest_failures."
  echo "Decisions equal a single-machine run over the same input: $same; integrity-check: $integrity."
  echo
}

failover_run "$KILLS" "dqlite's default timeouts"
failover_run "$FAST_KILLS" "docpipe-node --latency-ms 10" --latency-ms 10
