# The trainer's tests, registered only when the trainer is built (the native preset): a Catch2 binary
# linking the trainer's library (tests/trainer/test_*.cpp) and end-to-end runs of the `digitlab` program
# (tests/trainer/cli_test.sh), all on small subsets of the real data. Read next: tests/trainer/cli_test.sh.
if(TARGET digitlab_trainer)
  # Imported targets are local to the folder that found them: find the trainer's packages here too.
  find_package(Torch REQUIRED)
  find_package(CLI11 REQUIRED)
  find_package(nlohmann_json 3 REQUIRED)
  find_package(fmt REQUIRED)
  file(GLOB _trainer_test_sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/trainer/test_*.cpp")
  digitlab_add_catch_test(NAME trainer SOURCES ${_trainer_test_sources} LIBS digitlab_trainer TIMEOUT 300)
  foreach(_case resume eval errors tools)
    add_test(NAME ${DIGITLAB_TEST_PREFIX}.trainer-cli-${_case}
             COMMAND bash "${CMAKE_CURRENT_SOURCE_DIR}/trainer/cli_test.sh" ${_case} $<TARGET_FILE:digitlab>
                     "${DIGITLAB_DATA_DIR}" "${CMAKE_CURRENT_BINARY_DIR}/output/trainer-cli")
    set_tests_properties(${DIGITLAB_TEST_PREFIX}.trainer-cli-${_case} PROPERTIES TIMEOUT 300)
  endforeach()
endif()
# Data-parallel training with worker processes on loopback (tests/trainer/distributed_test.sh): the same
# run as one process, resume, a killed worker, bad environments, the parallel sweep, Debian's torchrun.
# Nothing here checks a speed (the kill test's bound, 30 s, is 150 times what it takes), so they run
# beside other tests.
if(TARGET digitlab_trainer)
  foreach(_case parity resume kill errors sweep torchrun)
    add_test(NAME ${DIGITLAB_TEST_PREFIX}.distributed-${_case}
             COMMAND bash "${CMAKE_CURRENT_SOURCE_DIR}/trainer/distributed_test.sh" ${_case} $<TARGET_FILE:digitlab>
                     "${DIGITLAB_DATA_DIR}" "${CMAKE_CURRENT_BINARY_DIR}/output/distributed")
    set_tests_properties(${DIGITLAB_TEST_PREFIX}.distributed-${_case} PROPERTIES TIMEOUT 300 COST 20)
  endforeach()
endif()
