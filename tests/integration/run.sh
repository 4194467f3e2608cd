#!/bin/sh
# run.sh - integration tests: real fornax processes on loopback, driven by
# Python's standard library (tests/lib/fornax.py). Each test module starts
# and stops its own processes by pid.
set -eu
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD/tests/lib${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
if [ "$#" -gt 0 ]; then
    cd tests/integration && exec python3 -m unittest -v "$@"
fi
exec python3 -m unittest discover -v -s tests/integration -p 'test_*.py'
