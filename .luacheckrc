-- luacheck settings: the Lua sources must not write globals (the engine is
-- embedded in hosts like nginx that share one Lua state per worker).
std = "max"
globals = {}
read_globals = { "ngx", "jit" }
max_line_length = false
unused_args = false
ignore = { "212", "213", "214", "241", "411", "412", "421", "422", "431", "432", "542", "581" }
exclude_files = { "lua/astrocyte/providers/**", "lua/astrocyte/profiles/**" }
files["spec"] = { std = "+busted" }
