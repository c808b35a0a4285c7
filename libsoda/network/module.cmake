# SPDX-License-Identifier: LGPL-2.1-or-later
# The network module: the software switch (bridge and TAPs over rtnetlink,
# libmnl, LGPL, through host/netlink.c and host/tap.c of soda_host) and
# firewall policies. The nftables side is the GPL plugin libsoda-nft.so,
# loaded at run time through the table of nft_ops.h, which this module owns
# and the plugin implements.
find_package(Threads REQUIRED)
if(NOT LIBMNL_FOUND)
  message(WARNING "libmnl missing: no software switch (networks) in this build")
  return()
endif()

add_library(soda_network OBJECT
  ${CMAKE_CURRENT_LIST_DIR}/network.c
  ${CMAKE_CURRENT_LIST_DIR}/policy.c
  ${CMAKE_CURRENT_LIST_DIR}/compile.c
  ${CMAKE_CURRENT_LIST_DIR}/state.c)
target_include_directories(soda_network PRIVATE ${CMAKE_SOURCE_DIR}/include)
target_compile_definitions(soda_network PRIVATE SODA_BUILDING_LIBRARY
  SODA_VERSION_STRING="${PROJECT_VERSION}"
  SODA_NFT_PLUGIN_DEFAULT="${CMAKE_INSTALL_FULL_LIBDIR}/libsoda-nft.so")
target_compile_options(soda_network PRIVATE -fvisibility=hidden)
# For the include directories of libmnl and soda_host only; the library
# links them.
target_link_libraries(soda_network PRIVATE PkgConfig::LIBMNL soda_host)

list(APPEND SODA_MODULE_OBJECTS soda_network)
# Its hooks into the core (the default netdev hooks, context close).
list(APPEND SODA_CORE_FEATURES su_network_feature)
list(APPEND SODA_MODULE_LIBS PkgConfig::LIBMNL ${CMAKE_DL_LIBS} Threads::Threads)
list(APPEND SODA_MODULE_SYMFILES ${CMAKE_CURRENT_LIST_DIR}/network.sym)
install(FILES ${CMAKE_SOURCE_DIR}/include/soda/network.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/soda)
