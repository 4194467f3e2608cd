#!/bin/sh
# run-unit.sh BIN... - run each cmocka unit-test binary; fail if any fails.
set -u
failed=""
for t in "$@"; do
    if "$t"; then :; else failed="$failed $(basename "$t")"; fi
done
if [ -n "$failed" ]; then
    echo "unit tests FAILED:$failed" >&2
    exit 1
fi
echo "unit tests: all $# binaries passed"
