# SPDX-License-Identifier: LGPL-2.1-or-later
# The host facilities: cgroups (v1 and v2), shares as cgroup files, traffic
# shaping (BPF + HTB), rtnetlink and TAPs. Not a backend and not the core:
# an internal object library, soda_host, that the core, the network module
# (libsoda/network) and the backends use. Its users include "host/NAME.h"
# and get that include directory by linking soda_host (usage requirements
# only: the objects go into libsoda through SODA_ALL_OBJECTS).
# cgroup.c is compiled into soda_common instead, for soda-monitor uses it
# too (CMakeLists.txt).
# Needs LIBBPF and LIBMNL from pkg_check_modules (CMakeLists.txt).

# Traffic shaping: a BPF object (clang) turned into a libbpf skeleton
# (bpftool), loaded by host/shape.c.
find_program(SODA_BPF_CLANG NAMES clang clang-14)
find_program(SODA_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
set(_host_dir ${CMAKE_CURRENT_LIST_DIR})
if(LIBBPF_FOUND AND LIBMNL_FOUND AND SODA_BPF_CLANG AND SODA_BPFTOOL)
  set(SODA_SHAPE_SOURCES ${_host_dir}/shape.c)
  set(SODA_SHAPE_OBJ "${CMAKE_CURRENT_BINARY_DIR}/generated/soda_shape.bpf.o")
  set(SODA_SHAPE_SKEL "${CMAKE_CURRENT_BINARY_DIR}/generated/soda_shape.skel.h")
  add_custom_command(
    OUTPUT "${SODA_SHAPE_OBJ}"
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/generated
    COMMAND ${SODA_BPF_CLANG} -O2 -g -target bpf
            -I/usr/include/${CMAKE_LIBRARY_ARCHITECTURE}
            -c ${_host_dir}/bpf/soda_shape.bpf.c -o ${SODA_SHAPE_OBJ}
    DEPENDS ${_host_dir}/bpf/soda_shape.bpf.c
    COMMENT "Compiling the shaping BPF programs" VERBATIM)
  add_custom_command(
    OUTPUT "${SODA_SHAPE_SKEL}"
    COMMAND sh -c "${SODA_BPFTOOL} gen skeleton ${SODA_SHAPE_OBJ} name soda_shape > ${SODA_SHAPE_SKEL}"
    DEPENDS "${SODA_SHAPE_OBJ}"
    COMMENT "Generating the shaping BPF skeleton" VERBATIM)
  add_custom_target(soda_shape_skel DEPENDS "${SODA_SHAPE_SKEL}")
  set(SODA_SHAPE_LIBS PkgConfig::LIBBPF PkgConfig::LIBMNL)
else()
  message(WARNING "libbpf, libmnl, clang or bpftool missing: bandwidth shares will be unavailable")
  set(SODA_SHAPE_SOURCES ${_host_dir}/shape_none.c)
  set(SODA_SHAPE_LIBS "")
endif()

# rtnetlink and TAPs (libmnl): for the software switch.
set(_host_net_sources "")
if(LIBMNL_FOUND)
  set(_host_net_sources ${_host_dir}/netlink.c ${_host_dir}/tap.c)
endif()

add_library(soda_host OBJECT ${_host_dir}/shares.c ${_host_dir}/netdev_shape.c
  ${SODA_SHAPE_SOURCES} ${_host_net_sources})
target_include_directories(soda_host PUBLIC ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}
  PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/generated)
target_compile_definitions(soda_host PRIVATE SODA_BUILDING_LIBRARY
  SODA_VERSION_STRING="${PROJECT_VERSION}")
target_compile_options(soda_host PRIVATE -fvisibility=hidden)
if(TARGET soda_shape_skel)
  add_dependencies(soda_host soda_shape_skel)
endif()
if(LIBMNL_FOUND)
  # For the include directories; libsoda links them (SODA_MODULE_LIBS).
  target_link_libraries(soda_host PRIVATE PkgConfig::LIBMNL ${SODA_SHAPE_LIBS})
endif()
