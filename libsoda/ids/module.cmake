# SPDX-License-Identifier: LGPL-2.1-or-later
# Kernort, the signature IDS engine (issue 17). Not part of libsoda.so for
# now: a static library (PIC) that the guest agent will link, with no
# libsoda dependency beyond the error type (error.c and util.c are built in).
#
# Two halves, two source lists (each helper appends to its own):
#   KN_DECODE_SOURCES  the decoder: frames to kn_packet, flows, streams, pcap
#   KN_DETECT_SOURCES  detection: the rule language, prefilter, matching, EVE
# The contract between them: packet.h and detect.h.
set(KN_DIR ${CMAKE_CURRENT_LIST_DIR})
pkg_check_modules(KN_HS IMPORTED_TARGET libhs)
pkg_check_modules(KN_PCRE2 IMPORTED_TARGET libpcre2-8)
if(NOT KN_HS_FOUND OR NOT KN_PCRE2_FOUND)
  message(WARNING "Vectorscan (libvectorscan-dev) or PCRE2 (libpcre2-dev) missing: no IDS engine")
  return()
endif()

set(KN_DETECT_SOURCES
  ${KN_DIR}/vars.c ${KN_DIR}/header.c ${KN_DIR}/classtype.c ${KN_DIR}/rules.c
  ${KN_DIR}/ruleset.c ${KN_DIR}/detect.c ${KN_DIR}/threshold.c ${KN_DIR}/eve.c)
# guest events (events.h): the same rules on what happens inside a guest
list(APPEND KN_DETECT_SOURCES ${KN_DIR}/events.c)
set(KN_DECODE_SOURCES ${KN_DIR}/decode.c ${KN_DIR}/flow.c ${KN_DIR}/stream.c)

add_library(soda_ids STATIC ${KN_DETECT_SOURCES} ${KN_DECODE_SOURCES}
  ${CMAKE_SOURCE_DIR}/libsoda/error.c ${CMAKE_SOURCE_DIR}/libsoda/util.c)
set_target_properties(soda_ids PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_include_directories(soda_ids PUBLIC ${CMAKE_SOURCE_DIR}/include ${KN_DIR}
  PRIVATE ${CMAKE_SOURCE_DIR}/libsoda)
target_compile_definitions(soda_ids PRIVATE SODA_BUILDING_LIBRARY)
target_compile_options(soda_ids PRIVATE -fvisibility=hidden)
target_link_libraries(soda_ids PUBLIC PkgConfig::KN_HS PkgConfig::KN_PCRE2)
# hs.h lives in an include directory of its own: the libFuzzer builds need it.
list(APPEND SODA_MODULE_INCLUDES ${KN_HS_INCLUDE_DIRS} ${KN_PCRE2_INCLUDE_DIRS})

# soda-ids: the engine over a pcap/pcapng capture (examples/soda-ids).
pkg_check_modules(KN_PCAP IMPORTED_TARGET libpcap)
if(KN_PCAP_FOUND)
  add_executable(soda-ids ${CMAKE_SOURCE_DIR}/examples/soda-ids/soda-ids.c
    ${CMAKE_SOURCE_DIR}/examples/common/cli.c)
  target_compile_definitions(soda-ids PRIVATE SODA_VERSION_STRING="${PROJECT_VERSION}")
  target_link_libraries(soda-ids PRIVATE soda_ids PkgConfig::KN_PCAP)
  install(TARGETS soda-ids DESTINATION ${CMAKE_INSTALL_BINDIR})
else()
  message(WARNING "libpcap (libpcap-dev) missing: no soda-ids")
endif()
