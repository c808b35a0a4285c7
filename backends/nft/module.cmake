# SPDX-License-Identifier: GPL-2.0-or-later
# libsoda-nft.so: the switch's nftables plugin. It links libnftnl
# (GPL-2.0-or-later) and is therefore a separate, GPL-2.0-or-later unit;
# libsoda (LGPL-2.1-or-later) loads it with dlopen() through the versioned
# table of libsoda/network/nft_ops.h, which the switch owns and this plugin
# implements, and never links it.
find_package(Threads REQUIRED)
pkg_check_modules(LIBNFTNL IMPORTED_TARGET libnftnl)
if(NOT LIBNFTNL_FOUND OR NOT LIBMNL_FOUND)
  message(WARNING "libnftnl or libmnl missing: no firewall plugin (libsoda-nft.so)")
  return()
endif()

add_library(soda-nft MODULE ${CMAKE_CURRENT_LIST_DIR}/nft.c)
set_target_properties(soda-nft PROPERTIES OUTPUT_NAME soda-nft PREFIX "lib"
  C_VISIBILITY_PRESET hidden
  # Beside libsoda.so in the build tree, where libsoda looks first.
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
target_compile_definitions(soda-nft PRIVATE SODA_VERSION_STRING="${PROJECT_VERSION}")
target_include_directories(soda-nft PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(soda-nft PRIVATE PkgConfig::LIBNFTNL PkgConfig::LIBMNL)
target_link_options(soda-nft PRIVATE "-Wl,--no-undefined")
install(TARGETS soda-nft LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
