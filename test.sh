#!/usr/bin/env bash
# Command 2: set everything up (if needed) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")"
deploy/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
