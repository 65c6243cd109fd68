# The core benchmark (tests/bench/bench_core.cpp): built natively and in wasm, run by hand (commands in
# docs/benchmarks.md). A short smoke run is registered so it keeps working; its timings decide nothing.
if(DIGITLAB_BUILD_BENCHMARKS)
  add_executable(bench_core bench/bench_core.cpp)
  target_link_libraries(bench_core PRIVATE digitlab::core)
  target_compile_definitions(bench_core PRIVATE DIGITLAB_DATA_DIR="${DIGITLAB_DATA_DIR}")
  if(EMSCRIPTEN)
    target_compile_definitions(bench_core PRIVATE DIGITLAB_BENCH_BUILD="wasm-simd128")
    target_link_options(bench_core PRIVATE -sNODERAWFS=1 -sEXIT_RUNTIME=1 -sALLOW_MEMORY_GROWTH=1)
    set(_bench_args --wasm-file "${CMAKE_CURRENT_BINARY_DIR}/bench_core.wasm")
  else()
    target_compile_definitions(bench_core PRIVATE DIGITLAB_BENCH_BUILD="native")
    set(_bench_args "")
  endif()
  add_test(NAME ${DIGITLAB_TEST_PREFIX}.bench_core-smoke COMMAND bench_core --runs 20 --warmup 2 ${_bench_args})
  set_tests_properties(${DIGITLAB_TEST_PREFIX}.bench_core-smoke PROPERTIES TIMEOUT 120 LABELS bench)
endif()

# The saliency panel's figures (tests/bench/saliency_figures.cpp, docs/teaching.md): run by hand; the smoke
# run on the MLP keeps it working.
if(DIGITLAB_BUILD_BENCHMARKS AND TARGET digitlab_app_logic)
  add_executable(saliency_figures bench/saliency_figures.cpp)
  target_link_libraries(saliency_figures PRIVATE digitlab_app_logic digitlab::core)
  target_compile_definitions(saliency_figures PRIVATE DIGITLAB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  if(EMSCRIPTEN)
    target_link_options(saliency_figures PRIVATE -sNODERAWFS=1 -sEXIT_RUNTIME=1 -sALLOW_MEMORY_GROWTH=1)
  endif()
  add_test(NAME ${DIGITLAB_TEST_PREFIX}.saliency_figures-smoke COMMAND saliency_figures mnist-mlp.dlw)
  set_tests_properties(${DIGITLAB_TEST_PREFIX}.saliency_figures-smoke PROPERTIES TIMEOUT 120 LABELS bench)
endif()

# The training-speed benchmark's core (tests/bench/train_speed_core.cpp): natively a program, in wasm a
# module (no main) that tests/bench/train_speed.mjs loads in node and in Chromium. A build target only:
# `node tests/bench/train_speed.mjs` runs it (commands in docs/benchmarks.md); no ctest test.
if(DIGITLAB_BUILD_BENCHMARKS)
  if(EMSCRIPTEN)
    add_executable(train_speed_core bench/train_speed_core.cpp)
    target_link_options(train_speed_core PRIVATE -sMODULARIZE=1 -sEXPORT_NAME=createTrainSpeedCore
                        -sENVIRONMENT=web,node -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=2gb
                        "-sEXPORTED_FUNCTIONS=_digitlab_train_speed_begin,_digitlab_train_speed_steps,_digitlab_train_speed_last_loss,_digitlab_train_speed_error,_digitlab_train_speed_end,_malloc,_free"
                        "-sEXPORTED_RUNTIME_METHODS=UTF8ToString,stringToUTF8,lengthBytesUTF8,HEAPU8")
  else()
    add_executable(train_speed_core bench/train_speed_core.cpp bench/train_speed_main.cpp)
    target_compile_definitions(train_speed_core PRIVATE DIGITLAB_DATA_DIR="${DIGITLAB_DATA_DIR}")
  endif()
  target_link_libraries(train_speed_core PRIVATE digitlab::core)
  # The same module around the core as the lab page ships it (wasm/CMakeLists.txt: digitlab_core_lab, linked
  # as the app is: -Oz, LTO, emmalloc), so the benchmark can tell what those build choices cost training
  # (engine core-web-*).
  if(EMSCRIPTEN AND TARGET digitlab_core_lab)
    add_executable(train_speed_core_web bench/train_speed_core.cpp)
    target_link_libraries(train_speed_core_web PRIVATE digitlab_core_lab digitlab::core)
    target_compile_options(train_speed_core_web PRIVATE -Oz -flto)
    get_target_property(_train_speed_link_options train_speed_core LINK_OPTIONS)
    target_link_options(train_speed_core_web PRIVATE ${_train_speed_link_options} -Oz -flto -sMALLOC=emmalloc)
  endif()
endif()
