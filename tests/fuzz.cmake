# libFuzzer targets (clang): every tests/fuzz/fuzz_*.cpp, with a short smoke run in ctest. Longer runs:
# build/native-asan/tests/fuzz_<name> -max_total_time=600 tests/fuzz/corpus/<name> (docs/fuzzing.md).
if(DIGITLAB_BUILD_FUZZERS)
  file(GLOB _fuzz_sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_*.cpp")
  foreach(_source IN LISTS _fuzz_sources)
    get_filename_component(_name "${_source}" NAME_WE)
    add_executable(${_name} "${_source}")
    target_link_libraries(${_name} PRIVATE digitlab::core)
    target_compile_options(${_name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${_name} PRIVATE -fsanitize=fuzzer)
    add_test(NAME ${DIGITLAB_TEST_PREFIX}.${_name}-smoke
             COMMAND ${_name} -runs=20000 -max_total_time=30 -seed=1)
    set_tests_properties(${DIGITLAB_TEST_PREFIX}.${_name}-smoke PROPERTIES TIMEOUT 120)
  endforeach()
endif()
