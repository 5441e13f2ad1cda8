#!/usr/bin/env bash
# CTest "install_and_find_package": installs the build into a temporary
# prefix, configures and builds tests/install_consumer against it with
# find_package(kpidb), and runs the result.
set -euo pipefail
build_dir="$1"; source_dir="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build_dir" --prefix "$tmp/prefix" >/dev/null
cmake -S "$source_dir/tests/install_consumer" -B "$tmp/build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" >/dev/null
"$tmp/build/consumer"
echo "consumer built and ran against $tmp/prefix"
