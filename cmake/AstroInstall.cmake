# Install rules beyond the targets (included from the top-level CMakeLists):
#   - the Lua framework (lua/astrocyte, with its providers/ and profiles/
#     links copied as real directories) into the Lua 5.4 tree and, with
#     ASTRO_LUAJIT, the LuaJIT (5.1) tree;
#   - bin/astrocyte, a launcher that finds those trees relative to itself;
#   - with ASTRO_INSTALL_C: astrocyte.pc, astrocyte-host.pc and the CMake
#     package (find_package(astrocyte) -> astrocyte::astrocyte,
#     astrocyte::astrocyte_static, astrocyte::host).

# The Lua tree is copied by directory at install time (whatever files are
# there then), never from a file list, so moving Lua files needs no edit here.
function(astro_install_lua_tree dest)
  install(CODE "
    set(ASTRO_TREE_SRC \"${PROJECT_SOURCE_DIR}/lua/astrocyte\")
    set(ASTRO_TREE_DEST \"${dest}/astrocyte\")
    include(\"${PROJECT_SOURCE_DIR}/cmake/AstroInstallTree.cmake\")")
endfunction()

astro_install_lua_tree(${ASTRO_INSTALL_LUA54_LDIR})
if(ASTRO_LUAJIT)
  astro_install_lua_tree(${ASTRO_INSTALL_LUAJIT_LDIR})
endif()

# The launcher knows each tree as a path relative to its own directory, so
# the installed prefix can be moved or be outside the interpreters' search
# paths. ASTRO_LAUNCHER_* override them (luarocks installs into a rock
# directory and then deploys into a tree of another shape).
function(astro_rel_to_bindir out dir)
  if(NOT IS_ABSOLUTE "${CMAKE_INSTALL_BINDIR}" AND NOT IS_ABSOLUTE "${dir}")
    file(RELATIVE_PATH rel /prefix/${CMAKE_INSTALL_BINDIR} /prefix/${dir})
  elseif(IS_ABSOLUTE "${dir}")
    set(rel ${dir})                     # absolute dirs stay absolute
  else()
    set(rel ${CMAKE_INSTALL_PREFIX}/${dir})
  endif()
  set(${out} ${rel} PARENT_SCOPE)
endfunction()

foreach(rt LUA54 LUAJIT)
  foreach(kind LDIR CDIR)
    set(v ASTRO_LAUNCHER_${rt}_${kind})
    if(rt STREQUAL "LUAJIT" AND NOT ASTRO_LUAJIT)
      set(${v} "")                      # the launcher refuses luajit then
    elseif(NOT ${v})
      astro_rel_to_bindir(${v} ${ASTRO_INSTALL_${rt}_${kind}})
    endif()
  endforeach()
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/astrocyte.in ${PROJECT_BINARY_DIR}/astrocyte-launcher @ONLY)
install(PROGRAMS ${PROJECT_BINARY_DIR}/astrocyte-launcher
        DESTINATION ${CMAKE_INSTALL_BINDIR} RENAME astrocyte)

# In-tree users (add_subdirectory) get the same names as find_package users.
add_library(astrocyte::astrocyte ALIAS astrocyte_shared)
add_library(astrocyte::astrocyte_static ALIAS astrocyte_static)

if(NOT ASTRO_INSTALL_C)
  return()
endif()

# Consumers of a sanitized library need the sanitizer runtimes at link time.
set(ASTRO_PC_SANITIZE "")
if(ASTRO_SANITIZE)
  set(ASTRO_PC_SANITIZE " -fsanitize=address,undefined")
  foreach(t astrocyte_shared astrocyte_static)
    set_property(TARGET ${t} APPEND PROPERTY INTERFACE_LINK_OPTIONS
                 $<INSTALL_INTERFACE:-fsanitize=address,undefined>)
  endforeach()
endif()

# <name>.pc (from cmake/<name>.pc.in) is written at install time, so that
# `cmake --install --prefix DIR` gets a pc file that points into DIR.
function(astro_install_pc name)
  install(CODE "
    set(ASTRO_PC_IN \"${PROJECT_SOURCE_DIR}/cmake/${name}.pc.in\")
    set(ASTRO_PC_NAME ${name})
    set(ASTRO_PC_TMPDIR \"${PROJECT_BINARY_DIR}\")
    set(ASTRO_PC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
    set(ASTRO_PC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
    set(ASTRO_PC_VERSION \"${PROJECT_VERSION}\")
    set(ASTRO_PC_SANITIZE \"${ASTRO_PC_SANITIZE}\")
    include(\"${PROJECT_SOURCE_DIR}/cmake/AstroInstallPc.cmake\")")
endfunction()
astro_install_pc(astrocyte)
# astrocyte-host.pc: the C host API (astrocyte.h, libastrocyte_host).
astro_install_pc(astrocyte-host)

include(CMakePackageConfigHelpers)
install(EXPORT astrocyteTargets NAMESPACE astrocyte::
        FILE astrocyteTargets.cmake DESTINATION ${ASTRO_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/astrocyteConfig.cmake.in
  ${PROJECT_BINARY_DIR}/astrocyteConfig.cmake
  INSTALL_DESTINATION ${ASTRO_INSTALL_CMAKEDIR})
# 0.x: a minor version may break the API, so only the same minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/astrocyteConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/astrocyteConfig.cmake
              ${PROJECT_BINARY_DIR}/astrocyteConfigVersion.cmake
        DESTINATION ${ASTRO_INSTALL_CMAKEDIR})
