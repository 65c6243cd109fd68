# Digits as people write them (issue 16): the drawn-digit evaluation set (tests/data/digit_styles.json on a
# grid of pen widths, sizes, slants and positions, replayed through the web app's Drawing), its targets for
# the shipped default, and the report program behind docs/benchmarks.md. The page replays it too:
# tests/browser/digit_styles.test.mjs. Native only: it needs the app's Drawing and the shipped weights.
if(EMSCRIPTEN OR DIGITLAB_SANITIZERS OR NOT TARGET digitlab_app_logic
   OR NOT EXISTS "${PROJECT_SOURCE_DIR}/weights/manifest.json")
  return()
endif()
add_library(digitlab_test_style_set STATIC support/digit_style_set.cpp)
target_link_libraries(digitlab_test_style_set PUBLIC digitlab_test_support digitlab_app_logic)
digitlab_add_catch_test(NAME digit_styles SOURCES styles/test_digit_styles.cpp LIBS digitlab_test_style_set TIMEOUT 600)

# build/native/tests/digit_styles_report: per digit / per style accuracy of every shipped MNIST model,
# the "unsure" threshold and the top-two rule measured, and the browser test's sample (--sample).
add_executable(digit_styles_report styles/digit_styles_report.cpp)
target_link_libraries(digit_styles_report PRIVATE digitlab_test_style_set)
target_include_directories(digit_styles_report PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}")

# The trainer's pen augmentation, which draws the same templates for training (native trainer builds only).
if(TARGET digitlab_trainer)
  find_package(Torch REQUIRED)
  find_package(CLI11 REQUIRED)
  find_package(fmt REQUIRED)
  digitlab_add_catch_test(NAME pen_augmentation SOURCES styles/test_pen_augmentation.cpp LIBS digitlab_trainer TIMEOUT 300)
endif()
