#!/usr/bin/env bash
# Easel for Linux and macOS. Finds Node.js 20.19+ (or fetches an official build into .runtime/), lets
# installer/bootstrap.mjs install dependencies and build what is stale, then starts the server.
# Usage: ./start.sh [--port N] [--host ADDR] [--models DIR] [--data DIR] [--no-browser]
#        ./start.sh import <checkpoint.safetensors> [--config DIR] [--name NAME] [--fp16]   |   ./start.sh --download [<id>]
# docs/INSTALL.md explains each step, the files it writes, and what to do when one fails.
set -euo pipefail
cd "$(dirname "$0")"
source installer/node-runtime.sh

step "Looking for Node.js 20.19 or newer"
find_node || fetch_node
say "Using Node.js $("$NODE" --version) at $NODE"
# npm and the packages' install scripts must run on this same Node.js, not another one on PATH.
PATH="$(dirname "$NODE"):$PATH"
export PATH

"$NODE" installer/bootstrap.mjs

if [[ ",${EASEL_INSTALL_DRY_RUN:-}," == *,start,* ]]; then
  printf '\n(dry run) would start: %s server/dist/main.js %s\n' "$NODE" "$*"
  exit 0
fi
# `./start.sh import <checkpoint> …` and `./start.sh --download <id>` run the model tool instead of the server
# (docs/MODELS.md).
if [[ "${1:-}" == import || " $* " == *" --download "* || " $* " == *" --download="* ]]; then
  exec "$NODE" server/dist/models/models-cli.js "$@"
fi
step "Starting Easel"
exec "$NODE" server/dist/main.js "$@"
