#!/bin/sh
# run-fuzz.sh DIR - run every fuzz target in DIR over its seed corpus
# (tests/fuzz/corpus/<target>/ plus ../shared/fixtures where the target names
# them) and FUZZ_ITERS random mutations, under ASan/UBSan. A crash, a leak or
# a sanitizer report fails the run. For open-ended fuzzing use `make fuzz`.
set -u
dir=$1
iters=${FUZZ_ITERS:-20000}
failed=""
for t in "$dir"/fuzz_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    corpus="tests/fuzz/corpus/${name#fuzz_}"
    mkdir -p "$corpus"
    if "$t" -iters="$iters" "$corpus" >/tmp/fornax-fuzz-$$.log 2>&1; then
        tail -n 1 /tmp/fornax-fuzz-$$.log
    else
        cat /tmp/fornax-fuzz-$$.log >&2
        failed="$failed $name"
    fi
    rm -f /tmp/fornax-fuzz-$$.log
done
[ -z "$failed" ] || { echo "fuzz targets FAILED:$failed" >&2; exit 1; }
