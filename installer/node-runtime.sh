# shellcheck shell=bash disable=SC2034  # NODE is read by start.sh, which sources this file.
# Finding or fetching Node.js for start.sh. Sourced from the app folder (start.sh cd's there first); sets NODE
# to an absolute path. Everything it writes stays in .runtime/, so no admin rights are needed.

RUNTIME_DIR=.runtime
DOWNLOADS="$RUNTIME_DIR/downloads"
ATTEMPTS=3

step() { printf '\n==> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
fail() { printf '\nEasel could not start: %s\n' "$*" >&2; exit 1; }

# Easel needs 20.19 or newer (require(esm) and the test runner features it relies on).
node_ok() { "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' >/dev/null 2>&1; }

find_node() {
  local candidate found
  # The copy in this folder comes first: node_modules was installed with it, and native modules follow its ABI.
  for candidate in "$RUNTIME_DIR"/node-v*/bin/node; do
    if [[ -x $candidate ]] && node_ok "$candidate"; then NODE="$PWD/$candidate"; return 0; fi
  done
  found=$(command -v node 2>/dev/null) || { say "No Node.js found on PATH."; return 1; }
  if node_ok "$found"; then NODE=$found; return 0; fi
  say "Node.js $("$found" --version 2>/dev/null || echo '(unknown version)') at $found is too old: Easel needs 20.19 or newer."
  return 1
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | awk '{print $1}'
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | awk '{print $1}'
  else openssl dgst -sha256 -r "$1" | awk '{print $1}'
  fi
}

# fetch URL DEST [resume]: curl or wget, with a progress bar when resuming a large file.
fetch() {
  if command -v curl >/dev/null 2>&1; then
    if [[ -n ${3:-} ]]; then curl -fL --progress-bar -C - -o "$2" "$1"; else curl -fsSL -o "$2" "$1"; fi
  elif command -v wget >/dev/null 2>&1; then
    if [[ -n ${3:-} ]]; then wget -c --progress=bar:force -O "$2" "$1"; else wget -q -O "$2" "$1"; fi
  else
    fail "neither curl nor wget is installed, so Node.js cannot be downloaded. Install one of them (or Node.js 20.19+ from https://nodejs.org) and run ./start.sh again."
  fi
}

# The newest LTS release of Node 20 (from 20.19) or 22 that has a build for KEY. Not 23+: onnxruntime-node mishandles
# float16 inputs on Node 23 and later (see the onnx-pipeline reference, §6.4).
latest_lts() { # MIRROR KEY
  local index="$DOWNLOADS/index.tab"
  fetch "$1/index.tab" "$index" || return 1
  awk -F'\t' -v key="$2" 'NR > 1 && $10 != "-" && index("," $3 ",", "," key ",") {
      split(substr($1, 2), v, ".")
      if (!((v[1] == 20 && v[2] >= 19) || v[1] == 22)) next
      n = v[1] * 1000000 + v[2] * 1000 + v[3]
      if (n > best) { best = n; version = $1 }
    } END { if (version) print version; else exit 1 }' "$index"
}

fetch_node() {
  local os arch key ext mirror version name file sums expected part got attempt
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) fail "this system ($(uname -s)) has no official Node.js build that start.sh knows. Install Node.js 20.19+ yourself and run ./start.sh again." ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    armv7l) arch=armv7l ;;
    ppc64le | s390x) arch=$(uname -m) ;;
    *) fail "no official Node.js build for this CPU ($(uname -m)). Install Node.js 20.19+ yourself and run ./start.sh again." ;;
  esac
  if [[ $os == darwin ]]; then key="osx-$arch-tar"; else key="$os-$arch"; fi
  # xz archives are a quarter smaller; tar needs the xz program to read them.
  if command -v xz >/dev/null 2>&1; then ext=tar.xz; else ext=tar.gz; fi
  mirror=${EASEL_NODE_MIRROR:-https://nodejs.org/dist}
  mirror=${mirror%/}
  mkdir -p "$DOWNLOADS" || fail "cannot create $PWD/$DOWNLOADS. Check that this folder is writable."

  step "Fetching Node.js into $RUNTIME_DIR/ (for Easel only: nothing is installed system-wide)"
  version=${EASEL_NODE_VERSION:-}
  if [[ -z $version ]]; then
    say "Looking up the current Node.js LTS release at $mirror"
    version=$(latest_lts "$mirror" "$key") \
      || fail "could not find a Node.js LTS release for $os-$arch at $mirror. Check your internet connection (or EASEL_NODE_MIRROR) and run ./start.sh again."
  fi
  name="node-$version-$os-$arch"
  file="$name.$ext"
  sums="$DOWNLOADS/SHASUMS256-$version.txt"
  part="$DOWNLOADS/$file.part"

  say "Reading the published SHA-256 sums for $version"
  fetch "$mirror/$version/SHASUMS256.txt" "$sums" \
    || fail "could not download $mirror/$version/SHASUMS256.txt. Check your internet connection and run ./start.sh again."
  expected=$(awk -v f="$file" '$2 == f { print $1 }' "$sums")
  [[ -n $expected ]] || fail "$mirror/$version/SHASUMS256.txt does not list $file. Check EASEL_NODE_MIRROR and run ./start.sh again."

  # A .part file is what an earlier run left: curl/wget continue it instead of starting over.
  if [[ -s $part && $(sha256_of "$part") == "$expected" ]]; then
    say "$file was already downloaded completely."
  else
    [[ -s $part ]] && say "Resuming the earlier download of $file ($(($(wc -c <"$part") / 1048576)) MB so far)."
    step "Downloading $file from $mirror"
    for ((attempt = 1; ; attempt++)); do
      fetch "$mirror/$version/$file" "$part" resume && break
      ((attempt < ATTEMPTS)) || fail "the download of $file stopped before it finished ($(($(wc -c <"$part" 2>/dev/null || echo 0) / 1048576)) MB kept in $DOWNLOADS/). Check your internet connection and run ./start.sh again: it resumes where it stopped."
      say "The download stopped; resuming (attempt $((attempt + 1)) of $ATTEMPTS)."
      sleep 1
    done
  fi

  step "Checking $file against its published SHA-256"
  got=$(sha256_of "$part")
  if [[ $got != "$expected" ]]; then
    # Resuming a corrupt file could never fix it, so it goes.
    rm -f "$part"
    fail "$file does not match its published SHA-256 (expected $expected, got $got). The file was deleted and nothing was installed. Run ./start.sh again to download it afresh; if this happens again, the mirror ($mirror) or a proxy is serving a different file."
  fi
  say "SHA-256 matches."

  # Unpack beside the final place, then rename: a half-unpacked folder is never mistaken for an installed Node.js.
  step "Unpacking into $RUNTIME_DIR/$name"
  rm -rf "$RUNTIME_DIR/unpacking"
  mkdir -p "$RUNTIME_DIR/unpacking"
  local flag=z
  [[ $ext == tar.xz ]] && flag=J
  tar -x${flag}f "$part" -C "$RUNTIME_DIR/unpacking" \
    || fail "could not unpack $file (disk full?). Free some space and run ./start.sh again."
  node_ok "$RUNTIME_DIR/unpacking/$name/bin/node" \
    || fail "the downloaded Node.js does not run on this system (a musl-based Linux such as Alpine needs Node.js from its own package manager). Install Node.js 20.19+ yourself and run ./start.sh again."
  rm -rf "${RUNTIME_DIR:?}/$name"
  mv "$RUNTIME_DIR/unpacking/$name" "$RUNTIME_DIR/$name" || fail "could not move Node.js into $RUNTIME_DIR/$name."
  rm -rf "$RUNTIME_DIR/unpacking" "$DOWNLOADS"
  NODE="$PWD/$RUNTIME_DIR/$name/bin/node"
  say "Node.js $version is ready."
}
