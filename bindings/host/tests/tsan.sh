#!/usr/bin/env bash
# host.tsan: builds the host library and test_host_threads with
# ThreadSanitizer (-DASTRO_TSAN=ON) in a build directory of its own, then runs
# the thread test there. Lua, SQLite and libcurl are not instrumented (their
# use is serialized by the engine's mutexes, which TSan does see).
# Arguments: cmake, source dir, build dir, C compiler. Exit 77 = skipped.
set -euo pipefail
cmake=$1 src=$2 bdir=$3 cc=$4

# A compiler or kernel that cannot run TSan binaries is a skip, said so.
probe=$(mktemp -d "${TMPDIR:-/tmp}/astro-tsan.XXXXXX")
trap 'rm -rf "$probe"' EXIT
printf '#include <pthread.h>\nstatic void *f(void *a) { return a; }\nint main(void) { pthread_t t; pthread_create(&t, 0, f, 0); return pthread_join(t, 0); }\n' >"$probe/p.c"
if ! "$cc" -fsanitize=thread "$probe/p.c" -o "$probe/p" -lpthread >"$probe/log" 2>&1 || ! "$probe/p" >>"$probe/log" 2>&1; then
  echo "SKIP: this compiler or kernel cannot build or run ThreadSanitizer binaries:"
  cat "$probe/log"
  exit 77
fi

"$cmake" -S "$src" -B "$bdir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DASTRO_TSAN=ON -DASTRO_SANITIZE=OFF -DASTRO_TESTS=OFF -DASTRO_LUAJIT=OFF >"$bdir.log" 2>&1 ||
  { cat "$bdir.log"; echo "FAIL: configuring the TSan build"; exit 1; }
"$cmake" --build "$bdir" --target test_host_threads -j2 >>"$bdir.log" 2>&1 ||
  { tail -40 "$bdir.log"; echo "FAIL: building the TSan build"; exit 1; }
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" "$bdir/bindings/host/tests/test_host_threads"
