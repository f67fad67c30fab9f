#!/usr/bin/env bash
# Installs what the Windows cross build needs (mingw-w64, Wine, dpkg-dev for
# `apt-get source`) and enables deb-src so the Windows dependency build can
# fetch Debian's source packages.  Idempotent; quick when all is present.
set -euo pipefail

PKGS=(mingw-w64 wine wine64 dpkg-dev xz-utils tcl autoconf automake libtool)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

need_update=0
# deb-src: add it to the deb822 sources (or the classic list) once.
if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    $SUDO sed -i -E 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
  fi
  if [ -f /etc/apt/sources.list ] && grep -qE '^deb ' /etc/apt/sources.list; then
    grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' |
      $SUDO tee -a /etc/apt/sources.list >/dev/null
  fi
  if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "setup_windows: could not enable deb-src (no Debian sources found)" >&2
    exit 1
  fi
  echo "setup_windows: enabled deb-src"
  need_update=1
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ] || [ $need_update -eq 1 ]; then
  $SUDO apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup_windows: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "setup_windows: done"
fi
