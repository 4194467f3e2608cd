#!/bin/sh
# run.sh - end-to-end tests with real clients. Installs the npm packages the tests use
# (from package-lock.json, once), then runs every tests/e2e/**/*.test.mjs with Node's
# test runner, one file at a time (each starts its own fornax). FORNAX_BIN is the
# directory holding the fornax binary (the Makefile passes build/bin).
set -eu
cd "$(dirname "$0")"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
files=$(find . -path ./node_modules -prune -o -name '*.test.mjs' -print | sort)
# shellcheck disable=SC2086 # one argument per file
exec node --test --test-concurrency=1 $files
