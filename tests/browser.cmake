# The real-browser test of the web app (native build only): tests/browser/demo.test.mjs serves the wasm
# build's site on a free port, drives headless Chromium with playwright-core, and stops the server.
# It needs the wasm preset built first (make test does both) and npm ci in tests/browser (scripts/setup).
# Not in the sanitizer build either: it would serve and test the very same site a second time.
if(EMSCRIPTEN OR DIGITLAB_SANITIZERS)
  return()
endif()
find_program(DIGITLAB_NODE node)
set(DIGITLAB_BROWSER_SITE "${PROJECT_SOURCE_DIR}/build/wasm/web" CACHE PATH
    "The built site (index.html, digitlab-app.js/.wasm, weights/) the browser test serves")
if(DIGITLAB_NODE)
  add_test(NAME ${DIGITLAB_TEST_PREFIX}.browser
           COMMAND ${DIGITLAB_NODE} "${CMAKE_CURRENT_SOURCE_DIR}/browser/demo.test.mjs"
                   --root "${DIGITLAB_BROWSER_SITE}" --out "${CMAKE_CURRENT_BINARY_DIR}/output"
                   --server "${PROJECT_SOURCE_DIR}/scripts/serve.mjs")
  set_tests_properties(${DIGITLAB_TEST_PREFIX}.browser PROPERTIES TIMEOUT 300)
  # One test per tests/browser/teaching_*.test.mjs, each named for the panels it covers
  # (native.browser_teaching_drawing_panels, ...), and the others listed; they share harness.mjs.
  file(GLOB _panel_tests CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/browser/teaching_*.test.mjs")
  # And the page's own behaviour: frames on demand (idle, out of view, never fullscreen), PyTorch files,
  # shared links (drawing=), languages (lang=), the lesson pages (all panels loaded, idle under 5 % of a core),
  # phones and tablets (touch, fitting the window, swipes scrolling a lesson).
  list(APPEND _panel_tests "${CMAKE_CURRENT_SOURCE_DIR}/browser/frames_on_demand.test.mjs"
                           "${CMAKE_CURRENT_SOURCE_DIR}/browser/pytorch_import.test.mjs"
                           "${CMAKE_CURRENT_SOURCE_DIR}/browser/share_url.test.mjs"
                           "${CMAKE_CURRENT_SOURCE_DIR}/browser/languages.test.mjs"
                           "${CMAKE_CURRENT_SOURCE_DIR}/browser/lesson.test.mjs"
                           "${CMAKE_CURRENT_SOURCE_DIR}/browser/phones.test.mjs")
  foreach(_test IN LISTS _panel_tests)
    get_filename_component(_name "${_test}" NAME_WE)
    add_test(NAME ${DIGITLAB_TEST_PREFIX}.browser_${_name}
             COMMAND ${DIGITLAB_NODE} "${_test}"
                     --root "${DIGITLAB_BROWSER_SITE}" --out "${CMAKE_CURRENT_BINARY_DIR}/output"
                     --server "${PROJECT_SOURCE_DIR}/scripts/serve.mjs")
    set_tests_properties(${DIGITLAB_TEST_PREFIX}.browser_${_name} PROPERTIES TIMEOUT 300)
  endforeach()
  # Issue 16: a sample of the drawn-digit style set (tests/styles.cmake's digit_styles_report) in the page:
  # one drawing per style, 200-240 s on the loaded 2-core machine (docs/benchmarks.md).
  add_test(NAME ${DIGITLAB_TEST_PREFIX}.browser_digit_styles
           COMMAND ${DIGITLAB_NODE} "${CMAKE_CURRENT_SOURCE_DIR}/browser/digit_styles.test.mjs"
                   --root "${DIGITLAB_BROWSER_SITE}" --out "${CMAKE_CURRENT_BINARY_DIR}/output"
                   --server "${PROJECT_SOURCE_DIR}/scripts/serve.mjs"
                   --report "${CMAKE_CURRENT_BINARY_DIR}/digit_styles_report")
  set_tests_properties(${DIGITLAB_TEST_PREFIX}.browser_digit_styles PROPERTIES TIMEOUT 600)
  # The tests that time the page's frames (at most 50 ms while it trains or explains) run alone: a second
  # Chromium beside them on the 2-core machine deschedules the page, and a piece of 2 ms of work then takes
  # 85 ms of wall clock (a clean-clone run, CNN at batch 64: p99 78 ms with three browser tests alongside).
  set_tests_properties(${DIGITLAB_TEST_PREFIX}.browser_teaching_train_panel
                       ${DIGITLAB_TEST_PREFIX}.browser_teaching_saliency_panel PROPERTIES RUN_SERIAL TRUE)
  # The longest tests first (seconds on the 2-core CI machine, docs/benchmarks.md): a clean clone has no
  # timings of its own for ctest to schedule by, and a long test started last makes the run's tail.
  foreach(_long pytorch_import:250 digit_styles:220 phones:150 lesson:90)
    string(REPLACE ":" ";" _long "${_long}")
    list(GET _long 0 _name)
    list(GET _long 1 _seconds)
    set_tests_properties(${DIGITLAB_TEST_PREFIX}.browser_${_name} PROPERTIES COST ${_seconds})
  endforeach()
else()
  add_test(NAME ${DIGITLAB_TEST_PREFIX}.browser COMMAND /bin/sh -c "echo 'node not found: install nodejs (scripts/setup)'; exit 1")
endif()
