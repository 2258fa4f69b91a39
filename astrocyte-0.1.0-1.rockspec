-- Astrocyte as a rock: `luarocks --lua-version 5.4 make` from the repository
-- root (add --deps-mode=none when lua-cjson and lyaml come from Debian's
-- lua-cjson and lua-yaml packages). It builds with the project's own CMake
-- (build.type "cmake") and installs what its install rules install for Lua
-- 5.4: the whole lua/astrocyte tree (providers and profiles included), the C
-- modules and bin/astrocyte. No module list here: renaming or adding Lua
-- files needs no edit. CMake checks the system libraries (Debian:
-- libsqlite3-dev, libcurl4-openssl-dev, libpq-dev, liblua5.4-dev). The C library for C programs comes from
-- `cmake --install` instead (README, "Install").
rockspec_format = "3.0"
package = "astrocyte"
version = "0.1.0-1"
source = {
  url = "git+file://.",   -- built in place by `luarocks make`
}
description = {
  summary = "Memory for AI agents: a C core and a Lua framework, embedded SQLite by default",
  detailed = [[
Agents retain text into memory banks, recall what is relevant to a query,
reflect and forget. Stores and models are pluggable providers; the default
is one SQLite file and needs no server, no network and no model weights.]],
}
dependencies = {
  "lua >= 5.4, < 5.5",
  "lua-cjson >= 2.1",
  "lyaml >= 6",
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    CMAKE_INSTALL_BINDIR = "$(BINDIR)",
    ASTRO_LUA54_INCLUDE_DIR = "$(LUA_INCDIR)",
    ASTRO_INSTALL_LUA54_LDIR = "$(LUADIR)",
    ASTRO_INSTALL_LUA54_CDIR = "$(LIBDIR)",
    -- The launcher finds the modules where luarocks deploys them, relative
    -- to the tree's bin/ (not where CMake puts them in the rock directory).
    ASTRO_LAUNCHER_LUA54_LDIR = "../share/lua/5.4",
    ASTRO_LAUNCHER_LUA54_CDIR = "../lib/lua/5.4",
    ASTRO_LUAJIT = "OFF",
    ASTRO_TESTS = "OFF",
    ASTRO_INSTALL_C = "OFF",
    ASTRO_WERROR = "OFF",
  },
}
deploy = {
  wrap_bin_scripts = false,   -- bin/astrocyte is a shell script
}
