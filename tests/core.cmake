# The core's tests: every tests/core/test_*.cpp in one binary, run natively, under asan and in wasm.
file(GLOB _core_test_sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/core/test_*.cpp")
digitlab_add_catch_test(NAME core SOURCES ${_core_test_sources} TIMEOUT 600)
