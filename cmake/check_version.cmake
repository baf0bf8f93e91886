# cmake -DHEADER=include/tokprep.h -DVERSION=<project version> -P check_version.cmake
# Fails when TOKPREP_VERSION in the public header differs from project(VERSION) in CMakeLists.txt
# (which also sets the shared library's version and tokprep.pc's Version).
file(STRINGS "${HEADER}" line REGEX "^#define TOKPREP_VERSION \"[^\"]*\"")
string(REGEX REPLACE "^#define TOKPREP_VERSION \"([^\"]*)\".*" "\\1" header_version "${line}")
if(NOT header_version STREQUAL VERSION)
  message(FATAL_ERROR "TOKPREP_VERSION in ${HEADER} is \"${header_version}\" but "
                      "project(VERSION) is \"${VERSION}\": change both together")
endif()
message(STATUS "TOKPREP_VERSION ${header_version} = project version")
