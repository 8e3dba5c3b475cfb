#!/usr/bin/env bash
# The full-size load benchmarks of docs/benchmarks.md. It builds parley,
# and for each scenario starts a fresh node (embedded NATS and SQLite in a
# temporary data directory, on a free loopback port, with limits sized for
# the run), runs `parley loadgen` against it, prints the summary, and stops
# the node. The JSON summaries are kept in $BENCH_OUT (a temporary
# directory by default).
#
# Every process here may hold at most 20,000 open files, so one node holds
# at most about 19,000 connections and runs above 10,000 connections spread
# the load generator over worker processes (--procs).
#
#   ./scripts/bench.sh              every scenario
#   ./scripts/bench.sh idle-5k      the scenarios named (see SCENARIOS below)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BENCH_BIN:-bin/parley}
OUT=${BENCH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/parley-bench.XXXXXX")}
mkdir -p "$OUT"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

say "building $BIN"
go build -o "$BIN" ./cmd/parley

# Limits of the node under test: accounts may hold many connections (so the
# run needs few sign-ups, whose password hashing would blur the memory
# figures) and the load generator may sign up from its few addresses.
NODE_ENV=(
  PARLEY_LOG_LEVEL=warn
  PARLEY_HTTP_ADDR=127.0.0.1:0
  PARLEY_MEDIA_UDP_ADDR=127.0.0.1:0
  PARLEY_HTTP_SHUTDOWN_TIMEOUT=5s
  PARLEY_GATEWAY_MAX_CONNS_PER_USER=1000
  PARLEY_AUTH_SIGNIN_PER_IP=1000
)

node_pid=""
node_dir=""
URL=""

start_node() {
  node_dir=$(mktemp -d "${TMPDIR:-/tmp}/parley-bench-node.XXXXXX")
  env "${NODE_ENV[@]}" PARLEY_DATA_DIR="$node_dir/data" "$BIN" serve >"$node_dir/stdout" 2>"$node_dir/stderr" &
  node_pid=$!
  for _ in $(seq 1 100); do
    URL=$(sed -n 's/^Parley .* is running at \(http:[^ ]*\)$/\1/p' "$node_dir/stdout")
    [ -n "$URL" ] && return 0
    kill -0 "$node_pid" 2>/dev/null || { cat "$node_dir/stderr" >&2; die "the node did not start"; }
    sleep 0.1
  done
  die "the node did not print its URL within 10s"
}

stop_node() {
  if [ -n "$node_pid" ]; then
    kill -TERM "$node_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$node_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
    node_pid=""
  fi
  [ -n "$node_dir" ] && rm -rf "$node_dir"
  node_dir=""
}
trap stop_node EXIT
trap 'exit 130' INT TERM

# run NAME LOADGEN-ARGS...: one scenario against a fresh node.
failed=0
run() {
  local name=$1
  shift
  say "$name: parley loadgen $*"
  start_node
  if ! "$BIN" loadgen --url "$URL" --json-file "$OUT/$name.json" "$@"; then
    failed=1
  fi
  stop_node
}

SCENARIOS=(idle-5k idle-19k accept-rate fanout-10k fanout-10k-5 room-10k)
[ $# -gt 0 ] && SCENARIOS=("$@")

for s in "${SCENARIOS[@]}"; do
  case $s in
  idle-5k)
    # Memory per idle authenticated connection, and the connect rate.
    run idle-5k --scenario idle --conns 5000 --rate 1000 --duration 10s --settle 5s ;;
  idle-19k)
    # As many connections as one node here can hold.
    run idle-19k --scenario idle --conns 19000 --procs 2 --rate 1000 --duration 10s --settle 5s ;;
  accept-rate)
    # Connections accepted per second: ask for more than the node takes.
    run accept-rate --scenario idle --conns 10000 --procs 2 --rate 10000 --inflight 1024 --duration 2s --settle 2s ;;
  fanout-10k)
    # One topic, 10,000 subscribers, 20 events/s for a minute.
    run fanout-10k --scenario fanout --conns 10000 --procs 2 --rate 1000 --publishers 2 --publish-rate 20 --duration 60s --settle 5s --drain-timeout 2m ;;
  fanout-10k-5)
    # The same 10,000 subscribers at 5 events/s (50,000 deliveries/s).
    run fanout-10k-5 --scenario fanout --conns 10000 --procs 2 --rate 1000 --publishers 2 --publish-rate 5 --duration 60s --settle 5s --drain-timeout 2m ;;
  room-10k)
    # One live room: 10,000 listeners (1,000 accounts), 10 speakers, 20 comments/s, 1,000 reactions/s, a minute.
    run room-10k --scenario room --conns 10000 --users 1000 --procs 2 --rate 1000 --duration 60s --settle 5s --drain-timeout 2m \
      --room-speakers 10 --room-comment-rate 20 --room-commenters 25 --room-reaction-rate 1000 --room-reactors 100 ;;
  *)
    die "unknown scenario $s (known: idle-5k idle-19k accept-rate fanout-10k fanout-10k-5 room-10k)" ;;
  esac
done

say "JSON summaries in $OUT"
exit $failed
