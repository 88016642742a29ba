#!/usr/bin/env bash
# Installs every build, test and benchmark dependency of fastjson-api from
# Debian's packages, only when something is missing. Idempotent; takes well
# under a second when everything is present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libsimdjson-dev libuv1-dev libfmt-dev catch2 libsqlite3-dev sqlite3
  libbenchmark-dev node-llhttp rapidjson-dev nlohmann-json3-dev
  wrk curl python3
)
# Extra sets, selected by flags, for CI jobs that need them.
for arg in "$@"; do
  case "$arg" in
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;
    --peers) packages+=(nginx gnuplot-nox) ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
