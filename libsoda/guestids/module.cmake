# SPDX-License-Identifier: LGPL-2.1-or-later
# Kernort inside the guest (issue 18): the server configuration's rule file
# (include/soda/ids.h, soda_server_config_set_ids_rules), checked on the
# host by the agent's own parser (soda-agent ids-check) in a process of its
# own. The agent side is backends/uml/guest/agent_ids.c; the engine's
# guest events are libsoda/ids/events.c.
add_library(soda_guestids OBJECT ${CMAKE_CURRENT_LIST_DIR}/ids_rules.c)
target_include_directories(soda_guestids PRIVATE ${CMAKE_SOURCE_DIR}/include)
target_compile_definitions(soda_guestids PRIVATE SODA_BUILDING_LIBRARY
  SODA_AGENT_DEFAULT="${SODA_AGENT_INSTALLED}")
target_compile_options(soda_guestids PRIVATE -fvisibility=hidden)
list(APPEND SODA_MODULE_OBJECTS soda_guestids)
list(APPEND SODA_MODULE_SYMFILES ${CMAKE_CURRENT_LIST_DIR}/guestids.sym)
