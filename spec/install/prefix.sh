#!/usr/bin/env bash
# install.prefix: `cmake --install` of the build into a temporary prefix, then
# everything used from there, outside the checkout (cwd a temp dir, no checkout
# path in any search path):
#   - the tree: lua/astrocyte copied whole, with providers/ and profiles/ as
#     real directories; every Lua C module; headers, libraries, astrocyte.pc,
#     the CMake package; no installed text file mentions the checkout;
#   - Lua 5.4 and LuaJIT run use.lua with the interpreter's own default search
#     path, its entries under the configured prefix (/usr/local) moved to the
#     temp prefix: what a real install there finds with no LUA_PATH set;
#   - use.c built with `pkg-config --cflags --libs astrocyte`, and a CMake
#     project using find_package(astrocyte) (shared and static targets);
#   - the C host API: astrocyte.h, libastrocyte_host, astrocyte-host.pc, and
#     examples/game_server built with find_package (astrocyte::host) and run
#     for a few ticks on the installed Lua tree;
#   - the installed CLI retains and recalls, also through a symlink, on
#     LuaJIT, and after the whole prefix is moved elsewhere; its `serve`
#     answers over HTTP and ends with exit 0 on SIGTERM.
# Environment (set by spec/install/CMakeLists.txt): ASTRO_SOURCE_DIR,
# ASTRO_BUILD_DIR, ASTRO_VERSION, ASTRO_CMAKE, ASTRO_CC, ASTRO_PKG_CONFIG,
# ASTRO_LUA54, ASTRO_LUAJIT (empty: not built), ASTRO_PREFIX0 (the configured
# prefix), ASTRO_LIBDIR, ASTRO_INCLUDEDIR, ASTRO_BINDIR, ASTRO_CMAKEDIR,
# ASTRO_L54, ASTRO_C54, ASTRO_LJL, ASTRO_LJC (install dirs), ASTRO_INSTALL_C,
# ASTRO_PRELOAD (sanitizer runtimes the interpreters need, or empty).
set -euo pipefail
src=$ASTRO_SOURCE_DIR build=$ASTRO_BUILD_DIR
unset LUA_PATH LUA_PATH_5_4 LUA_CPATH LUA_CPATH_5_4 LUA_INIT LUA_INIT_5_4 PKG_CONFIG_PATH CMAKE_PREFIX_PATH ASTRO_LUA_PATH

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
# Runs an installed program: with the sanitizer runtimes preloaded in an
# ASan build (the interpreters are not instrumented), never the tools.
run() { if [ -n "${ASTRO_PRELOAD:-}" ]; then LD_PRELOAD="$ASTRO_PRELOAD" "$@"; else "$@"; fi; }

for d in "$ASTRO_LIBDIR" "$ASTRO_INCLUDEDIR" "$ASTRO_BINDIR" "$ASTRO_CMAKEDIR" "$ASTRO_L54" "$ASTRO_C54" \
         ${ASTRO_LUAJIT:+"$ASTRO_LJL" "$ASTRO_LJC"}; do
  case "$d" in /*) echo "SKIP: install dir $d is absolute, so --prefix cannot move it"; exit 77 ;; esac
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/astro-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
P=$tmp/prefix
mkdir -p "$tmp/work"
cd "$tmp/work"

step "cmake --install into $P"
"$ASTRO_CMAKE" --install "$build" --prefix "$P" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install"; }

step "installed tree"
# Every file of lua/astrocyte (links followed) is installed, identical, for
# each runtime; no links are left in the Lua trees.
lua_trees=("$ASTRO_L54")
[ -n "${ASTRO_LUAJIT:-}" ] && lua_trees+=("$ASTRO_LJL")
nfiles=0
while IFS= read -r -d '' f; do
  for t in "${lua_trees[@]}"; do
    cmp -s "$src/lua/astrocyte/$f" "$P/$t/astrocyte/$f" || fail "$t/astrocyte/$f missing or different"
  done
  nfiles=$((nfiles + 1))
done < <(cd "$src/lua/astrocyte" && find -L . -type f ! -path '*/.*' ! -name '*~' -printf '%P\0')
[ "$nfiles" -gt 50 ] || fail "only $nfiles files found in lua/astrocyte"
for t in "${lua_trees[@]}"; do
  links=$(find "$P/$t" -type l)
  [ -z "$links" ] || fail "links left in the installed Lua tree: $links"
  for d in providers profiles profiles/compliance; do
    [ -d "$P/$t/astrocyte/$d" ] || fail "$t/astrocyte/$d is not a directory"
  done
done
# Every C module built for a runtime is installed for it.
check_cmods() { # build subdir, install dir
  local n=0 m
  for m in "$build/$1/astrocyte/"*.so; do
    [ -f "$P/$2/astrocyte/${m##*/}" ] || fail "$2/astrocyte/${m##*/} missing"
    n=$((n + 1))
  done
  [ "$n" -ge 2 ] || fail "no C modules built in $build/$1"
}
check_cmods lua54 "$ASTRO_C54"
[ -z "${ASTRO_LUAJIT:-}" ] || check_cmods luajit "$ASTRO_LJC"
[ -x "$P/$ASTRO_BINDIR/astrocyte" ] || fail "$ASTRO_BINDIR/astrocyte missing"
if [ "$ASTRO_INSTALL_C" = ON ]; then
  for h in "$src"/core/include/astro/*.h; do
    cmp -s "$h" "$P/$ASTRO_INCLUDEDIR/astro/${h##*/}" || fail "header astro/${h##*/} missing or different"
  done
  for f in "$ASTRO_LIBDIR/libastrocyte.a" "$ASTRO_LIBDIR/libastrocyte.so" "$ASTRO_LIBDIR/pkgconfig/astrocyte.pc" \
           "$ASTRO_CMAKEDIR/astrocyteConfig.cmake" "$ASTRO_CMAKEDIR/astrocyteConfigVersion.cmake" \
           "$ASTRO_CMAKEDIR/astrocyteTargets.cmake"; do
    [ -e "$P/$f" ] || fail "$f missing"
  done
fi
# Nothing installed refers back to the checkout or the build directory
# (text files only: the libraries' debug info names their sources).
if grep -rIlF -e "$src/" -e "$build/" "$P" >"$tmp/refs"; then
  fail "installed files refer to the checkout: $(tr '\n' ' ' <"$tmp/refs")"
fi

# The interpreter's default path with the configured prefix's entries moved
# to $P, followed by the unchanged default path (system modules such as
# lua-cjson live there when the prefix is /usr). With prefix /usr/local or /usr
# the install dirs must be in the default path; with another prefix they are
# named explicitly.
default_path() { # interpreter, path|cpath
  env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 "$1" -e "io.write(package.$2)"
}
moved_path() { # interpreter, path|cpath, install dir, pattern
  local out="" e def
  def=$(default_path "$1" "$2")
  IFS=';' read -ra parts <<<"$def"
  for e in "${parts[@]}"; do
    case "$e" in "$ASTRO_PREFIX0"/*) out+="$P${e#"$ASTRO_PREFIX0"};" ;; esac
  done
  if [[ ";$out" != *";$P/$3/$4;"* ]]; then
    case "$ASTRO_PREFIX0" in /usr | /usr/local)
      fail "installed with prefix $ASTRO_PREFIX0, $3 would not be in $1's default $2" ;;
    esac
    echo "note: $ASTRO_PREFIX0/$3 is not in $1's default $2; naming it explicitly" >&2
    out="$P/$3/$4;$out"
    [ "$2" = path ] && out="$P/$3/?/init.lua;$out"
  fi
  printf '%s' "$out$def"
}

step "Lua 5.4 uses the installed tree"
# (assigned on their own, so that a failure in moved_path stops the script)
lpath=$(moved_path "$ASTRO_LUA54" path "$ASTRO_L54" '?.lua')
lcpath=$(moved_path "$ASTRO_LUA54" cpath "$ASTRO_C54" '?.so')
LUA_PATH_5_4=$lpath LUA_CPATH_5_4=$lcpath run "$ASTRO_LUA54" "$src/spec/install/use.lua" "$P" "$tmp/lua54.db" "$ASTRO_VERSION" || fail "Lua 5.4"

if [ -n "${ASTRO_LUAJIT:-}" ]; then
  step "LuaJIT uses the installed tree"
  lpath=$(moved_path "$ASTRO_LUAJIT" path "$ASTRO_LJL" '?.lua')
  lcpath=$(moved_path "$ASTRO_LUAJIT" cpath "$ASTRO_LJC" '?.so')
  LUA_PATH=$lpath LUA_CPATH=$lcpath run "$ASTRO_LUAJIT" "$src/spec/install/use.lua" "$P" "$tmp/luajit.db" "$ASTRO_VERSION" || fail "LuaJIT"
fi

if [ "$ASTRO_INSTALL_C" = ON ]; then
  step "C program built with pkg-config"
  export PKG_CONFIG_PATH="$P/$ASTRO_LIBDIR/pkgconfig"
  pc() { "$ASTRO_PKG_CONFIG" "$@" astrocyte; }
  [ "$(pc --modversion)" = "$ASTRO_VERSION" ] || fail "pkg-config --modversion: $(pc --modversion)"
  [[ " $(pc --cflags) " == *" -I$P/$ASTRO_INCLUDEDIR "* ]] || fail "pkg-config --cflags: $(pc --cflags)"
  [[ " $(pc --libs) " == *" -L$P/$ASTRO_LIBDIR "* ]] || fail "pkg-config --libs: $(pc --libs)"
  # shellcheck disable=SC2046
  "$ASTRO_CC" -std=c11 -Wall -Wextra -Werror $(pc --cflags) "$src/spec/install/use.c" -o use_pc $(pc --libs) -lm ||
    fail "compiling use.c with pkg-config"
  # (ldd output captured, not piped to grep -q: an early exit of grep would
  # kill ldd with SIGPIPE and fail the pipeline under pipefail)
  deps=$(LD_LIBRARY_PATH="$P/$ASTRO_LIBDIR" ldd ./use_pc)
  [[ "$deps" == *"=> $P/$ASTRO_LIBDIR/libastrocyte.so"* ]] || fail "use_pc does not load the installed libastrocyte.so: $deps"
  LD_LIBRARY_PATH="$P/$ASTRO_LIBDIR" ./use_pc || fail "use.c (pkg-config)"
  unset PKG_CONFIG_PATH

  step "CMake project with find_package(astrocyte)"
  "$ASTRO_CMAKE" -S "$src/spec/install/consumer" -B consumer -DCMAKE_PREFIX_PATH="$P" \
    -DCMAKE_C_COMPILER="$ASTRO_CC" -DCMAKE_BUILD_TYPE=Release \
    -DASTRO_USE_C="$src/spec/install/use.c" -DASTRO_EXPECT_PREFIX="$P" >consumer.log 2>&1 &&
  "$ASTRO_CMAKE" --build consumer >>consumer.log 2>&1 || { cat consumer.log >&2; fail "find_package(astrocyte) project"; }
  deps=$(ldd consumer/use_shared)
  [[ "$deps" == *"=> $P/$ASTRO_LIBDIR/libastrocyte.so"* ]] || fail "use_shared does not load the installed libastrocyte.so: $deps"
  deps=$(ldd consumer/use_static)
  [[ "$deps" != *libastrocyte* ]] || fail "use_static links libastrocyte dynamically: $deps"
  consumer/use_shared || fail "use.c (astrocyte::astrocyte)"
  consumer/use_static || fail "use.c (astrocyte::astrocyte_static)"

  step "C host API: examples/game_server built with find_package(astrocyte), run on the installed tree"
  for f in "$ASTRO_LIBDIR/libastrocyte_host.so" "$ASTRO_LIBDIR/pkgconfig/astrocyte-host.pc"; do
    [ -e "$P/$f" ] || fail "$f missing"
  done
  cmp -s "$src/bindings/host/astrocyte.h" "$P/$ASTRO_INCLUDEDIR/astrocyte.h" || fail "astrocyte.h missing or different"
  v=$(PKG_CONFIG_PATH="$P/$ASTRO_LIBDIR/pkgconfig" "$ASTRO_PKG_CONFIG" --modversion astrocyte-host)
  [ "$v" = "$ASTRO_VERSION" ] || fail "pkg-config --modversion astrocyte-host: $v"
  "$ASTRO_CMAKE" -S "$src/examples/game_server" -B game_server -DCMAKE_PREFIX_PATH="$P" \
    -DCMAKE_C_COMPILER="$ASTRO_CC" -DCMAKE_BUILD_TYPE=Release >game_server.log 2>&1 &&
  "$ASTRO_CMAKE" --build game_server >>game_server.log 2>&1 || { cat game_server.log >&2; fail "building examples/game_server"; }
  deps=$(ldd game_server/game_server)
  [[ "$deps" == *"=> $P/$ASTRO_LIBDIR/libastrocyte_host.so"* ]] || fail "game_server does not load the installed libastrocyte_host.so: $deps"
  # A few ticks: NPCs retain and recall through submit/poll; it exits 1
  # unless both happened with no failure.
  out=$(env -u ASTRO_LUA_PATH game_server/game_server --db "$tmp/game.db" --ticks 30) || fail "game_server: $out"
  echo "$out"
fi

# The installed CLI: retain, then recall returns the memory.
cli_roundtrip() { # launcher, db, label
  local out
  out=$(run "$1" --db "$2" --bank notes retain "The standup is at 9:30 in the Orion room" --tags team) ||
    fail "$3: retain"
  [[ "$out" == stored* ]] || fail "$3: retain printed: $out"
  out=$(run "$1" --db "$2" --bank notes recall "when is the standup?" --max-results 3) || fail "$3: recall"
  [[ "$out" == *"The standup is at 9:30 in the Orion room"* ]] || fail "$3: recall printed: $out"
}
step "installed CLI"
cli_roundtrip "$P/$ASTRO_BINDIR/astrocyte" "$tmp/cli.db" "CLI"
ln -s "$P/$ASTRO_BINDIR/astrocyte" "$tmp/work/astro-link"
cli_roundtrip "$tmp/work/astro-link" "$tmp/cli-link.db" "CLI through a symlink"
if [ -n "${ASTRO_LUAJIT:-}" ]; then
  ASTRO_LUA=$ASTRO_LUAJIT cli_roundtrip "$P/$ASTRO_BINDIR/astrocyte" "$tmp/cli-jit.db" "CLI on LuaJIT"
fi
# The installed `astrocyte serve` (nginx's LuaJIT workers on the installed
# LuaJIT tree): ready, a retain over HTTP, SIGTERM ends it with exit 0. Not
# on the sanitizer build (nginx workers cannot host preloaded ASan).
if [ -n "${ASTRO_LUAJIT:-}" ] && [ -z "${ASTRO_PRELOAD:-}" ] && command -v nginx >/dev/null && command -v curl >/dev/null; then
  step "installed serve"
  served=0
  for attempt in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 19000))
    "$P/$ASTRO_BINDIR/astrocyte" --db "$tmp/serve.db" serve --listen "127.0.0.1:$port" >"$tmp/serve.log" 2>&1 &
    spid=$!
    for _ in $(seq 50); do
      curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && { served=1; break; }
      kill -0 "$spid" 2>/dev/null || break
      sleep 0.2
    done
    [ "$served" = 1 ] && break
    kill -KILL "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true
    grep -q "Address already in use" "$tmp/serve.log" || { cat "$tmp/serve.log" >&2; fail "installed serve did not start"; }
  done
  [ "$served" = 1 ] || fail "installed serve: no free port"
  out=$(curl -s -H 'Content-Type: application/json' -d '{"content": "served from the install", "bank_id": "inst"}' \
        "http://127.0.0.1:$port/v1/retain")
  [[ "$out" == *'"stored":true'* ]] || fail "installed serve: retain answered $out"
  kill -TERM "$spid"
  rc=0; wait "$spid" || rc=$?
  [ "$rc" = 0 ] || { cat "$tmp/serve.log" >&2; fail "installed serve: exit $rc after SIGTERM"; }
fi

mv "$P" "$tmp/moved"
cli_roundtrip "$tmp/moved/$ASTRO_BINDIR/astrocyte" "$tmp/cli-moved.db" "CLI of a moved prefix"

echo "install.prefix: ok"
