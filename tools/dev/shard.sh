#!/usr/bin/env bash
# Runs the local shard from a build dir: usage shard.sh BUILD_DIR [gameserver args].
# Until the gameserver lands this runs the netcore echo server.
set -euo pipefail
dir=$1; shift
if [ -x "$dir/server/gameserver" ]; then
  exec "$dir/server/gameserver" "$@"
fi
echo "gameserver not built yet: running the netcore echo server (tools/bench/nc_echo_server)"
exec "$dir/tools/bench/nc_echo_server" --port 7777 "$@"
