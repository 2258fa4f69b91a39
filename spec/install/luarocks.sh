#!/usr/bin/env bash
# install.luarocks: `luarocks --lua-version 5.4 make` of the rockspec at the
# repository root into a temporary tree, from a copy of the working tree (so
# the checkout gets no build.luarocks/), with --deps-mode=none (lua-cjson and
# lua-yaml come from Debian packages, and there is no network). Then, outside
# the checkout, with only `luarocks path` for that tree: use.lua on Lua 5.4
# (every module from the tree, profiles found, SQLite engine retains and
# recalls), and the rock's CLI retains and recalls.
# Environment (set by spec/install/CMakeLists.txt): ASTRO_SOURCE_DIR,
# ASTRO_VERSION, ASTRO_LUA54, ASTRO_LUAROCKS.
set -euo pipefail
src=$ASTRO_SOURCE_DIR
unset LUA_PATH LUA_PATH_5_4 LUA_CPATH LUA_CPATH_5_4 LUA_INIT LUA_INIT_5_4 LUAROCKS_CONFIG

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
if ! command -v "$ASTRO_LUAROCKS" >/dev/null; then
  echo "SKIP: luarocks is not installed (scripts/setup --test installs it)"
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/astro-rock.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
T=$tmp/tree
mkdir -p "$tmp/src" "$tmp/home" "$tmp/work"
# luarocks reads and caches under $HOME: keep it to this run.
export HOME=$tmp/home
lr() { "$ASTRO_LUAROCKS" --lua-version 5.4 "$@"; }

rocks=("$src"/astrocyte-*.rockspec)
[ "${#rocks[@]}" -eq 1 ] && [ -f "${rocks[0]}" ] || fail "expected one astrocyte-*.rockspec at the root: ${rocks[*]}"
rock=${rocks[0]##*/}
[[ "$rock" == "astrocyte-$ASTRO_VERSION-"*.rockspec ]] || fail "$rock does not match the project version $ASTRO_VERSION"

step "copy of the working tree"
# Tracked and untracked files that git does not ignore (no build dirs, no
# databases); without git, everything but .git and build dirs.
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$src" && git ls-files -z -co --exclude-standard |
     while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
     tar --null -T - -cf -) | tar -C "$tmp/src" -xf -
else
  tar -C "$src" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$tmp/src" -xf -
fi

step "luarocks make $rock --tree $T"
(cd "$tmp/src" && CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
   lr make --tree "$T" --deps-mode=none "$rock") >"$tmp/make.log" 2>&1 ||
  { tail -60 "$tmp/make.log" >&2; fail "luarocks make"; }
listed=$(lr list --tree "$T" --porcelain)
[[ "$listed" =~ (^|$'\n')astrocyte[[:space:]]"$ASTRO_VERSION"- ]] || fail "astrocyte $ASTRO_VERSION not listed in the tree: $listed"

step "the deployed tree"
L=$T/share/lua/5.4/astrocyte
nfiles=0
while IFS= read -r -d '' f; do
  cmp -s "$src/lua/astrocyte/$f" "$L/$f" || fail "share/lua/5.4/astrocyte/$f missing or different"
  nfiles=$((nfiles + 1))
done < <(cd "$src/lua/astrocyte" && find -L . -type f ! -path '*/.*' ! -name '*~' -printf '%P\0')
[ "$nfiles" -gt 50 ] || fail "only $nfiles files found in lua/astrocyte"
[ -z "$(find "$T/share/lua" -type l)" ] || fail "links left in the deployed Lua tree"
for m in core sqlite; do
  [ -f "$T/lib/lua/5.4/astrocyte/$m.so" ] || fail "lib/lua/5.4/astrocyte/$m.so missing"
done

cd "$tmp/work"
step "Lua 5.4 with luarocks path --tree"
LUA_PATH_5_4="$(lr path --tree "$T" --lr-path);;" LUA_CPATH_5_4="$(lr path --tree "$T" --lr-cpath);;" \
  "$ASTRO_LUA54" "$src/spec/install/use.lua" "$T" "$tmp/rock.db" "$ASTRO_VERSION" || fail "Lua 5.4 from the rock tree"

step "the rock's CLI"
out=$("$T/bin/astrocyte" --db "$tmp/cli.db" --bank notes retain "The standup is at 9:30 in the Orion room") ||
  fail "CLI retain"
[[ "$out" == stored* ]] || fail "CLI retain printed: $out"
out=$("$T/bin/astrocyte" --db "$tmp/cli.db" --bank notes recall "when is the standup?") || fail "CLI recall"
[[ "$out" == *"The standup is at 9:30 in the Orion room"* ]] || fail "CLI recall printed: $out"

echo "install.luarocks: ok"
