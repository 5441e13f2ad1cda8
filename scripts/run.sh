#!/usr/bin/env bash
# Sets everything up (missing Debian packages, build) and runs kpidb-server
# in the foreground on its embedded defaults: 127.0.0.1:7411 and ./kpidb-data.
# Extra arguments go to the server (see `scripts/run.sh --help`); Ctrl-C
# stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
exec build/server/kpidb-server "$@"
