# Install rules and the Debian package (cpack -G DEB).
#
# Included from the top-level CMakeLists.txt, after add_subdirectory(src):
#   include(cmake/install.cmake)
#
# Layout (the .deb is built with prefix /usr):
#   <prefix>/bin/hookd
#   <prefix>/share/man/man1/hookd.1.gz              (from the --help texts)
#   <prefix>/lib/systemd/system/hookd.service, hookd.socket
#   <prefix>/lib/sysusers.d/hookd.conf          (the hookd system user)
#   <prefix>/share/doc/hookd/*.md, copyright, hookd.yaml.example
#   /etc/hookd/hookd.yaml                       (HOOKD_INSTALL_CONFDIR; a conffile in the .deb)
#   /etc/logrotate.d/hookd                      (HOOKD_INSTALL_LOGROTATEDIR; a conffile)
# The unit files name /usr/bin/hookd: installing elsewhere needs a drop-in overriding ExecStart=
# (docs/operations.md).
include(GNUInstallDirs)

set(HOOKD_INSTALL_CONFDIR "/etc/hookd" CACHE PATH
    "Where the example config is installed as hookd.yaml (absolute: /etc whatever the prefix)")
set(HOOKD_INSTALL_LOGROTATEDIR "/etc/logrotate.d" CACHE PATH
    "Where the logrotate snippet goes (absolute: /etc whatever the prefix)")
set(HOOKD_INSTALL_UNITDIR "lib/systemd/system" CACHE STRING
    "systemd unit directory, relative to the prefix (/usr/lib/systemd/system in the .deb)")
set(HOOKD_INSTALL_SYSUSERSDIR "lib/sysusers.d" CACHE STRING
    "sysusers.d directory, relative to the prefix (/usr/lib/sysusers.d in the .deb)")

install(TARGETS hookd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT hookd)
install(FILES ${PROJECT_BINARY_DIR}/src/cli/hookd.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        COMPONENT hookd)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/hookd.service
              ${PROJECT_SOURCE_DIR}/packaging/systemd/hookd.socket
        DESTINATION ${HOOKD_INSTALL_UNITDIR} COMPONENT hookd)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/hookd.sysusers
        DESTINATION ${HOOKD_INSTALL_SYSUSERSDIR} RENAME hookd.conf COMPONENT hookd)
# 0640: the config may name credential files and handler commands; postinst gives it group hookd.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/hookd.yaml
        DESTINATION ${HOOKD_INSTALL_CONFDIR}
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ COMPONENT hookd)
file(GLOB HOOKD_DOCS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${HOOKD_DOCS} ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/hookd COMPONENT hookd)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/hookd
        RENAME copyright COMPONENT hookd)
# Rotation of the file handlers' output: SIGUSR1 reopens (packaging/logrotate/hookd).
install(FILES ${PROJECT_SOURCE_DIR}/packaging/logrotate/hookd
        DESTINATION ${HOOKD_INSTALL_LOGROTATEDIR} COMPONENT hookd)
# The pristine packaged config, to compare with or restore /etc/hookd/hookd.yaml.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/hookd.yaml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/hookd RENAME hookd.yaml.example COMPONENT hookd)

# ---------------------------------------------------------------------------------------------
# CPack: one .deb, `cpack -G DEB` in the build directory.
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "hookd")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VENDOR "hookd")
set(CPACK_PACKAGE_CONTACT "hookd maintainers <hookd@example.org>")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# The long description only: CPack writes the summary as the synopsis line and indents the rest.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "hookd receives webhooks (Altoviz, Offerte Adviseur, AlphaTouch, Weavy and custom\nproviders), verifies their signatures, stores them durably in a SQLite spool and\ndelivers them to handlers (file, log, exec) with retries, as a hardened systemd\nservice.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # hookd_<version>_<arch>.deb
# Library dependencies from the binary's ELF needs (dpkg-shlibdeps), plus what the maintainer
# scripts call.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser | systemd")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "sqlite3")
# conffiles (dpkg keeps the operator's edits across upgrades) and the maintainer scripts.
set(HOOKD_DEB_CONTROL ${CMAKE_CURRENT_BINARY_DIR}/debian-control)
file(MAKE_DIRECTORY ${HOOKD_DEB_CONTROL})
file(WRITE ${HOOKD_DEB_CONTROL}/conffiles
     "${HOOKD_INSTALL_CONFDIR}/hookd.yaml\n${HOOKD_INSTALL_LOGROTATEDIR}/hookd\n")
foreach(script postinst prerm postrm)
  # configure_file: an edited script re-runs the configure step, so a package never ships a stale
  # copy.
  configure_file(${PROJECT_SOURCE_DIR}/packaging/debian/${script} ${HOOKD_DEB_CONTROL}/${script}
                 COPYONLY FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                                           GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${HOOKD_DEB_CONTROL}/conffiles ${HOOKD_DEB_CONTROL}/postinst ${HOOKD_DEB_CONTROL}/prerm
    ${HOOKD_DEB_CONTROL}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
