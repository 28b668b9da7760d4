#!/usr/bin/env bash
# test/cluster.sh — docpipe on a three-node dqlite cluster, on 127.0.0.1 only
# (make test-cluster).
#
# Ingests documents with planted near-duplicates through the cluster and
# checks that every decision equals a single-node run (the sqlite3 shell
# with dist/docpipe.so) over the same input; SIGKILLs the leader while a
# client is ingesting, and checks that no committed document is lost and
# the decisions still agree; brings the killed node back, hands it the
# leadership and checks again there; checks that a node that was leader
# before sees documents written while it was not; shows the error from a
# node built without docpipe; stops every node by SIGTERM.  Every wait is
# bounded; every node is killed by PID on exit.  Last line: N passed, N failed.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d "${TMPDIR:-/tmp}/docpipe-cluster.XXXXXX")
. cluster/lib.sh

passed=0
failed=0

cleanup() {
  stop_all_nodes
  if [ "$failed" -eq 0 ]; then
    rm -rf "$WORK"
  else
    echo "# cluster.sh: node logs and data kept in $WORK"
  fi
}
trap cleanup EXIT
trap 'echo "# cluster.sh: interrupted"; exit 130' INT TERM

pass() { passed=$((passed + 1)); echo "ok - $1"; }
fail() {
  failed=$((failed + 1)); echo "FAIL - $1"
  shift
  local line
  for line in "$@"; do printf '  %s\n' "$line" | head -c 2000; done
}
# check NAME EXPECTED ACTUAL
check() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2" "got: $3"; fi
}
# check_contains NAME NEEDLE HAYSTACK
check_contains() {
  case "$3" in
    *"$2"*) pass "$1" ;;
    *) fail "$1" "expected to contain: $2" "got: $3" ;;
  esac
}

# stop_here REASON: the rest would only wait out its timeouts; report and end.
stop_here() {
  fail "$1 (the remaining checks are skipped)"
  echo "$passed passed, $failed failed"
  exit 1
}

# --- ports: free ones on 127.0.0.1 ----------------------------------------
pick_ports 4                                   # node 4 joins late, by "add"
SERVERS="${ADDR[1]},${ADDR[2]},${ADDR[3]}"

ref_sql() { sqlite3 -cmd ".load $ROOT/dist/docpipe" "$WORK/reference.db" "$@"; }
ref_decisions() { ref_sql "$DECISIONS_SQL WHERE rowid <= $1 ORDER BY rowid"; }
cluster_decisions() { cl sql "$DECISIONS_SQL WHERE rowid <= $1 ORDER BY rowid"; }
# The first differing lines, for a failure message.
first_diff() { diff <(echo "$1") <(echo "$2") | head -5 | tr '\n' ' '; }

# --- the client's own unit tests (go test), each counted ----------------------
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$ROOT/build/gocache" GOFLAGS= \
  go test -v ./cluster/client >"$WORK/gotest.out" 2>&1
go_rc=$?
go_pass=$(grep -c '^--- PASS' "$WORK/gotest.out")
go_fail=$(grep -c '^--- FAIL' "$WORK/gotest.out")
for name in $(sed -n 's/^--- PASS: \([^ ]*\).*/\1/p' "$WORK/gotest.out"); do pass "go test: $name"; done
for name in $(sed -n 's/^--- FAIL: \([^ ]*\).*/\1/p' "$WORK/gotest.out"); do
  fail "go test: $name" "$(grep -A3 "^--- FAIL: $name" "$WORK/gotest.out" | tail -3)"
done
if [ "$go_rc" -ne 0 ] && [ "$go_fail" -eq 0 ]; then
  fail "go test ./cluster/client runs" "$(tail -5 "$WORK/gotest.out")"
fi
[ "$go_pass" -gt 0 ] || fail "go test ./cluster/client ran tests" "$(tail -5 "$WORK/gotest.out")"

# --- input and the single-node reference ----------------------------------
/usr/bin/python3 test/cluster_corpus.py "$WORK/corpus" 500 300 200
(
  cd "$WORK/corpus" &&
  sqlite3 "$WORK/reference.db" <<EOF
.load $ROOT/dist/docpipe
CREATE VIRTUAL TABLE docs USING docpipe;
INSERT INTO docs(rowid, body)
  SELECT CAST(substr(name, -10, 6) AS INTEGER), CAST(readfile(name) AS TEXT)
  FROM fsdir('.') WHERE name LIKE '%.txt' ORDER BY name;
EOF
)
ref_total=$(ref_sql "SELECT count(*), sum(is_duplicate) FROM docs")
check "single-node reference holds 1000 documents, some of them duplicates" \
  "1000" "${ref_total%%|*}"
echo "# reference: ${ref_total#*|} of 1000 documents are near-duplicates"

# --- bad arguments --------------------------------------------------------
out=$("$NODE" --id 1 --address "${ADDR[1]}" 2>&1); rc=$?
check_contains "docpipe-node: a missing option is named (exit $rc)" "--dir are required" "$out"
out=$("$NODE" --id x --address "${ADDR[1]}" --dir "$WORK/x" 2>&1)
check_contains "docpipe-node: a bad --id is named" "--id 'x' is not a positive integer" "$out"
out=$("$NODE" --id 1 --address localhost --dir "$WORK/x" 2>&1)
check_contains "docpipe-node: an address without a port is named" "is not HOST:PORT" "$out"
out=$("$CLIENT" -s "${ADDR[1]}" frobnicate 2>&1); rc=$?
check "docpipe-cluster: an unknown command exits 2" "2" "$rc"

# --- three nodes ----------------------------------------------------------
start_node 1 || fail "node 1 starts" "$(cat "${LOG[1]}")"
start_node 2 --join "${ADDR[1]}" || fail "node 2 starts" "$(cat "${LOG[2]}")"
start_node 3 --join "${ADDR[1]},${ADDR[2]}" || fail "node 3 starts" "$(cat "${LOG[3]}")"
retry 150 0.2 eval 'test "$(voters)" = 3'
check "three nodes joined as voters" "3" "$(voters)"
[ "$(voters)" = 3 ] || stop_here "no three-node cluster formed"

out=$("$NODE" --id 4 --address "${ADDR[1]}" --dir "$WORK/node4" 2>&1)
check_contains "docpipe-node: a port in use is named" "the address is in use" "$out"

out=$(cl sql "CREATE VIRTUAL TABLE docs USING docpipe" 2>&1)
check "CREATE VIRTUAL TABLE through the cluster" "" "$out"

out=$(cl ingest -batch 250 docs "$WORK/corpus/part1" 2>&1)
check "ingest 500 documents in transactions of 250" "" "$out"
# dqlite cannot replicate pages spilled to the WAL before COMMIT; the node
# turns spilling off, so a transaction far larger than the page cache works.
out=$(cl sql "CREATE TABLE big(x)" \
  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
   INSERT INTO big SELECT randomblob(4096) FROM n" \
  "SELECT count(*) FROM big" "DROP TABLE big" 2>&1)
check "a 12 MB transaction commits (no cache spill)" "3000" "$out"
ref=$(ref_decisions 500)
got=$(cluster_decisions 500)
if [ "$got" = "$ref" ]; then pass "500 decisions equal the single-node run"
else fail "500 decisions equal the single-node run" "$(first_diff "$ref" "$got")"; fi

# --- SIGKILL the leader while a client ingests ------------------------------
killed=$(leader_id)
case "$killed" in
  1|2|3) pass "the cluster names a leader (node $killed)" ;;
  *) fail "the cluster names a leader" "got: '$killed'"; killed=1 ;;
esac
echo "# failover: dqlite's default timeouts (docpipe-node --latency-ms lowers them)"
cl ingest -batch 10 -pause 20ms -first-id 501 -report docs "$WORK/corpus/part2" \
  >"$WORK/ingest2.out" 2>&1 &
ingest_pid=$!
# Kill once part of this ingest has committed (bounded wait): with a pause
# between its 30 transactions the kill lands mid-run.
retry 100 0.05 eval 'test "$(cl sql "SELECT count(*) FROM docs" 2>/dev/null)" -gt 520'
stored_at_kill=$(cl sql 'SELECT count(*) FROM docs' 2>/dev/null)
kill_node "$killed"
echo "# killed leader node $killed (SIGKILL)"
wait "$ingest_pid"; rc=$?
check "ingest across the leader's death finishes (exit 0)" "0" "$rc"
echo "# $(cat "$WORK/ingest2.out")"
if [ "${stored_at_kill:-0}" -gt 500 ] && [ "${stored_at_kill:-0}" -lt 800 ]; then
  pass "the kill landed mid-ingest ($stored_at_kill of 800 documents stored)"
else
  fail "the kill landed mid-ingest" "stored when killed: '$stored_at_kill' of 800"
fi
retry 100 0.2 eval 'new=$(leader_id); [ -n "$new" ] && [ "$new" != "$killed" ]'
new_leader=$(leader_id)
if [ -n "$new_leader" ] && [ "$new_leader" != "$killed" ]; then
  pass "a new leader is elected (node $new_leader)"
else
  fail "a new leader is elected" "leader: '$new_leader', killed: $killed"
  stop_here "no leader after the kill"
fi

out=$(cl ingest -batch 50 -first-id 801 docs "$WORK/corpus/part3" 2>&1)
check "ingesting goes on under the new leader" "" "$out"
check "no committed document lost: rowids 1..1000 all present" "1000|1|1000" \
  "$(cl sql 'SELECT count(*), min(rowid), max(rowid) FROM docs')"
ref=$(ref_decisions 1000)
got=$(cluster_decisions 1000)
if [ "$got" = "$ref" ]; then pass "1000 decisions equal the single-node run after the kill"
else fail "1000 decisions equal the single-node run after the kill" "$(first_diff "$ref" "$got")"; fi
out=$(cl sql "INSERT INTO docs(docs) VALUES('integrity-check')" "PRAGMA integrity_check" 2>&1)
check "integrity-check and PRAGMA integrity_check pass" "ok" "$out"

# --- the killed node comes back and leads -----------------------------------
start_node "$killed" --join "$SERVERS" || fail "node $killed restarts" "$(tail -3 "${LOG[$killed]}")"
lead_to "$killed"
check "the restarted node $killed takes the leadership" "$killed" "$(leader_id)"
got=$(cluster_decisions 1000)
if [ "$got" = "$ref" ]; then pass "the restarted node holds the same 1000 decisions"
else fail "the restarted node holds the same 1000 decisions" "$(first_diff "$ref" "$got")"; fi
out=$(cl sql "INSERT INTO docs(docs) VALUES('integrity-check')" "PRAGMA integrity_check" 2>&1)
check "integrity-check passes on the restarted node" "ok" "$out"

# --- a former leader sees documents written while it was not leading -------
# Node $killed searches now (its connection builds the index), leadership
# moves away, a new document is written, leadership comes back: the next
# near-copy must be found a duplicate of it.
text="brand new document about lighthouse keepers and the long winter nights on the northern coast with storms and ships and a cat called admiral"
# (five words or more: a vector search, which builds the index)
cl sql "SELECT count(*) FROM (SELECT rowid FROM docs WHERE docs MATCH 'the lighthouse keepers kept watch' AND k = 3)" >/dev/null
other=$(( killed % 3 + 1 ))
lead_to "$other"
check "leadership moves to node $other" "$other" "$(leader_id)"
cl sql "INSERT INTO docs(rowid, body) VALUES(1001, '$text')" >/dev/null
lead_to "$killed"
check "leadership returns to node $killed" "$killed" "$(leader_id)"
out=$(cl sql "INSERT INTO docs(rowid, body) VALUES(1002, '$text!')" \
  "SELECT is_duplicate, duplicate_of FROM docs WHERE rowid = 1002" \
  "SELECT rowid FROM docs WHERE docs MATCH '$text' AND k = 1" 2>&1)
check "the former leader finds the document written elsewhere" "1|1001
1001" "$out"

# --- one connection, held open, sees what another connection wrote ---------
# The client keeps a connection to the leader; it searches (building its
# index), another client writes a document, then the first writes a near
# copy: the copy must be found a duplicate of the document it never saw
# being written.
text2="second new document about harbour pilots guiding grain ships through fog past the breakwater every autumn evening"
mkfifo "$WORK/stmts"
cl sql - <"$WORK/stmts" >"$WORK/conn.out" 2>&1 &
conn_pid=$!
exec 4>"$WORK/stmts"
# (it searches for the document written above, which it finds: 1)
echo "SELECT count(*) FROM (SELECT rowid FROM docs WHERE docs MATCH '$text' AND k = 1);" >&4
retry 50 0.1 test -s "$WORK/conn.out"
cl sql "INSERT INTO docs(rowid, body) VALUES(1003, '$text2')"
echo "INSERT INTO docs(rowid, body) VALUES(1004, '$text2 again');" >&4
echo "SELECT is_duplicate, duplicate_of FROM docs WHERE rowid = 1004;" >&4
exec 4>&-
wait "$conn_pid"
check "a held connection sees a document another connection wrote" "1
1|1003" "$(cat "$WORK/conn.out")"

# --- what a node without docpipe says ---------------------------------------
start_node plain || fail "the node without docpipe starts" "$(cat "${LOG[plain]}")"
out=$(timeout 60 "$CLIENT" -s "${ADDR[plain]}" -d docs -timeout 30s sql \
  "CREATE VIRTUAL TABLE docs USING docpipe" 2>&1); rc=$?
check_contains "a node without docpipe: 'no such module: docpipe'" "no such module: docpipe" "$out"
echo "# error from a node built without docpipe: $out"
out=$(cl sql "SELECT load_extension('$ROOT/dist/docpipe')" 2>&1)
check_contains "load_extension() is refused through dqlite" "not authorized" "$out"
out=$(cl sql "SELECT rowid FROM docs WHERE docs MATCH 'x' AND k = -1" 2>&1)
check_contains "a docpipe error reaches the client with its message" \
  "docs: k must be an integer from 1 to 1000000, not -1" "$out"
out=$(cl sql "INSERT INTO docs(rowid, body) VALUES(1, 'again')" 2>&1)
check_contains "a rowid conflict is refused through the cluster" "UNIQUE constraint failed" "$out"
check "the refused insert changed nothing" "1004" "$(cl sql 'SELECT count(*) FROM docs')"

# --- JSON lines, extra columns, bad input ----------------------------------
cat >"$WORK/notes.jsonl" <<'EOF'
{"id": 10, "body": "the quick brown fox jumps over the lazy dog near the river bank at dawn", "title": "first"}
{"body": "the quick brown fox jumps over the lazy dog near the river bank at dawn!", "title": "second"}
EOF
cl sql "CREATE VIRTUAL TABLE notes USING docpipe(title TEXT)" >/dev/null
out=$(cl ingest notes "$WORK/notes.jsonl" 2>&1)
check "ingest a JSON-lines file" "" "$out"
check "JSON fields land in their columns; the copy is found" "2|second|1|10" \
  "$(cl sql "SELECT rowid, title, is_duplicate, duplicate_of FROM notes WHERE rowid = 2")"
printf '{"body": "fine"}\n{"body": 42}\n' >"$WORK/bad.jsonl"
out=$(cl ingest -first-id 100 notes "$WORK/bad.jsonl" 2>&1); rc=$?
check_contains "a bad JSON line is named (exit $rc)" 'bad.jsonl line 2: "body" must be a string' "$out"
check "nothing of a bad file is stored" "2" "$(cl sql 'SELECT count(*) FROM notes')"
out=$(cl sql "INSERT INTO notes(rowid, body, title) VALUES(30, 'returning home, WITH the harvest', 'r')" \
  "SELECT title FROM notes WHERE rowid = 30" 2>&1)
check "keywords inside a string literal do not change how a statement is sent" "r" "$out"

# --- a writer waits while another client's transaction is open ------------
# dqlite answers SQLITE_BUSY at once; the client waits and retries, as a
# busy timeout would.
mkfifo "$WORK/stmts2"
cl sql - <"$WORK/stmts2" >"$WORK/conn2.out" 2>&1 &
holder_pid=$!
exec 5>"$WORK/stmts2"
printf '%s\n' "BEGIN;" \
  "INSERT INTO notes(rowid, body, title) VALUES(20, 'held open for a moment', 'held');" \
  "SELECT 'holding';" >&5
retry 50 0.1 grep -q holding "$WORK/conn2.out"
( sleep 1; echo "COMMIT;" >&5 ) &
exec 5>&-
out=$(cl sql "INSERT INTO notes(rowid, body, title) VALUES(21, 'waits its turn', 'second writer')" 2>&1)
check "a write waits for another client's open transaction" "" "$out"
wait "$holder_pid"
check "both writers' documents are stored" "2" \
  "$(cl sql "SELECT count(*) FROM notes WHERE rowid IN (20, 21)")"

# --- a node added by the client ----------------------------------------------
start_node 4 || fail "node 4 starts" "$(cat "${LOG[4]}")"
out=$(cl add 4 "${ADDR[4]}" 2>&1)
check "docpipe-cluster add makes node 4 a voter" "4" "$(voters)"

# --- a member restarts with --join -------------------------------------------
# Its ADD and ASSIGN are answered "already in use" / "role is not valid":
# the node must take that as joined, not exit.
member=$(( $(leader_id) % 3 + 1 ))
kill_node "$member"
start_node "$member" --join "$SERVERS" || fail "node $member restarts with --join"
retry 100 0.1 grep -q "joined the cluster" "${LOG[$member]}"
check "a member restarted with --join rejoins" "1" "$(grep -c 'joined the cluster as a voter' "${LOG[$member]}")"

# --- SIGTERM while still trying to join stops at once ------------------------
ADDR[5]=${ADDR[plain]%:*}:$(( ${ADDR[plain]##*:} + 1 ))
if port_free "${ADDR[5]##*:}"; then
  start_node 5 --join "127.0.0.1:1" || fail "node 5 starts"
  t0=$(now_ms)
  kill -TERM "${PID[5]}"
  retry 50 0.1 eval '! kill -0 "${PID[5]}" 2>/dev/null'
  wait "${PID[5]}"; rc=$?
  unset "PID[5]"
  if [ "$rc" = 0 ] && [ $(( $(now_ms) - t0 )) -lt 5000 ]; then
    pass "SIGTERM during --join stops the node cleanly at once"
  else
    fail "SIGTERM during --join stops the node cleanly at once" "status $rc after $(( $(now_ms) - t0 )) ms"
  fi
fi

# --- clean stop --------------------------------------------------------------
for id in "${!PID[@]}"; do
  kill -TERM "${PID[$id]}"
done
for id in "${!PID[@]}"; do
  pid=${PID[$id]}
  if retry 100 0.1 sh -c "! kill -0 $pid 2>/dev/null"; then
    wait "$pid"; rc=$?
    check "node $id stops cleanly on SIGTERM" "0" "$rc"
  else
    fail "node $id stops on SIGTERM within 10 s"
  fi
  unset "PID[$id]"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
