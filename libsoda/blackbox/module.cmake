# SPDX-License-Identifier: LGPL-2.1-or-later
# The blackbox (issue 5): encrypted, tamper-evident log streams per tenant.
# Public API: include/soda/blackbox.h. Format: docs/blackbox-format.md.
#
# Targets:
#  soda_blackbox         object library, part of libsoda (and of soda-monitor
#                        when it links the store: add $<TARGET_OBJECTS:soda_blackbox>
#                        and PkgConfig::SODIUM to it);
#  soda_blackbox_writer  static library with the writer alone (frame.c,
#                        writer.c: libc + libsodium only) for soda-agent; it
#                        carries libsodium.a, so a -static program links it;
#  soda-blackbox         the command line (examples/soda-blackbox).
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
find_package(Threads REQUIRED) # the optional chain-hashing thread (scan.c)
set(SODA_BB_DIR ${CMAKE_CURRENT_LIST_DIR})

add_library(soda_blackbox OBJECT
  ${SODA_BB_DIR}/frame.c ${SODA_BB_DIR}/writer.c ${SODA_BB_DIR}/keys.c
  ${SODA_BB_DIR}/report.c ${SODA_BB_DIR}/storefmt.c ${SODA_BB_DIR}/store.c
  ${SODA_BB_DIR}/scan.c ${SODA_BB_DIR}/verify.c ${SODA_BB_DIR}/reader.c
  ${SODA_BB_DIR}/export.c ${SODA_BB_DIR}/pubwriter.c)
target_include_directories(soda_blackbox PUBLIC ${CMAKE_SOURCE_DIR}/include)
target_compile_definitions(soda_blackbox PUBLIC SODA_BUILDING_LIBRARY)
target_compile_options(soda_blackbox PRIVATE -fvisibility=hidden)
target_link_libraries(soda_blackbox PUBLIC PkgConfig::SODIUM Threads::Threads)
list(APPEND SODA_MODULE_OBJECTS soda_blackbox)
list(APPEND SODA_MODULE_LIBS PkgConfig::SODIUM Threads::Threads)
list(APPEND SODA_MODULE_SYMFILES ${SODA_BB_DIR}/blackbox.sym)

add_library(soda_blackbox_writer STATIC ${SODA_BB_DIR}/frame.c ${SODA_BB_DIR}/writer.c)
target_include_directories(soda_blackbox_writer PUBLIC ${SODA_BB_DIR})
find_library(SODA_SODIUM_STATIC NAMES libsodium.a)
if(SODA_SODIUM_STATIC)
  target_link_libraries(soda_blackbox_writer PUBLIC ${SODA_SODIUM_STATIC} pthread)
else()
  target_link_libraries(soda_blackbox_writer PUBLIC PkgConfig::SODIUM)
endif()
if(SODA_SANITIZE)
  # The agent is static and unsanitised; so is its writer.
  target_compile_options(soda_blackbox_writer PRIVATE -fno-sanitize=all)
endif()

add_executable(soda-blackbox ${CMAKE_SOURCE_DIR}/examples/soda-blackbox/soda-blackbox.c)
target_link_libraries(soda-blackbox PRIVATE soda)
install(TARGETS soda-blackbox DESTINATION ${CMAKE_INSTALL_BINDIR})
