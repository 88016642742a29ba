include(CMakePackageConfigHelpers)
set(FASTJSON_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/fastjson)

install(TARGETS fastjson EXPORT fastjson-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/fastjson DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT fastjson-targets NAMESPACE fastjson:: DESTINATION ${FASTJSON_CMAKE_DIR})

configure_package_config_file(cmake/fastjson-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/fastjson-config.cmake
  INSTALL_DESTINATION ${FASTJSON_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/fastjson-config-version.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/fastjson-config.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/fastjson-config-version.cmake
  DESTINATION ${FASTJSON_CMAKE_DIR})
