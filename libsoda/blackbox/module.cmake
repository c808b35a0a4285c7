# SPDX-License-Identifier: LGPL-2.1-or-later
# The blackbox (issue 5): encrypted, tamper-evident log streams per tenant.
# Public API: include/soda/blackbox.h. Format: docs/blackbox-format.md.
#
# Targets:
#  soda_blackbox         object library, part of libsoda (and of soda-monitor
#                        when it links the store: add $<TARGET_OBJECTS:soda_blackbox>
#                        and PkgConfig::SODIUM to it);
#  soda_blackbox_writer  static library with the writer alone (frame.c,
#                        writer.c, aead.c: libc + libsodium only) for soda-agent; it
#                        carries libsodium.a, so a -static program links it;
#  soda-blackbox         the command line (examples/soda-blackbox).
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)

# BLAKE3, the store's chain hash (segment version 2). Debian 12 ships no C
# library of it, but librust-blake3-dev carries the BLAKE3 team's C
# implementation (CC0 or Apache-2.0), with its x86-64 assembly: it is built
# from there, hidden inside libsoda. SODA_BLAKE3_DIR points
# elsewhere (a directory holding blake3.h and blake3.c).
file(GLOB SODA_BLAKE3_CANDIDATES /usr/share/cargo/registry/blake3-*/c)
find_path(SODA_BLAKE3_DIR blake3.h PATHS ${SODA_BLAKE3_CANDIDATES} NO_DEFAULT_PATH
  DOC "directory with the BLAKE3 C sources (blake3.h, blake3.c)")
if(NOT SODA_BLAKE3_DIR OR NOT EXISTS ${SODA_BLAKE3_DIR}/blake3.c)
  message(FATAL_ERROR "the blackbox needs the BLAKE3 C sources: apt-get install librust-blake3-dev "
    "(or -DSODA_BLAKE3_DIR=..., or leave the module out with -DSODA_SKIP_MODULES=blackbox)")
endif()
set(SODA_BLAKE3_SOURCES ${SODA_BLAKE3_DIR}/blake3.c ${SODA_BLAKE3_DIR}/blake3_dispatch.c
  ${SODA_BLAKE3_DIR}/blake3_portable.c)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64" AND
   EXISTS ${SODA_BLAKE3_DIR}/blake3_avx512_x86-64_unix.S)
  enable_language(ASM)
  foreach(v sse2 sse41 avx2 avx512)
    list(APPEND SODA_BLAKE3_SOURCES ${SODA_BLAKE3_DIR}/blake3_${v}_x86-64_unix.S)
  endforeach()
  set(SODA_BLAKE3_DEFS "")
else()
  set(SODA_BLAKE3_DEFS BLAKE3_NO_SSE2 BLAKE3_NO_SSE41 BLAKE3_NO_AVX2 BLAKE3_NO_AVX512)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
    list(APPEND SODA_BLAKE3_SOURCES ${SODA_BLAKE3_DIR}/blake3_neon.c)
    list(APPEND SODA_BLAKE3_DEFS BLAKE3_USE_NEON=1)
  endif()
endif()
# Built as part of soda_blackbox (hidden like the rest of it), warnings off:
# the code is not ours.
set_source_files_properties(${SODA_BLAKE3_SOURCES} PROPERTIES
  COMPILE_OPTIONS "$<$<COMPILE_LANGUAGE:C>:-O3;-w>"
  COMPILE_DEFINITIONS "${SODA_BLAKE3_DEFS}")
find_package(Threads REQUIRED) # the optional chain-hashing thread (scan.c)
set(SODA_BB_DIR ${CMAKE_CURRENT_LIST_DIR})

add_library(soda_blackbox OBJECT
  ${SODA_BB_DIR}/frame.c ${SODA_BB_DIR}/writer.c ${SODA_BB_DIR}/keys.c
  ${SODA_BB_DIR}/report.c ${SODA_BB_DIR}/storefmt.c ${SODA_BB_DIR}/store.c
  ${SODA_BB_DIR}/scan.c ${SODA_BB_DIR}/verify.c ${SODA_BB_DIR}/reader.c
  ${SODA_BB_DIR}/export.c ${SODA_BB_DIR}/pubwriter.c ${SODA_BB_DIR}/chain.c
  ${SODA_BB_DIR}/aead.c ${SODA_BLAKE3_SOURCES})
target_include_directories(soda_blackbox PUBLIC ${CMAKE_SOURCE_DIR}/include)
target_include_directories(soda_blackbox SYSTEM PUBLIC ${SODA_BLAKE3_DIR}) # internal.h, for white-box tests
target_compile_definitions(soda_blackbox PUBLIC SODA_BUILDING_LIBRARY)
target_compile_options(soda_blackbox PRIVATE -fvisibility=hidden)
target_link_libraries(soda_blackbox PUBLIC PkgConfig::SODIUM Threads::Threads)
list(APPEND SODA_MODULE_OBJECTS soda_blackbox)
list(APPEND SODA_MODULE_LIBS PkgConfig::SODIUM Threads::Threads)
list(APPEND SODA_MODULE_SYMFILES ${SODA_BB_DIR}/blackbox.sym)
list(APPEND SODA_MODULE_INCLUDES ${SODA_BLAKE3_DIR})

add_library(soda_blackbox_writer STATIC ${SODA_BB_DIR}/frame.c ${SODA_BB_DIR}/writer.c
  ${SODA_BB_DIR}/aead.c)
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

add_executable(soda-blackbox ${CMAKE_SOURCE_DIR}/examples/soda-blackbox/soda-blackbox.c
  ${CMAKE_SOURCE_DIR}/examples/common/cli.c)
target_link_libraries(soda-blackbox PRIVATE soda)
install(TARGETS soda-blackbox DESTINATION ${CMAKE_INSTALL_BINDIR})
