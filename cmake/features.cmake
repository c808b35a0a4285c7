# SPDX-License-Identifier: LGPL-2.1-or-later
# The feature modules' hooks into the core, as a table the core reads
# (generated/soda_features.c) rather than weak symbols: a module that hooks
# into the core appends the name of its `const struct su_feature` (see
# libsoda/private.h) to SODA_CORE_FEATURES in its module.cmake. The core
# (libsoda/context.c) refers to the table and the table to each module's
# entry, so a static link always pulls the modules that were built in.
# Included after the modules (CMakeLists.txt); adds the table to soda_core.
set(_decls "")
set(_entries "")
foreach(f ${SODA_CORE_FEATURES})
  if(NOT f MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "SODA_CORE_FEATURES: '${f}' is not a symbol name")
  endif()
  string(APPEND _decls "extern const struct su_feature ${f};\n")
  string(APPEND _entries "\t&${f},\n")
endforeach()
set(SODA_FEATURE_DECLS "${_decls}")
set(SODA_FEATURE_ENTRIES "${_entries}")
set(SODA_FEATURES_C "${CMAKE_CURRENT_BINARY_DIR}/generated/soda_features.c")
configure_file(${CMAKE_CURRENT_LIST_DIR}/features.c.in "${SODA_FEATURES_C}" @ONLY)
target_sources(soda_core PRIVATE "${SODA_FEATURES_C}")
