#!/usr/bin/env bash
# Installs the Debian packages this repository needs, if any are missing.
# Idempotent and quick when everything is present (no apt-get update then).
set -euo pipefail

PKGS=(build-essential cmake pkg-config git clang clang-format libclang-rt-14-dev
      libsqlite3-dev libcjson-dev libcmocka-dev libsodium-dev libuv1-dev prometheus)
# the /status page's browser test (gs_test_status_page): ~120 MB, ~16 s here
PKGS+=(chromium)
# issue 16: the PostgreSQL account store (libpq) and the real server its tests start
PKGS+=(libpq-dev postgresql)
# issue 16: the Redis chat bus (hiredis's parser) and the real redis-server its tests start
PKGS+=(libhiredis-dev redis-server)
PKGS+=("$@")

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
