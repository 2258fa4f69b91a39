# Install-time script (see AstroInstall.cmake): writes astrocyte.pc for the
# prefix being installed to. Inputs: ASTRO_PC_IN, ASTRO_PC_OUT, ASTRO_PC_LIBDIR,
# ASTRO_PC_INCLUDEDIR (relative to the prefix, or absolute), ASTRO_PC_VERSION,
# ASTRO_PC_SANITIZE; CMAKE_INSTALL_PREFIX is the prefix of this install.
set(prefix "${CMAKE_INSTALL_PREFIX}")
set(libdir "${ASTRO_PC_LIBDIR}")
set(includedir "${ASTRO_PC_INCLUDEDIR}")
if(NOT IS_ABSOLUTE "${libdir}")
  set(libdir "\${prefix}/${libdir}")
endif()
if(NOT IS_ABSOLUTE "${includedir}")
  set(includedir "\${prefix}/${includedir}")
endif()
set(version "${ASTRO_PC_VERSION}")
set(sanitize "${ASTRO_PC_SANITIZE}")
configure_file("${ASTRO_PC_IN}" "${ASTRO_PC_OUT}" @ONLY)
