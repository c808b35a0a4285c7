# SPDX-License-Identifier: LGPL-2.1-or-later
# The built-in guest backends, as a list the core reads at run time
# (generated/soda_builtin_backends.c) rather than names written into
# libsoda/: each entry is "scheme:driver-symbol", the first one gives the
# default URI. A backend that is not built in is a plugin,
# libsoda-<scheme>.so, which the core loads for URIs of a scheme it does not
# know (libsoda/context.c); the plugin directory of an install is generated
# here too.
set(SODA_BUILTIN_BACKENDS "uml:su_uml_driver;test:su_test_driver" CACHE STRING
    "Built-in guest backends, scheme:driver-symbol; the first is the default")

set(_decls "")
set(_entries "")
set(_default "")
foreach(b ${SODA_BUILTIN_BACKENDS})
  if(NOT b MATCHES "^([a-z][a-z0-9]*):([A-Za-z_][A-Za-z0-9_]*)$")
    message(FATAL_ERROR "SODA_BUILTIN_BACKENDS: '${b}' is not scheme:driver-symbol")
  endif()
  if(NOT _default)
    set(_default "${CMAKE_MATCH_1}:///")
  endif()
  string(APPEND _decls "extern const soda_backend_driver ${CMAKE_MATCH_2};\n")
  string(APPEND _entries "\t&${CMAKE_MATCH_2},\n")
endforeach()
if(NOT _default)
  message(FATAL_ERROR "SODA_BUILTIN_BACKENDS is empty")
endif()
set(SODA_BUILTIN_DECLS "${_decls}")
set(SODA_BUILTIN_ENTRIES "${_entries}")
set(SODA_DEFAULT_URI "${_default}")
set(SODA_BACKEND_PLUGIN_DIR "${CMAKE_INSTALL_FULL_LIBDIR}")
set(SODA_BUILTIN_BACKENDS_C "${CMAKE_CURRENT_BINARY_DIR}/generated/soda_builtin_backends.c")
configure_file(${CMAKE_CURRENT_LIST_DIR}/builtin_backends.c.in "${SODA_BUILTIN_BACKENDS_C}" @ONLY)
