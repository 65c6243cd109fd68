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
