# eBPF programs: compiled with clang -target bpf against a vmlinux.h generated from the
# running kernel's BTF (CO-RE), and wrapped in a bpftool skeleton that user space
# includes. One vmlinux.h for the whole build (never committed).
#
#   include(${PROJECT_SOURCE_DIR}/cmake/bpf.cmake)
#   tandem_bpf_skeleton(<target> SOURCE bpf/x.bpf.c [DEPENDS headers...] OUT_DIR <var>)
#
# builds <current binary dir>/gen/x.bpf.o and x.skel.h when <target> (a custom target) is
# built, and sets <var> to that gen directory. The user-space library then does
#   add_dependencies(lib <target>)
#   target_include_directories(lib SYSTEM PRIVATE ${<var>})  # generated: not ours to keep warning-free
#   target_link_libraries(lib PRIVATE PkgConfig::LIBBPF)
# The source is compiled with -I for the gen directory of vmlinux.h and its own directory.
include_guard(GLOBAL)

find_program(TANDEM_BPF_CLANG NAMES clang clang-16 clang-15 clang-14)
if(NOT TANDEM_BPF_CLANG)
  message(FATAL_ERROR "bpf: clang not found; it compiles the eBPF programs (Debian package: clang)")
endif()
find_program(TANDEM_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
if(NOT TANDEM_BPFTOOL)
  message(FATAL_ERROR "bpf: bpftool not found; it generates vmlinux.h and the skeletons (Debian package: bpftool)")
endif()
set(TANDEM_VMLINUX_BTF /sys/kernel/btf/vmlinux CACHE FILEPATH
    "Kernel BTF that vmlinux.h is generated from (CO-RE)")
if(NOT EXISTS ${TANDEM_VMLINUX_BTF})
  message(FATAL_ERROR "bpf: ${TANDEM_VMLINUX_BTF} not found: the kernel has no BTF "
                      "(CONFIG_DEBUG_INFO_BTF); set TANDEM_VMLINUX_BTF to a BTF file")
endif()
# GLOBAL: every directory that builds a skeleton links the same imported target.
pkg_check_modules(LIBBPF IMPORTED_TARGET GLOBAL libbpf)
if(NOT LIBBPF_FOUND)
  message(FATAL_ERROR "bpf: libbpf not found (Debian packages: libbpf-dev libelf-dev zlib1g-dev)")
endif()

# CACHE INTERNAL: visible in every directory (include_guard runs this body only once).
set(TANDEM_BPF_VMLINUX_DIR ${CMAKE_BINARY_DIR}/bpf-gen CACHE INTERNAL "Where vmlinux.h is generated")
file(MAKE_DIRECTORY ${TANDEM_BPF_VMLINUX_DIR})
add_custom_command(
  OUTPUT ${TANDEM_BPF_VMLINUX_DIR}/vmlinux.h
  COMMAND ${TANDEM_BPFTOOL} btf dump file ${TANDEM_VMLINUX_BTF} format c > ${TANDEM_BPF_VMLINUX_DIR}/vmlinux.h
  COMMENT "bpf: vmlinux.h from ${TANDEM_VMLINUX_BTF}"
  VERBATIM)
# Skeleton rules in other directories depend on this target (ordering) and on the file.
add_custom_target(tandem_bpf_vmlinux DEPENDS ${TANDEM_BPF_VMLINUX_DIR}/vmlinux.h)

function(tandem_bpf_skeleton target)
  cmake_parse_arguments(B "" "SOURCE;OUT_DIR" "DEPENDS" ${ARGN})
  if(NOT B_SOURCE OR NOT B_OUT_DIR)
    message(FATAL_ERROR "tandem_bpf_skeleton(${target}): SOURCE and OUT_DIR are required")
  endif()
  get_filename_component(src ${B_SOURCE} ABSOLUTE)
  get_filename_component(src_dir ${src} DIRECTORY)
  get_filename_component(src_name ${src} NAME)  # x.bpf.c
  string(REGEX REPLACE "\\.c$" "" obj_stem ${src_name})    # x.bpf
  string(REGEX REPLACE "\\.bpf$" "" skel_stem ${obj_stem})  # x
  set(gen ${CMAKE_CURRENT_BINARY_DIR}/gen)
  file(MAKE_DIRECTORY ${gen})
  set(deps)
  foreach(d ${B_DEPENDS})
    get_filename_component(d_abs ${d} ABSOLUTE)
    list(APPEND deps ${d_abs})
  endforeach()
  add_custom_command(
    OUTPUT ${gen}/${obj_stem}.o
    COMMAND ${TANDEM_BPF_CLANG} -target bpf -g -O2 -mcpu=v3 -Wall -Werror
            -I${TANDEM_BPF_VMLINUX_DIR} -I${src_dir}
            -c ${src} -o ${gen}/${obj_stem}.o
    DEPENDS ${src} ${deps} ${TANDEM_BPF_VMLINUX_DIR}/vmlinux.h tandem_bpf_vmlinux
    COMMENT "bpf: clang -target bpf ${src_name}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${gen}/${skel_stem}.skel.h
    COMMAND sh -c "\"$1\" gen skeleton \"$2\" > \"$3\"" sh ${TANDEM_BPFTOOL}
            ${gen}/${obj_stem}.o ${gen}/${skel_stem}.skel.h
    DEPENDS ${gen}/${obj_stem}.o
    COMMENT "bpf: bpftool gen skeleton ${obj_stem}.o"
    VERBATIM)
  add_custom_target(${target} DEPENDS ${gen}/${skel_stem}.skel.h)
  set(${B_OUT_DIR} ${gen} PARENT_SCOPE)
endfunction()
