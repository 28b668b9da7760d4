# cluster/lib.sh — shell functions for running docpipe-node clusters on
# 127.0.0.1, sourced by test/cluster.sh and bench/cluster.sh.
#
# The caller sets ROOT (the repository) and WORK (a scratch folder), and
# calls pick_ports N before anything else.  Every node started is recorded
# by PID and killed by stop_all_nodes (call it from an EXIT trap); every
# wait is bounded.

NODE=${DOCPIPE_NODE:-$ROOT/dist/docpipe-node}   # make test-cluster-asan sets it
PLAIN_NODE=$ROOT/build/cluster/plain-node
CLIENT=$ROOT/dist/docpipe-cluster

declare -A PID=()      # node id -> pid ("plain" for the node without docpipe)
declare -A ADDR=()     # node id -> address
declare -A LOG=()      # node id -> log of its latest start
NODE_STARTS=0
NODE_OPTIONS=()        # extra docpipe-node options, e.g. (--latency-ms 5)

# retry COUNT PAUSE COMMAND...: run COMMAND until it succeeds, COUNT times at
# most.  Arguments are expanded once: pass eval '...' for a fresh look.
retry() {
  local count=$1 pause=$2 i
  shift 2
  for ((i = 0; i < count; i++)); do
    "$@" && return 0
    sleep "$pause"
  done
  return 1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pick_ports N: addresses for nodes 1..N and "plain" on free ports, below
# the kernel's ephemeral range: a port in it, free when picked, may be
# taken as the source port of some outgoing connection before a node
# listens on it (node 4 starts minutes later: "address is in use", seen
# once in CI's clean run of test-cluster-asan).
pick_ports() {
  local n=$1 try base id ok lo=10000 hi=32768 rest span
  read -r hi rest < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || hi=32768
  span=$(( (hi - lo - n - 2) / 10 ))
  [ "$span" -ge 100 ] || { lo=20000; span=2000; }   # an odd range: as before
  for ((try = 0; try < 20; try++)); do
    base=$((lo + (RANDOM % span) * 10))
    ok=1
    for ((id = 1; id <= n + 1; id++)); do
      port_free $((base + id)) || ok=0
    done
    [ "$ok" = 1 ] && break
  done
  for ((id = 1; id <= n; id++)); do ADDR[$id]=127.0.0.1:$((base + id)); done
  ADDR[plain]=127.0.0.1:$((base + n + 1))
  SERVERS=$(for ((id = 1; id <= n; id++)); do printf '%s,' "${ADDR[$id]}"; done)
  SERVERS=${SERVERS%,}
}

# cl ARGS...: the client against the cluster, bounded by -timeout and timeout(1).
CL_DB=docs
cl() { timeout 150 "$CLIENT" -s "$SERVERS" -d "$CL_DB" -timeout 120s "$@"; }

# start_node ID [--join PEERS]: start, record the PID, wait until it serves.
start_node() {
  local id=$1 binary=$NODE nid=$1
  shift
  if [ "$id" = plain ]; then binary=$PLAIN_NODE; nid=1; fi
  NODE_STARTS=$((NODE_STARTS + 1))
  LOG[$id]="$WORK/node$id.start$NODE_STARTS.log"
  "$binary" --id "$nid" --address "${ADDR[$id]}" --dir "$WORK/node$id" \
    ${NODE_OPTIONS[@]+"${NODE_OPTIONS[@]}"} "$@" >"${LOG[$id]}" 2>&1 &
  PID[$id]=$!
  retry 50 0.1 grep -qs "serving ${ADDR[$id]}" "${LOG[$id]}"
}

# start_cluster N: node 1, then nodes 2..N joining it; waits for N voters.
start_cluster() {
  local n=$1 id
  start_node 1 || return 1
  for ((id = 2; id <= n; id++)); do
    start_node "$id" --join "${ADDR[1]}" || return 1
  done
  retry 150 0.2 eval 'test "$(voters)" = '"$n"
}

kill_node() {   # kill_node ID: SIGKILL, reaped
  kill -9 "${PID[$1]}" 2>/dev/null
  wait "${PID[$1]}" 2>/dev/null
  unset "PID[$1]"
}

stop_all_nodes() {
  local id
  for id in "${!PID[@]}"; do
    kill -9 "${PID[$id]}" 2>/dev/null
  done
  wait 2>/dev/null
  PID=()
}

# Every decision of table docs, similarity to 6 places: what a cluster run
# and a single-machine run must agree on.
DECISIONS_SQL="SELECT rowid, is_duplicate, ifnull(duplicate_of, ''), printf('%.6f', ifnull(similarity, 0)) FROM docs"

leader_id() { cl leader 2>/dev/null | cut -d'|' -f1; }
voters() { cl nodes 2>/dev/null | grep -c '|voter$'; }

# lead_to ID: hand the leadership to node ID (it may first need to catch up).
lead_to() {
  local target=$1   # seen by the eval inside retry (bash scoping is dynamic)
  retry 60 0.5 eval 'test "$(leader_id)" = "$target" || { cl transfer "$target" >/dev/null 2>&1; false; }'
}

# now_ms: wall clock in milliseconds.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
