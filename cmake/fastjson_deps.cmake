# Finds every dependency of the library; all come from Debian packages
# (scripts/install-deps.sh installs them).
find_package(Threads REQUIRED)
find_package(simdjson REQUIRED)
find_package(fmt REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(libuv REQUIRED IMPORTED_TARGET GLOBAL libuv)

# llhttp: prefer an installed CMake package; otherwise compile the C sources
# that Debian's node-llhttp ships. Either way its objects are folded into
# libfastjson, so consumers never see llhttp.
if(NOT TARGET fastjson_llhttp)
  find_package(llhttp QUIET CONFIG)
  if(llhttp_FOUND AND TARGET llhttp::llhttp_static)
    add_library(fastjson_llhttp INTERFACE)
    target_link_libraries(fastjson_llhttp INTERFACE llhttp::llhttp_static)
    message(STATUS "fastjson: using installed llhttp CMake package")
  else()
    find_path(FASTJSON_LLHTTP_INCLUDE_DIR llhttp.h
      PATHS /usr/share/include/llhttp /usr/include/llhttp /usr/local/include/llhttp
      REQUIRED)
    find_path(FASTJSON_LLHTTP_SOURCE_DIR llhttp.c
      PATHS /usr/share/llhttp /usr/src/llhttp REQUIRED NO_DEFAULT_PATH)
    add_library(fastjson_llhttp OBJECT
      ${FASTJSON_LLHTTP_SOURCE_DIR}/api.c
      ${FASTJSON_LLHTTP_SOURCE_DIR}/http.c
      ${FASTJSON_LLHTTP_SOURCE_DIR}/llhttp.c)
    target_include_directories(fastjson_llhttp PUBLIC ${FASTJSON_LLHTTP_INCLUDE_DIR})
    set_target_properties(fastjson_llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)
    target_compile_definitions(fastjson_llhttp PUBLIC LLHTTP_STRICT_MODE=1)
    target_compile_options(fastjson_llhttp PRIVATE -O2 -w)
    message(STATUS "fastjson: compiling llhttp from ${FASTJSON_LLHTTP_SOURCE_DIR}")
  endif()
endif()
