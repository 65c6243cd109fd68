# The shipped models in weights/ (issue: trained models): checked natively and in wasm (the browser's core).
# Not under the sanitizers: the same code paths run there in the core tests, and 20,000 CNN forward passes
# under ASan would take minutes.
if(EXISTS "${PROJECT_SOURCE_DIR}/weights/manifest.json" AND NOT DIGITLAB_SANITIZERS)
  add_library(digitlab_test_sha256 STATIC support/sha256.cpp)
  target_include_directories(digitlab_test_sha256 PUBLIC "${CMAKE_CURRENT_SOURCE_DIR}")
  digitlab_add_catch_test(NAME shipped_weights SOURCES shipped/test_shipped_weights.cpp
                          LIBS digitlab_test_support digitlab_test_sha256 digitlab::reference TIMEOUT 900)
endif()
