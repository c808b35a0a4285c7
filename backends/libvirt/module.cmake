# SPDX-License-Identifier: LGPL-2.1-or-later
# libsoda-libvirt.so: the libvirt backend, a plugin libsoda loads for
# libvirt+DRIVER:// URIs (libsoda/context.c). libvirt is LGPL-2.1-or-later.
# Built only where pkg-config finds libvirt; libsoda itself never links it.
pkg_check_modules(LIBVIRT IMPORTED_TARGET libvirt)
if(NOT LIBVIRT_FOUND)
  message(WARNING "libvirt missing: no libvirt backend plugin (libsoda-libvirt.so)")
  return()
endif()

add_library(soda-libvirt MODULE ${CMAKE_CURRENT_LIST_DIR}/libvirt.c
  ${CMAKE_CURRENT_LIST_DIR}/loop.c ${CMAKE_CURRENT_LIST_DIR}/meta.c
  ${CMAKE_CURRENT_LIST_DIR}/boot.c ${CMAKE_CURRENT_LIST_DIR}/console.c
  ${CMAKE_CURRENT_LIST_DIR}/relay.c)
set_target_properties(soda-libvirt PROPERTIES OUTPUT_NAME soda-libvirt PREFIX "lib"
  C_VISIBILITY_PRESET hidden
  # Beside libsoda.so in the build tree, where libsoda looks first.
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
target_include_directories(soda-libvirt PRIVATE ${CMAKE_SOURCE_DIR}/include)
# It uses only libsoda's public API, from the libsoda.so that loads it.
target_link_libraries(soda-libvirt PRIVATE PkgConfig::LIBVIRT soda)
target_link_options(soda-libvirt PRIVATE "-Wl,--no-undefined")
# relay.c finds soda-bbrelay beside the plugin or in the libexec directory.
target_compile_definitions(soda-libvirt PRIVATE
  SODA_LIBEXEC_FROM_LIBDIR="${SODA_LIBEXEC_FROM_LIBDIR}")
install(TARGETS soda-libvirt LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

# soda-bbrelay: the host's end of a QEMU guest's blackbox line (bbrelay.c),
# on the public blackbox API of libsoda; without the blackbox module there
# is no store to feed, and servers with a blackbox do not start.
if(NOT "blackbox" IN_LIST SODA_SKIP_MODULES)
  add_executable(soda-bbrelay ${CMAKE_CURRENT_LIST_DIR}/bbrelay.c)
  target_include_directories(soda-bbrelay PRIVATE ${CMAKE_SOURCE_DIR}/include)
  target_link_libraries(soda-bbrelay PRIVATE soda)
  set_target_properties(soda-bbrelay PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
  add_dependencies(soda-libvirt soda-bbrelay)
  install(TARGETS soda-bbrelay DESTINATION ${CMAKE_INSTALL_LIBEXECDIR})
endif()
