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

find_program(SODA_BPF_CLANG NAMES clang clang-14)
find_program(SODA_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)

# soda_bpf_skeleton(NAME SOURCE [DEPENDS...]): SOURCE compiled by clang into
# generated/NAME.bpf.o and bpftool's libbpf skeleton generated/NAME.skel.h
# (struct NAME, NAME__open_and_load()...), made by the target NAME_skel.
function(soda_bpf_skeleton name src)
  set(_obj "${CMAKE_BINARY_DIR}/generated/${name}.bpf.o")
  set(_skel "${CMAKE_BINARY_DIR}/generated/${name}.skel.h")
  add_custom_command(
    OUTPUT "${_obj}"
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/generated
    COMMAND ${SODA_BPF_CLANG} -O2 -g -target bpf
            -I/usr/include/${CMAKE_LIBRARY_ARCHITECTURE} -c ${src} -o ${_obj}
    DEPENDS ${src} ${ARGN}
    COMMENT "Compiling the BPF programs of ${name}" VERBATIM)
  add_custom_command(
    OUTPUT "${_skel}"
    COMMAND sh -c "${SODA_BPFTOOL} gen skeleton ${_obj} name ${name} > ${_skel}"
    DEPENDS "${_obj}"
    COMMENT "Generating the BPF skeleton of ${name}" VERBATIM)
  add_custom_target(${name}_skel DEPENDS "${_skel}")
endfunction()

# Traffic shaping: a BPF object turned into a libbpf skeleton, loaded by
# host/shape.c.
set(_host_dir ${CMAKE_CURRENT_LIST_DIR})
if(LIBBPF_FOUND AND LIBMNL_FOUND AND SODA_BPF_CLANG AND SODA_BPFTOOL)
  set(SODA_SHAPE_SOURCES ${_host_dir}/shape.c)
  soda_bpf_skeleton(soda_shape ${_host_dir}/bpf/soda_shape.bpf.c)
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
