# Install-time script (see AstroInstall.cmake): copies the directory
# ASTRO_TREE_SRC to ASTRO_TREE_DEST (relative to the install prefix, or
# absolute), following symbolic links, so that links such as
# lua/astrocyte/providers -> ../../providers become real directories.
# Hidden files and editor backups are left out. Honours DESTDIR and the
# install manifest like any file(INSTALL).
set(dest "${ASTRO_TREE_DEST}")
if(NOT IS_ABSOLUTE "${dest}")
  set(dest "${CMAKE_INSTALL_PREFIX}/${dest}")
endif()
file(GLOB_RECURSE files LIST_DIRECTORIES false FOLLOW_SYMLINKS
     RELATIVE "${ASTRO_TREE_SRC}" "${ASTRO_TREE_SRC}/*")
list(SORT files)
if(NOT files)
  message(FATAL_ERROR "astrocyte: nothing to install in ${ASTRO_TREE_SRC}")
endif()
foreach(f ${files})
  if(f MATCHES "(^|/)\\." OR f MATCHES "~$")
    continue()
  endif()
  get_filename_component(sub "${f}" DIRECTORY)
  get_filename_component(name "${f}" NAME)
  # REALPATH: a file that is itself a link is installed as its target's content.
  get_filename_component(real "${ASTRO_TREE_SRC}/${f}" REALPATH)
  file(INSTALL "${real}" DESTINATION "${dest}/${sub}" RENAME "${name}"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endforeach()
