#!/usr/bin/env bash
# Command 1: set everything up and start the bot (Discord when DISCORD_TOKEN is set,
# else the terminal console). Missing models are built in the background.
set -euo pipefail
cd "$(dirname "$0")"
deploy/bootstrap.sh
exec .venv/bin/mlbot run "$@"
