#!/usr/bin/env bash
# CTest "install_and_find_package": installs the build into a temporary
# prefix, checks that only the public headers (include/kpidb/) and the
# client's are installed and that no engine library is, configures and
# builds tests/install_consumer against it with find_package(kpidb), checks
# that its link line names neither the engine nor LZ4, xxHash or RE2, and
# runs the result.
set -euo pipefail
build_dir="$1"; source_dir="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_consumer: $*" >&2; exit 1; }
cmake --install "$build_dir" --prefix "$tmp/prefix" >/dev/null
prefix="$tmp/prefix"

# Headers: include/kpidb/*.h and include/kpidb/client/*.h, nothing else.
extra="$(cd "$prefix/include" && find . -type f | grep -Ev '^\./kpidb/[a-z_]+\.h$|^\./kpidb/client/[a-z_]+\.h$' || true)"
[ -z "$extra" ] || fail "installed headers outside the public API: $extra"
[ -f "$prefix/include/kpidb/engine.h" ] || fail "include/kpidb/engine.h is not installed"
[ -f "$prefix/include/kpidb/client/client.h" ] || fail "the client's header is not installed"
if grep -rl '#include "engine/' "$prefix/include" >/dev/null; then
  fail "an installed header includes an engine/ header: $(grep -rl '#include "engine/' "$prefix/include")"
fi
# Libraries: the client, the public types and the generated gRPC code only.
libs="$(cd "$prefix/lib" && ls *.a | sort | tr '\n' ' ')"
[ "$libs" = "libkpidb_api.a libkpidb_client.a libkpidb_proto.a " ] ||
  fail "installed libraries are '$libs', expected the client, api and proto only"

cmake -S "$source_dir/tests/install_consumer" -B "$tmp/build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/build" >/dev/null
link="$(ninja -C "$tmp/build" -t commands consumer | tail -1)"
for lib in kpidb_engine kpidb_core kpidb_query kpidb_segment kpidb_wal kpidb_codec kpidb_common lz4 xxhash; do
  if grep -q -- "$lib" <<<"$link"; then fail "the consumer links $lib: $link"; fi
done
# gRPC itself links RE2, so the link line cannot tell; the installed
# libraries must not call LZ4, xxHash or RE2 themselves.
if nm -u -C "$prefix"/lib/*.a | grep -E ' (LZ4_|XXH|re2::)' >/dev/null; then
  fail "installed kpidb libraries use LZ4, xxHash or RE2: $(nm -u -C "$prefix"/lib/*.a | grep -E ' (LZ4_|XXH|re2::)' | head -3)"
fi
"$tmp/build/consumer"
echo "consumer built and ran against $prefix (public headers and the client only)"
