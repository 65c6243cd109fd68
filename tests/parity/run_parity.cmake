# Runs the parity probe natively and as WebAssembly under node, then compares (cmake -P; see parity.cmake).
# Inputs: NATIVE_PROBE, WASM_PROBE_JS, NODE, COMPARE, OUT_DIR.
if(NOT EXISTS "${WASM_PROBE_JS}")
  message(FATAL_ERROR "The wasm parity probe ${WASM_PROBE_JS} is not built. Build the wasm preset first "
                      "(make test does: cmake --preset wasm && cmake --build --preset wasm --target parity_probe).")
endif()
file(MAKE_DIRECTORY "${OUT_DIR}")
execute_process(COMMAND "${NATIVE_PROBE}" --out "${OUT_DIR}/native.txt" RESULT_VARIABLE native_rc)
if(NOT native_rc EQUAL 0)
  message(FATAL_ERROR "native parity probe failed (${native_rc})")
endif()
execute_process(COMMAND "${NODE}" --no-experimental-fetch "${WASM_PROBE_JS}" --out "${OUT_DIR}/wasm.txt"
                RESULT_VARIABLE wasm_rc)
if(NOT wasm_rc EQUAL 0)
  message(FATAL_ERROR "wasm parity probe failed under node (${wasm_rc})")
endif()
execute_process(COMMAND "${COMPARE}" "${OUT_DIR}/native.txt" "${OUT_DIR}/wasm.txt" RESULT_VARIABLE compare_rc)
if(NOT compare_rc EQUAL 0)
  message(FATAL_ERROR "native and wasm results differ (see above)")
endif()
