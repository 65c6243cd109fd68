# Native vs WebAssembly parity: the probe (tests/parity/parity_probe.cpp) is built in both builds; the
# native build registers a test that runs both (the wasm one under node, from the wasm preset's build
# folder) and compares them with parity_compare: identical classes, max |logit difference| <= 1e-4.
add_executable(parity_probe parity/parity_probe.cpp)
target_link_libraries(parity_probe PRIVATE digitlab::core)
target_compile_definitions(parity_probe PRIVATE DIGITLAB_WEIGHTS_DIR="${PROJECT_SOURCE_DIR}/weights")
if(EMSCRIPTEN)
  target_link_options(parity_probe PRIVATE -sNODERAWFS=1 -sEXIT_RUNTIME=1 -sALLOW_MEMORY_GROWTH=1)
else()
  set(DIGITLAB_PARITY_WASM_DIR "${PROJECT_SOURCE_DIR}/build/wasm/tests" CACHE PATH
      "Where the wasm build put parity_probe.js (the wasm preset's tests folder)")
  find_program(DIGITLAB_NODE node)
  add_executable(parity_compare parity/parity_compare.cpp)
  add_test(NAME ${DIGITLAB_TEST_PREFIX}.parity-native-vs-wasm
           COMMAND ${CMAKE_COMMAND}
                   -DNATIVE_PROBE=$<TARGET_FILE:parity_probe>
                   -DWASM_PROBE_JS=${DIGITLAB_PARITY_WASM_DIR}/parity_probe.js
                   -DNODE=${DIGITLAB_NODE}
                   -DCOMPARE=$<TARGET_FILE:parity_compare>
                   -DOUT_DIR=${CMAKE_CURRENT_BINARY_DIR}/output/parity
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/parity/run_parity.cmake)
  set_tests_properties(${DIGITLAB_TEST_PREFIX}.parity-native-vs-wasm PROPERTIES TIMEOUT 300 LABELS parity)
endif()
