#!/usr/bin/env bash
# Sets up, builds (Release) and runs the shard locally: masterserver,
# chatserver and gameserver together, logs prefixed per process.  Ctrl-C
# stops all three cleanly.  Extra arguments go to gameserver.  The first run
# creates build/release/dev/ (links secret, login server key, a `dev` GM
# account with its password in dev.password; see shard.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/setup.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)"
exec bash tools/dev/shard.sh build/release "$@"
