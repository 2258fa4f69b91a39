# Install-time script (see AstroInstall.cmake): writes and installs
# astrocyte.pc (or ASTRO_PC_NAME.pc) for the prefix being installed to. Inputs: ASTRO_PC_IN,
# ASTRO_PC_TMPDIR (build dir), ASTRO_PC_LIBDIR, ASTRO_PC_INCLUDEDIR (relative
# to the prefix, or absolute), ASTRO_PC_VERSION, ASTRO_PC_SANITIZE;
# CMAKE_INSTALL_PREFIX is the prefix of this install.
set(prefix "${CMAKE_INSTALL_PREFIX}")
set(libdir "${ASTRO_PC_LIBDIR}")
set(includedir "${ASTRO_PC_INCLUDEDIR}")
set(pcdir "${ASTRO_PC_LIBDIR}/pkgconfig")
if(NOT IS_ABSOLUTE "${libdir}")
  set(libdir "\${prefix}/${libdir}")
  set(pcdir "${CMAKE_INSTALL_PREFIX}/${pcdir}")
endif()
if(NOT IS_ABSOLUTE "${includedir}")
  set(includedir "\${prefix}/${includedir}")
endif()
set(version "${ASTRO_PC_VERSION}")
set(sanitize "${ASTRO_PC_SANITIZE}")
# One file per destination, so installs of one build to several prefixes at
# the same time do not overwrite each other's.
string(MD5 key "$ENV{DESTDIR}|${CMAKE_INSTALL_PREFIX}")
if(NOT ASTRO_PC_NAME)
  set(ASTRO_PC_NAME astrocyte)
endif()
set(out "${ASTRO_PC_TMPDIR}/${ASTRO_PC_NAME}-${key}.pc")
configure_file("${ASTRO_PC_IN}" "${out}" @ONLY)
file(INSTALL "${out}" DESTINATION "${pcdir}" RENAME ${ASTRO_PC_NAME}.pc
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(REMOVE "${out}")
