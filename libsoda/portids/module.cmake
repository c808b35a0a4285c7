# SPDX-License-Identifier: LGPL-2.1-or-later
# The IDS at a server's switch port (issue 17, parts 5 and 6): the public
# API (include/soda/ids.h) in libsoda, and soda-kernort, the jailed capture
# and detection process soda-monitor starts (backends/uml/kernort/), which
# links the engine (libsoda/ids, target soda_ids).
add_library(soda_portids OBJECT ${CMAKE_CURRENT_LIST_DIR}/ids_port.c)
target_include_directories(soda_portids PRIVATE ${CMAKE_SOURCE_DIR}/include)
target_compile_definitions(soda_portids PRIVATE SODA_BUILDING_LIBRARY
  SODA_VERSION_STRING="${PROJECT_VERSION}")
target_compile_options(soda_portids PRIVATE -fvisibility=hidden)
list(APPEND SODA_MODULE_OBJECTS soda_portids)
list(APPEND SODA_MODULE_SYMFILES ${CMAKE_CURRENT_LIST_DIR}/portids.sym)
install(FILES ${CMAKE_SOURCE_DIR}/include/soda/ids.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/soda)

if(TARGET soda_ids)
  set(KERNORT_DIR ${CMAKE_SOURCE_DIR}/backends/uml/kernort)
  add_executable(soda-kernort ${KERNORT_DIR}/kernort.c ${KERNORT_DIR}/ring.c)
  target_link_libraries(soda-kernort PRIVATE soda_ids)
  target_include_directories(soda-kernort PRIVATE ${CMAKE_SOURCE_DIR}/libsoda)
  install(TARGETS soda-kernort DESTINATION ${CMAKE_INSTALL_LIBEXECDIR})
else()
  message(WARNING "no IDS engine: no soda-kernort (the port IDS answers ENOENT)")
endif()
