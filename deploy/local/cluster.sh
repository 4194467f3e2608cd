#!/bin/sh
# cluster.sh up|down|status - a Fornax cluster as processes on 127.0.0.1:
# etcd, 2 distributors, 3 ingesters (replication factor 3) and 2 queriers.
#
#   FORNAX_RUN_DIR   where data, logs and pid files go (default <repo>/.run/cluster)
#   FORNAX_BIN       directory of the fornax binaries (default <repo>/build/bin; built if missing)
#   FORNAX_BASE_PORT first port of the block of ports used (default 14200)
#   FORNAX_EXTRA_FLAGS extra flags for every fornax process
#   FORNAX_INGESTERS number of ingesters (default 3)
#
# `up` prints the push URL (a distributor) and the query URL (a querier) and
# writes them as FORNAX_PUSH_URL= / FORNAX_QUERY_URL= lines into
# $FORNAX_RUN_DIR/cluster.env. `down` stops exactly the processes `up`
# started, by the pids it recorded.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUN=${FORNAX_RUN_DIR:-$ROOT/.run/cluster}
BIN=${FORNAX_BIN:-$ROOT/build/bin}
BASE=${FORNAX_BASE_PORT:-14200}
EXTRA=${FORNAX_EXTRA_FLAGS:-}
NING=${FORNAX_INGESTERS:-3}
ETCD_PORT=$BASE
ETCD_PEER=$((BASE + 1))

log() { printf '%s\n' "$*" >&2; }

# name -> "http grpc" ports: distributors 10-11, ingesters 20-29, queriers 40-41.
ports() {
    case "$1" in
    distributor-*) i=${1#distributor-}; echo "$((BASE + 10 + i)) $((BASE + 60 + i))" ;;
    ingester-*) i=${1#ingester-}; echo "$((BASE + 20 + i)) $((BASE + 70 + i))" ;;
    querier-*) i=${1#querier-}; echo "$((BASE + 40 + i)) $((BASE + 90 + i))" ;;
    esac
}

# A process that exited but was not reaped yet (our parent shell is gone, so
# init reaps it, sometimes seconds later) is a zombie: not running.
running() { kill -0 "$1" 2>/dev/null && [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]; }
alive() { [ -f "$1" ] && running "$(cat "$1")"; }

wait_http() { # url timeout_s
    n=0
    while [ $n -lt $(($2 * 10)) ]; do
        if curl -sf -o /dev/null "$1"; then return 0; fi
        sleep 0.1
        n=$((n + 1))
    done
    return 1
}

start_etcd() {
    mkdir -p "$RUN/etcd"
    if alive "$RUN/etcd.pid"; then return; fi
    etcd --name fornax --data-dir "$RUN/etcd/data" \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
        --initial-cluster "fornax=http://127.0.0.1:$ETCD_PEER" >"$RUN/etcd/etcd.log" 2>&1 &
    echo $! >"$RUN/etcd.pid"
    wait_http "http://127.0.0.1:$ETCD_PORT/health" 30 || { log "etcd did not start; see $RUN/etcd/etcd.log"; exit 1; }
}

start_one() { # name target
    name=$1
    set -- $(ports "$name") "$2"
    if alive "$RUN/$name.pid"; then return; fi
    mkdir -p "$RUN/$name"
    # shellcheck disable=SC2086 # EXTRA is a list of flags
    "$BIN/fornax" -target="$3" -server.http-listen-port="$1" -server.grpc-listen-port="$2" \
        -data-dir="$RUN/$name" -ring.store=etcd -ring.etcd.endpoints="127.0.0.1:$ETCD_PORT" \
        -ring.instance-id="$name" -ring.instance-addr=127.0.0.1 $EXTRA >"$RUN/$name/fornax.log" 2>&1 &
    echo $! >"$RUN/$name.pid"
}

ready_one() {
    set -- "$1" $(ports "$1")
    wait_http "http://127.0.0.1:$2/ready" 60 || { log "$1 is not ready; see $RUN/$1/fornax.log"; exit 1; }
}

names() {
    i=0
    while [ $i -lt "$NING" ]; do echo "ingester-$i"; i=$((i + 1)); done
    echo distributor-0 distributor-1 querier-0 querier-1
}

up() {
    [ -x "$BIN/fornax" ] || make -C "$ROOT" build >&2
    command -v etcd >/dev/null || sh "$ROOT/mk/deps.sh" test
    mkdir -p "$RUN"
    start_etcd
    for n in $(names); do
        case "$n" in ingester-*) start_one "$n" ingester ;; distributor-*) start_one "$n" distributor ;;
        querier-*) start_one "$n" querier ;; esac
    done
    for n in $(names); do ready_one "$n"; done
    set -- $(ports distributor-0)
    push="http://127.0.0.1:$1"
    set -- $(ports querier-0)
    query="http://127.0.0.1:$1"
    printf 'FORNAX_PUSH_URL=%s\nFORNAX_QUERY_URL=%s\n' "$push" "$query" >"$RUN/cluster.env"
    echo "push URL:  $push   (e.g. curl --data-binary @profile.pb.gz '$push/ingest?name=app&format=pprof')"
    echo "query URL: $query  (UI and Grafana data source URL)"
    echo "ring:      $query/ring"
    echo "env:       $RUN/cluster.env"
}

stop_pid() { # pidfile
    [ -f "$1" ] || return 0
    pid=$(cat "$1")
    if running "$pid"; then
        kill "$pid" 2>/dev/null || true
        n=0
        while running "$pid" && [ $n -lt 300 ]; do sleep 0.05; n=$((n + 1)); done
        running "$pid" && kill -9 "$pid" 2>/dev/null
    fi
    rm -f "$1"
}

down() {
    [ -d "$RUN" ] || { echo "no cluster at $RUN"; return 0; }
    # Front ends first, ingesters next, etcd last.
    for f in "$RUN"/querier-*.pid "$RUN"/distributor-*.pid "$RUN"/ingester-*.pid "$RUN"/etcd.pid; do
        [ -e "$f" ] && stop_pid "$f"
    done
    echo "stopped the cluster at $RUN (data kept; rm -rf it to start afresh)"
}

status() {
    [ -d "$RUN" ] || { echo "no cluster at $RUN"; return 0; }
    for f in "$RUN"/*.pid; do
        [ -e "$f" ] || continue
        name=$(basename "$f" .pid)
        if alive "$f"; then state="running (pid $(cat "$f"))"; else state="not running"; fi
        ready=""
        if [ "$name" != etcd ] && alive "$f"; then
            set -- $(ports "$name")
            ready=$(curl -s "http://127.0.0.1:$1/ready" 2>/dev/null | head -c 60 || true)
        fi
        printf '%-15s %-24s %s\n' "$name" "$state" "$ready"
    done
    [ -f "$RUN/cluster.env" ] && cat "$RUN/cluster.env"
    return 0
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
*) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
