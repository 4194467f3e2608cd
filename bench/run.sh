#!/bin/sh
# run.sh - every benchmark in order, then a summary (`make bench` calls this with
# FORNAX_BIN = the directory of the fornax binary, BENCH_BIN = that of bench_*).
# Benchmarks print figures and ratios against baselines measured in the same run;
# nothing here asserts a timing. docs/performance.md explains the figures.
#
#   BENCH_QUICK=1 make bench    shorter phases and fewer runs, for development
#   BENCH_ONLY="ingest query"   run only these (ingest query head flamegraph pbjson explain ui
#                               cluster block)
#
# A full run takes about 5 minutes on the 2-core VM; the ingest and query benchmarks
# start their own fornax on free loopback ports with a fresh data directory under
# $TMPDIR and remove it afterwards.
set -eu
cd "$(dirname "$0")/.."
FORNAX_BIN=${FORNAX_BIN:-build/bin}
BENCH_BIN=${BENCH_BIN:-build/bench}
QUICK=${BENCH_QUICK:-0}
ONLY=${BENCH_ONLY:-ingest query head flamegraph pbjson explain ui cluster block}
export FORNAX_BIN

log=$(mktemp "${TMPDIR:-/tmp}/fornax-bench-log.XXXXXX")
trap 'rm -f "$log"' EXIT

want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
section() { printf '\n==== %s ====\n' "$1"; }
# run TITLE CMD...: runs a benchmark, showing and keeping its output.
run() {
    title=$1
    shift
    section "$title"
    echo "\$ $*"
    start=$(date +%s)
    if "$@" 2>&1 | tee -a "$log"; then :; else echo "($title failed)" | tee -a "$log"; fi
    echo "($title: $(($(date +%s) - start)) s)"
}

section machine
echo "CPUs: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); $(uname -sr)"
echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "data directories under ${TMPDIR:-/tmp}: $(df -h "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $1 ", " $4 " free"}')"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (modified)')"

if [ "$QUICK" = 1 ]; then
    ingest_args="-d 3 -w 1 -floor 0.3"
    nosync_args="-d 2 -w 1 -floor 0.1"
    query_args="-runs 10 -baseline 1 -per-series 120"
    head_rounds=3 fg_reps=1 pb_reps=50
else
    ingest_args="-d 10 -w 2 -floor 1"
    nosync_args="-d 5 -w 1 -floor 0.3"
    query_args="-runs 30 -baseline 2"
    head_rounds=11 fg_reps=3 pb_reps=200
fi

if want ingest; then
    # shellcheck disable=SC2086 # word splitting of the option lists is intended
    run "ingest (WAL fsynced before every ack: the default)" "$BENCH_BIN/bench_ingest" $ingest_args
    # shellcheck disable=SC2086
    run "ingest without WAL fsync (-ingester.wal-sync=false), for comparison" \
        "$BENCH_BIN/bench_ingest" $nosync_args -phases ingest-cpu,ingest-heap -- -ingester.wal-sync=false
fi
if want query; then
    if ! command -v go >/dev/null 2>&1; then
        echo "(no go: the query baseline is skipped; apt-get install golang-go)"
        query_args="$query_args -baseline 0"
    fi
    # shellcheck disable=SC2086
    run "query" "$BENCH_BIN/bench_query" $query_args
fi
want head && run "ingester head, in-process (no HTTP/gRPC)" "$BENCH_BIN/bench_head" bench/data "$head_rounds"
want flamegraph && run "flame graph encodings" "$BENCH_BIN/bench_flamegraph" "$fg_reps"
want pbjson && run "proto3 JSON codec" "$BENCH_BIN/bench_pbjson" "$pb_reps"
want explain && run "explain analyzer" "$BENCH_BIN/bench_explain"
if want cluster; then
    if command -v etcd >/dev/null 2>&1; then
        if [ "$QUICK" = 1 ]; then cluster_args="--quick"; else cluster_args=""; fi
        # shellcheck disable=SC2086
        run "cluster: RF=3 vs RF=1 vs single node (docs/performance-cluster.md)" python3 bench/cluster.py $cluster_args
    else
        section "cluster"
        echo "(skipped: needs etcd, which \`make test\` installs)"
    fi
fi
want block && run "blocks: bytes per sample, cut, query, io_uring vs pread (docs/performance-blocks.md)" \
    "$BENCH_BIN/bench_block"
want block && run "blocks: a 24-hour flame graph through a store-gateway (docs/performance-blocks.md)" \
    "$BENCH_BIN/bench_blocks24h" bench/data
if want ui; then
    if ! command -v node >/dev/null 2>&1 || [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
        section "UI render"
        echo "(skipped: needs node and chromium, which \`make test\` installs)"
    elif [ -f tests/e2e/node_modules/.package-lock.json ] ||
        (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1); then
        run "UI render (headless Chromium)" node bench/ui_render.mjs
    else
        section "UI render"
        echo "(skipped: npm ci in tests/e2e failed)"
    fi
fi

section summary
cat <<'EOF'
targets (issue 2): ingest >= 50 MB/s raw pprof per core and within 4x of the parse floor;
SelectMergeStacktraces over 1 h of 10 series p50 < 100 ms and >= 20x go tool pprof;
<= 4 bytes on disk per ingested pprof sample.
EOF
grep '^=> ' "$log" | sed 's/^=> /  /' || echo "  (no figures: every benchmark failed?)"
