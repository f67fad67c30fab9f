#!/usr/bin/env bash
# Builds static Windows (mingw-w64) libraries of SQLite, cJSON, cmocka and
# libsodium
# from Debian's source packages (`apt-get source`, deb-src enabled by
# setup_windows.sh) into PREFIX/{include,lib}.  Sources are cached under
# build/win-deps/src; nothing is committed.  Quick when PREFIX is complete.
# Usage: tools/dev/build_windows_deps.sh PREFIX
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX=$(mkdir -p "${1:?usage: build_windows_deps.sh PREFIX}" && cd "$1" && pwd)
SRC=$ROOT/build/win-deps/src
CC=x86_64-w64-mingw32-gcc
AR=x86_64-w64-mingw32-ar
JOBS=$(nproc)
mkdir -p "$SRC" "$PREFIX/include/cjson" "$PREFIX/lib"

# fetch PKG: unpacks Debian's source package once; prints its directory.
fetch() {
  local dir
  dir=$(find "$SRC" -maxdepth 1 -type d -name "$1-[0-9]*" | head -n1)
  if [ -z "$dir" ]; then
    (cd "$SRC" && apt-get source -qq "$1" >/dev/null 2>&1) ||
      { echo "build_windows_deps: apt-get source $1 failed (deb-src enabled?)" >&2; exit 1; }
    dir=$(find "$SRC" -maxdepth 1 -type d -name "$1-[0-9]*" | head -n1)
  fi
  echo "$dir"
}

build_sqlite() {
  [ -f "$PREFIX/lib/libsqlite3.a" ] && return
  local d; d=$(fetch sqlite3)
  if [ ! -f "$d/sqlite3.c" ]; then
    # the Debian source is the full tree: generate the amalgamation with
    # host tools (tclsh + cc), then compile it for Windows
    mkdir -p "$d/amalg"
    (cd "$d/amalg" && ../configure --disable-tcl >/dev/null && make -j"$JOBS" sqlite3.c >/dev/null)
    cp "$d/amalg/sqlite3.c" "$d/amalg/sqlite3.h" "$d/"
  fi
  $CC -O2 -c "$d/sqlite3.c" -o "$SRC/sqlite3.o" -DSQLITE_THREADSAFE=1 -DSQLITE_OMIT_LOAD_EXTENSION
  rm -f "$PREFIX/lib/libsqlite3.a"
  $AR rcs "$PREFIX/lib/libsqlite3.a" "$SRC/sqlite3.o"
  cp "$d/sqlite3.h" "$PREFIX/include/"
  echo "build_windows_deps: sqlite3 built"
}

build_cjson() {
  [ -f "$PREFIX/lib/libcjson.a" ] && return
  local d; d=$(fetch cjson)
  $CC -O2 -std=c89 -c "$d/cJSON.c" -o "$SRC/cJSON.o"
  rm -f "$PREFIX/lib/libcjson.a"
  $AR rcs "$PREFIX/lib/libcjson.a" "$SRC/cJSON.o"
  cp "$d/cJSON.h" "$PREFIX/include/cjson/"
  echo "build_windows_deps: cjson built"
}

build_cmocka() {
  [ -f "$PREFIX/lib/libcmocka.a" ] && return
  local d; d=$(fetch cmocka)
  cmake -S "$d" -B "$SRC/cmocka-build" -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/mingw-w64.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DWITH_STATIC_LIB=ON \
    -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF -DPICKY_DEVELOPER=OFF \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" >/dev/null
  cmake --build "$SRC/cmocka-build" -j"$JOBS" >/dev/null
  cmake --install "$SRC/cmocka-build" >/dev/null
  # cmocka 1.1 names its static archive libcmocka-static.a; drop the DLL
  # and its import library so nothing links against them by accident
  cp "$PREFIX/lib/libcmocka-static.a" "$PREFIX/lib/libcmocka.a"
  rm -f "$PREFIX/lib/libcmocka.dll.a" "$PREFIX/bin/cmocka.dll"
  echo "build_windows_deps: cmocka built"
}

build_sodium() {
  [ -f "$PREFIX/lib/libsodium.a" ] && return
  local d; d=$(fetch libsodium)
  # Debian's source is the git tree: generate configure (autotools) once.
  # DO_NOT_UPDATE_CONFIG_SCRIPTS: autogen.sh would otherwise curl
  # config.guess/config.sub from savannah.gnu.org (offline: ~40 s of
  # timeouts; online: unpinned code from the network); automake's copies do.
  [ -x "$d/configure" ] || (cd "$d" && DO_NOT_UPDATE_CONFIG_SCRIPTS=1 ./autogen.sh -s >/dev/null 2>&1 ||
    autoreconf -fi >/dev/null)
  mkdir -p "$SRC/sodium-build"
  (cd "$SRC/sodium-build" &&
    "$d/configure" --host=x86_64-w64-mingw32 --prefix="$PREFIX" --disable-shared \
      --enable-static --disable-dependency-tracking >/dev/null &&
    make -j"$JOBS" >/dev/null && make install >/dev/null)
  rm -f "$PREFIX/lib/libsodium.la"
  echo "build_windows_deps: libsodium built"
}

build_sqlite
build_cjson
build_cmocka
build_sodium
