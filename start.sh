#!/usr/bin/env bash
# Easel for Linux and macOS: installs what is missing, builds what is stale, then starts the server.
# Usage: ./start.sh [--port N] [--host ADDR] [--models DIR] [--data DIR] [--no-browser]
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nEasel could not start: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || fail "Node.js 20.19 or newer is needed. Install it from https://nodejs.org and run ./start.sh again."
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || fail "Node.js $(node --version) is too old: Easel needs 20.19 or newer (https://nodejs.org)."

# Dependencies: install when missing or when package-lock.json changed since the last install.
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  step "Installing dependencies (npm ci)"
  # onnxruntime-node's CUDA download is optional: the CPU build is bundled.
  export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"
  npm ci --no-audit --no-fund || fail "npm ci failed (see above). Check your internet connection and run ./start.sh again."
fi

# Build when any source is newer than its build output.
stale() { # $1 = stamp file, rest = source dirs/files
  local stamp=$1; shift
  [[ ! -e $stamp ]] && return 0
  [[ -n $(find "$@" -newer "$stamp" -type f -print -quit 2>/dev/null) ]]
}
if stale server/dist/main.js server/src server/package.json server/tsconfig.json tsconfig.base.json; then
  step "Building the server"
  npm run build -w server || fail "the server did not build (see above)."
fi
if stale ui/dist/index.html ui/src ui/index.html ui/package.json ui/vite.config.ts; then
  step "Building the UI"
  npm run build -w ui || fail "the UI did not build (see above)."
fi

step "Starting Easel"
exec node server/dist/main.js "$@"
