#!/bin/sh
# callgrind_ingest.sh - instructions fornax executes per pushed profile, by
# phase of bench_ingest: a count that other processes on the machine do not
# disturb (wall-clock and CPU-time figures vary with their load).
#
#   sh bench/callgrind_ingest.sh [FORNAX_BIN_DIR] [PUSHES]
#
# Starts FORNAX_BIN_DIR/fornax (default build/bin) under valgrind's
# callgrind, then for each phase pushes 16 profiles (warm-up: the first
# pushes create series and symbols), zeroes the counters, pushes PUSHES more
# (default 40) with build/bench/bench_ingest -url -n, and dumps. Prints
# instructions per push; the dumps stay in $OUT (default a temporary
# directory) for callgrind_annotate. Kernel time (TCP, fsync) is not counted.
set -eu
bin=${1:-build/bin}
n=${2:-40}
out=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/fornax-cg-XXXXXX")}
mkdir -p "$out"
port=$((20000 + $$ % 20000))
valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" --dump-instr=no \
    --compress-strings=no --compress-pos=no \
    "$bin/fornax" -target=all -server.http-listen-port=$port \
    -server.grpc-listen-port=$((port + 1)) -data-dir="$out/data" -log.level=warn \
    -distributor.ingestion-rate-limit-mb=100000 \
    -distributor.ingestion-burst-size-mb=100000 2>"$out/valgrind.log" &
vg=$!
i=0
until curl -sf "http://127.0.0.1:$port/ready" >/dev/null; do
    i=$((i + 1))
    [ $i -lt 300 ] || { echo "fornax not ready; see $out/valgrind.log" >&2; kill $vg; exit 1; }
    sleep 0.2
done
for phase in connect-cpu connect-heap ingest-cpu ingest-heap; do
    build/bench/bench_ingest -url "http://127.0.0.1:$port" -pid $vg -n 16 -c 4 -floor 0.01 \
        -phases $phase >/dev/null 2>&1
    callgrind_control -d warm-up $vg >/dev/null 2>&1
    build/bench/bench_ingest -url "http://127.0.0.1:$port" -pid $vg -n "$n" -c 4 -floor 0.01 \
        -phases $phase >/dev/null 2>&1
    callgrind_control -d $phase $vg >/dev/null 2>&1
done
kill -TERM $vg
wait $vg || true
for f in "$out"/cg.*.*; do
    phase=$(sed -n 's/^desc: Trigger: dump //p' "$f")
    [ "$phase" = warm-up ] && continue
    sed -n 's/^summary: //p' "$f" | awk -v p="$phase" -v n="$n" \
        '{ printf "%-13s %7.2f M instructions per push\n", p, $1 / n / 1e6 }'
done
echo "callgrind dumps: $out"
