# Install rules: `cmake --install build --prefix P` puts
#   bin/                     mkdelta verifydelta applydelta fotamodem
#   lib/                     libdelta.a libdelta_core.a, libdelta.so.MAJOR libdelta_core.so.MAJOR
#   include/libdelta/        the public headers (delta.h includes them all)
#   lib/cmake/libdelta/      find_package(libdelta): libdelta::delta, libdelta::core
#   lib/pkgconfig/           libdelta.pc, libdelta-core.pc
#   share/man/man1/          one page per tool (when help2man was found)
#   share/bash-completion/completions/   one file per tool
#   share/libdelta/schema/   the JSON schemas of the tools' --json reports
# The tools' own rules (man pages, completions) are in tools/CMakeLists.txt.
include(CMakePackageConfigHelpers)

set(DELTA_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/libdelta)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/libdelta/include/libdelta
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev FILES_MATCHING PATTERN "*.h")

# One export set per kind, so that a prefix with only one kind is still a valid package.
install(TARGETS delta_core delta EXPORT libdeltaStatic
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(EXPORT libdeltaStatic NAMESPACE libdelta:: FILE libdeltaStaticTargets.cmake
        DESTINATION ${DELTA_CMAKE_DIR} COMPONENT dev)
if(DELTA_BUILD_SHARED)
  install(TARGETS delta_core_shared delta_shared EXPORT libdeltaShared
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev)
  install(EXPORT libdeltaShared NAMESPACE libdelta:: FILE libdeltaSharedTargets.cmake
          DESTINATION ${DELTA_CMAKE_DIR} COMPONENT dev)
endif()

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/libdeltaConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/libdeltaConfig.cmake INSTALL_DESTINATION ${DELTA_CMAKE_DIR})
# 0.x: a new minor version may break the API, so only the same MAJOR.MINOR is compatible.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_compat SameMinorVersion)
else()
  set(_compat SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/libdeltaConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${_compat})
install(FILES ${PROJECT_BINARY_DIR}/cmake/libdeltaConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/libdeltaConfigVersion.cmake
        DESTINATION ${DELTA_CMAKE_DIR} COMPONENT dev)

# pkg-config files. The prefix is only known when installing (--prefix), so the
# files are written then, with every other field filled in now.
set(DELTA_PREFIX "@DELTA_PREFIX@") # kept for the install step
foreach(_pc libdelta libdelta-core)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/${_pc}.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${_pc}.pc.in @ONLY)
endforeach()
install(CODE "
  foreach(_pc libdelta libdelta-core)
    file(READ \"${PROJECT_BINARY_DIR}/pkgconfig/\${_pc}.pc.in\" _text)
    string(REPLACE \"@DELTA_PREFIX@\" \"\${CMAKE_INSTALL_PREFIX}\" _text \"\${_text}\")
    file(WRITE \"${PROJECT_BINARY_DIR}/pkgconfig/\${_pc}.pc\" \"\${_text}\")
    file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\"
         TYPE FILE FILES \"${PROJECT_BINARY_DIR}/pkgconfig/\${_pc}.pc\")
  endforeach()" COMPONENT dev)

# The JSON schemas of the tools' --json reports (formats/schema/README.md).
install(FILES ${PROJECT_SOURCE_DIR}/formats/schema/mkdelta.schema.json
              ${PROJECT_SOURCE_DIR}/formats/schema/verifydelta.schema.json
              ${PROJECT_SOURCE_DIR}/formats/schema/applydelta.schema.json
              ${PROJECT_SOURCE_DIR}/formats/schema/README.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/libdelta/schema COMPONENT tools)
