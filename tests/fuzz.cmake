# libFuzzer targets (clang): every tests/fuzz/fuzz_<name>.cpp, with a short smoke run in ctest seeded from
# tests/fuzz/corpus/<name>/ when it exists (new inputs go to the build folder, never the source tree).
# Longer runs: docs/fuzzing.md.
if(DIGITLAB_BUILD_FUZZERS)
  file(GLOB _fuzz_sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_*.cpp")
  foreach(_source IN LISTS _fuzz_sources)
    get_filename_component(_name "${_source}" NAME_WE)
    string(REGEX REPLACE "^fuzz_" "" _short "${_name}")
    add_executable(${_name} "${_source}")
    target_link_libraries(${_name} PRIVATE digitlab::core)
    target_compile_options(${_name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${_name} PRIVATE -fsanitize=fuzzer)
    set(_work "${CMAKE_CURRENT_BINARY_DIR}/fuzz-corpus/${_short}")
    file(MAKE_DIRECTORY "${_work}")
    set(_seeds "")
    if(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${_short}")
      set(_seeds "${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${_short}")
    endif()
    add_test(NAME ${DIGITLAB_TEST_PREFIX}.${_name}-smoke
             COMMAND ${_name} -runs=20000 -max_total_time=30 -seed=1 -rss_limit_mb=2048 "${_work}" ${_seeds})
    set_tests_properties(${DIGITLAB_TEST_PREFIX}.${_name}-smoke PROPERTIES TIMEOUT 120)
  endforeach()
endif()
