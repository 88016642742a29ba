#!/usr/bin/env bash
# Builds the peer servers for benchmarks/load.sh into benchmarks/peers/build/,
# one executable (or wrapper script) per peer, each started as `BIN PORT`
# with one worker thread/process:
#
#   go-nethttp go-fasthttp go-gin go-chi   Go (Debian golang-* packages, GOPATH mode)
#   go-sqlite (into build/db/)             Go net/http + database/sql + mattn/go-sqlite3:
#                                          the TechEmpower database tests, started as
#                                          `BIN PORT DB` by benchmarks/tfb/load.sh --peer
#   rust-hyper                             hyper 0.14 + tokio current_thread + serde_json
#   rust-sqlite (into build/db/)           hyper 0.14 + tokio + rusqlite (spawn_blocking):
#                                          the database tests, `BIN PORT DB` like go-sqlite
#   node-http node-fastify                 one Node process each
#   pistache beast                         C++ (Debian libpistache-dev, libboost-dev)
#
#   benchmarks/peers/build.sh [--no-install] [PEER...]
#
# Installs what is missing (apt as root; npm for Fastify), then builds
# offline. Idempotent: a peer whose output is newer than its sources is left
# alone. A peer that cannot be built here is skipped with a message and its
# old output removed, so load.sh never runs a stale binary.
set -uo pipefail
cd "$(dirname "$0")"
here=$(pwd)
out=$here/build
mkdir -p "$out"
install=1
if [ "${1:-}" = --no-install ]; then install=0; shift; fi
want=("$@")
built=()
skipped=()

wanted() { [ ${#want[@]} -eq 0 ] && return 0; local w; for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }
skip() { echo "peers: SKIP $1: $2" >&2; skipped+=("$1: $2"); rm -f "$out/$1"; }
ok() { echo "peers: ok   $1"; built+=("$1"); }
fresh() { # fresh OUTPUT SOURCE... : output exists and is newer than every source
  local o=$1; shift; [ -x "$o" ] || return 1
  local s; for s in "$@"; do [ "$o" -nt "$s" ] || return 1; done
}

apt_updated=0
need_apt() { # need_apt PKG... : install the missing ones; fails if any stays missing
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $install -eq 0 ] || [ "$(id -u)" != 0 ]; then echo "peers: missing Debian packages: ${missing[*]}" >&2; return 1; fi
  if [ $apt_updated -eq 0 ] && ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then apt-get update -qq; apt_updated=1; fi
  echo "peers: apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- Go: GOPATH mode against Debian's /usr/share/gocode, no module downloads.
build_go() { # build_go NAME DIR PKG...
  local name=$1 dir=$2; shift 2
  wanted "$name" || return 0
  need_apt golang-go "$@" || { skip "$name" "Debian packages $* not installable"; return; }
  fresh "$out/$name" "go/$dir/main.go" && { ok "$name"; return; }
  if (cd "go/$dir" && GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off \
        go build -trimpath -o "$out/$name" main.go); then ok "$name"
  else skip "$name" "go build failed (see above)"; fi
}
build_go go-nethttp nethttp
build_go go-fasthttp fasthttp golang-github-valyala-fasthttp-dev
build_go go-gin gin golang-github-gin-gonic-gin-dev
build_go go-chi chi golang-github-go-chi-chi-dev
# The database peer (TechEmpower /db /queries /fortunes /updates) goes to
# build/db/: load.sh runs only build/*, benchmarks/tfb/load.sh --peer runs it.
if wanted go-sqlite; then
  mkdir -p "$out/db"
  if ! need_apt golang-go golang-github-mattn-go-sqlite3-dev libsqlite3-dev; then
    skip go-sqlite "Debian golang-github-mattn-go-sqlite3-dev not installable"
  elif fresh "$out/db/go-sqlite" go/sqlite/main.go; then ok go-sqlite
  elif (cd go/sqlite && GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off CGO_ENABLED=1 \
          go build -trimpath -o "$out/db/go-sqlite" main.go); then ok go-sqlite
  else skip go-sqlite "go build failed (see above)"; rm -f "$out/db/go-sqlite"; fi
fi

# --- Rust: cargo offline against Debian's crate registry (rust-hyper/.cargo/config.toml).
if wanted rust-hyper; then
  command -v cargo >/dev/null || need_apt cargo || true
  if ! need_apt librust-hyper-dev librust-tokio-dev librust-serde-json-dev librust-serde-derive-dev; then
    skip rust-hyper "Debian librust-*-dev packages not installable"
  elif ! command -v cargo >/dev/null; then skip rust-hyper "no cargo"
  elif fresh "$out/rust-hyper" rust-hyper/src/main.rs rust-hyper/Cargo.toml; then ok rust-hyper
  elif (cd rust-hyper && cargo build --release --offline --quiet); then
    cp rust-hyper/target/release/rust-hyper "$out/rust-hyper" && ok rust-hyper
  else skip rust-hyper "cargo build --offline failed against /usr/share/cargo/registry (see above)"; fi
fi

# --- Rust database peer: hyper + rusqlite (Debian librust-rusqlite-dev).
if wanted rust-sqlite; then
  command -v cargo >/dev/null || need_apt cargo || true
  mkdir -p "$out/db"
  if ! need_apt librust-hyper-dev librust-tokio-dev librust-serde-json-dev librust-serde-derive-dev \
         librust-rusqlite-dev libsqlite3-dev; then
    skip rust-sqlite "Debian librust-rusqlite-dev not installable"; rm -f "$out/db/rust-sqlite"
  elif ! command -v cargo >/dev/null; then skip rust-sqlite "no cargo"; rm -f "$out/db/rust-sqlite"
  elif fresh "$out/db/rust-sqlite" rust-sqlite/src/main.rs rust-sqlite/Cargo.toml; then ok rust-sqlite
  elif (cd rust-sqlite && cargo build --release --offline --quiet); then
    cp rust-sqlite/target/release/rust-sqlite "$out/db/rust-sqlite" && ok rust-sqlite
  else skip rust-sqlite "cargo build --offline failed (see above)"; rm -f "$out/db/rust-sqlite"; fi
fi

# --- Node: node:http and Fastify, each a wrapper running one node process.
node_wrapper() { # node_wrapper NAME SCRIPT
  printf '#!/bin/sh\n# %s: one Node process (generated by build.sh)\nexec node "$(dirname "$0")/../node/%s" "$@"\n' "$1" "$2" >"$out/$1"
  chmod +x "$out/$1"
}
if wanted node-http || wanted node-fastify; then
  if ! command -v node >/dev/null; then need_apt nodejs || true; fi
  if ! command -v node >/dev/null; then
    skip node-http "no node"; skip node-fastify "no node"
  else
    wanted node-http && { node_wrapper node-http http.js; ok node-http; }
    if wanted node-fastify; then
      if ! command -v npm >/dev/null; then need_apt npm || true; fi
      if [ -d node/node_modules/fastify ]; then :
      elif grep -q '"fastify"' node/package.json && [ -f node/package-lock.json ]; then
        (cd node && npm ci --no-audit --no-fund --loglevel=error)
      elif [ $install -eq 1 ]; then
        (cd node && npm install --no-audit --no-fund --loglevel=error fastify)
      fi
      if [ -d node/node_modules/fastify ]; then node_wrapper node-fastify fastify.js; ok node-fastify
      else skip node-fastify "npm could not install fastify"; fi
    fi
  fi
fi

# --- C++: g++ directly.
cxx=(g++ -std=c++17 -O2 -DNDEBUG -pthread)
if wanted pistache; then
  if ! need_apt libpistache-dev nlohmann-json3-dev; then skip pistache "libpistache-dev not installable"
  elif fresh "$out/pistache" cpp/pistache.cc; then ok pistache
  elif "${cxx[@]}" cpp/pistache.cc -o "$out/pistache" $(pkg-config --cflags --libs libpistache 2>/dev/null || echo -lpistache); then ok pistache
  else skip pistache "g++ failed (see above)"; fi
fi
if wanted beast; then
  if ! need_apt libboost-dev nlohmann-json3-dev; then skip beast "libboost-dev not installable"
  elif fresh "$out/beast" cpp/beast.cc; then ok beast
  elif "${cxx[@]}" cpp/beast.cc -o "$out/beast"; then ok beast
  else skip beast "g++ failed (see above)"; fi
fi

echo "peers: built ${#built[@]}: ${built[*]:-}"
if [ ${#skipped[@]} -gt 0 ]; then printf 'peers: skipped: %s\n' "${skipped[@]}"; fi
exit 0
