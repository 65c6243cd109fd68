# The core's tests: every tests/core/test_*.cpp in one binary, run natively, under asan and in wasm,
# with the test-support code (synthetic drawings) beside them.
file(GLOB _core_test_sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/core/test_*.cpp")
add_library(digitlab_test_support STATIC support/synthetic_digits.cpp)
target_link_libraries(digitlab_test_support PUBLIC digitlab_catch_main digitlab::core)
target_include_directories(digitlab_test_support PUBLIC "${CMAKE_CURRENT_SOURCE_DIR}")
if(NOT EMSCRIPTEN)
  find_package(nlohmann_json 3 REQUIRED)
  target_link_libraries(digitlab_test_support PUBLIC nlohmann_json::nlohmann_json)
endif()
digitlab_add_catch_test(NAME core SOURCES ${_core_test_sources} LIBS digitlab_test_support digitlab::reference TIMEOUT 600)
# Real PyTorch files for test_pytorch_reader.cpp, written at build time into the build tree by Debian's
# python3-torch from tests/pytorch/make_fixtures.py (never committed). Without python3-torch those tests
# say they are skipped.
set(_pytorch_fixtures "${CMAKE_CURRENT_BINARY_DIR}/pytorch-fixtures")
execute_process(COMMAND /usr/bin/python3 -c "import torch" RESULT_VARIABLE _pytorch_missing OUTPUT_QUIET ERROR_QUIET)
if(_pytorch_missing EQUAL 0)
  add_custom_command(OUTPUT "${_pytorch_fixtures}/stamp"
    COMMAND /usr/bin/python3 "${CMAKE_CURRENT_SOURCE_DIR}/pytorch/make_fixtures.py" "${_pytorch_fixtures}"
    COMMAND ${CMAKE_COMMAND} -E touch "${_pytorch_fixtures}/stamp"
    DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/pytorch/make_fixtures.py"
    COMMENT "Writing PyTorch fixtures with python3-torch")
  add_custom_target(pytorch_fixtures DEPENDS "${_pytorch_fixtures}/stamp")
  add_dependencies(test_core pytorch_fixtures)
  target_compile_definitions(test_core PRIVATE DIGITLAB_PYTORCH_FIXTURES="${_pytorch_fixtures}")
else()
  message(STATUS "python3-torch is not installed (apt-get install python3-torch): the tests on real PyTorch files are skipped")
  target_compile_definitions(test_core PRIVATE DIGITLAB_PYTORCH_FIXTURES="")
endif()
