# PyTorch files: the architecture import and export without Python (a Catch2 binary, also under asan and
# wasm), and natively the comparison with real torch.save files from Debian's python3-torch
# (tests/pytorch/run_tests.sh; skipped when python3-torch is missing). Read next: tests/pytorch/run_tests.sh.
digitlab_add_catch_test(NAME pytorch-model SOURCES "${CMAKE_CURRENT_SOURCE_DIR}/pytorch/test_pytorch_model.cpp")
if(NOT EMSCRIPTEN)
  add_executable(pytorch_check "${CMAKE_CURRENT_SOURCE_DIR}/pytorch/pytorch_check.cpp")
  target_link_libraries(pytorch_check PRIVATE digitlab::core)
  if(TARGET pytorch_fixtures)  # the reader's fixtures (tests/core.cmake), also compared logit by logit
    add_dependencies(pytorch_check pytorch_fixtures)
  endif()
  set(_pytorch_out "${CMAKE_CURRENT_BINARY_DIR}/output/pytorch")
  set(_pytorch_digitlab "")
  if(TARGET digitlab)
    set(_pytorch_digitlab $<TARGET_FILE:digitlab>)
  endif()
  set(_pytorch_cases fixtures logits roundtrip)
  if(TARGET digitlab)
    list(APPEND _pytorch_cases cli)
  endif()
  foreach(_case ${_pytorch_cases})
    set(_name ${DIGITLAB_TEST_PREFIX}.pytorch-${_case})
    add_test(NAME ${_name}
             COMMAND bash "${CMAKE_CURRENT_SOURCE_DIR}/pytorch/run_tests.sh" ${_case} $<TARGET_FILE:pytorch_check>
                     "${_pytorch_digitlab}" "${DIGITLAB_DATA_DIR}" "${_pytorch_out}"
                     "${CMAKE_CURRENT_BINARY_DIR}/pytorch-fixtures")
    set_tests_properties(${_name} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)
    if(_case STREQUAL "fixtures")
      set_tests_properties(${_name} PROPERTIES FIXTURES_SETUP pytorch_fixtures)
    else()
      set_tests_properties(${_name} PROPERTIES FIXTURES_REQUIRED pytorch_fixtures)
    endif()
  endforeach()
endif()
