# The web app's tests (wasm/): the portable logic (drawing, URL options, layout, model catalog, JSON) in every
# build; natively also the app headless (ImGui without a window), the manifest readers (the desktop's in C++,
# the page's in node) and the desktop program under xvfb-run with a scripted stroke and a screenshot. The real-browser test: browser.cmake.
if(NOT TARGET digitlab_app_logic)
  return()
endif()
# Everything ImGui-free, the teaching panels' maths included, so that it runs as WebAssembly under node too.
digitlab_add_catch_test(NAME app
  SOURCES app/test_drawing.cpp app/test_drawing_code.cpp app/test_url_options.cpp app/test_layout.cpp app/test_model_catalog.cpp
          app/test_assets.cpp app/test_activations_maths.cpp app/test_preprocess_steps.cpp
          app/test_training_record.cpp app/test_your_model.cpp app/test_train_run.cpp
          app/test_test_subset.cpp app/test_saliency.cpp
          app/test_json_reader.cpp app/test_json_writer.cpp app/test_i18n.cpp
  LIBS digitlab_app_logic)

# The ImGui-free folders stay ImGui-free (wasm/README.md): wasm/common/ and each teaching panel's own logic
# (wasm/teaching/ except panel_* and widgets*). The compile would not notice a header that only ImGui files include.
if(NOT EMSCRIPTEN)
  add_test(NAME ${DIGITLAB_TEST_PREFIX}.app_imgui_free WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}/wasm" COMMAND sh -c
           "! grep -n '#include.*imgui' common/* $(ls teaching/* | grep -v -e /panel_ -e /widgets)")
endif()

# The page's manifest rules (web/manifest.js) on the same case file as test_manifest.cpp, in plain node.
if(NOT EMSCRIPTEN)
  find_program(DIGITLAB_NODE_PROGRAM node)
  if(DIGITLAB_NODE_PROGRAM)
    add_test(NAME ${DIGITLAB_TEST_PREFIX}.app_manifest_js
             COMMAND "${DIGITLAB_NODE_PROGRAM}" "${CMAKE_CURRENT_SOURCE_DIR}/app/test_manifest.mjs")
  endif()
endif()

if(NOT EMSCRIPTEN AND TARGET digitlab_app_ui)
  # The teaching panels' own tests: tests/app/test_panel_*.cpp, headless like test_app.cpp.
  file(GLOB _panel_test_sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/app/test_panel_*.cpp")
  digitlab_add_catch_test(NAME app_ui SOURCES app/test_app.cpp app/test_app_share_url.cpp app/test_app_i18n.cpp app/test_manifest.cpp ${_panel_test_sources}
                          LIBS digitlab_app_ui)

  # The train panel's downloaded .pth in real PyTorch (Debian's python3-torch; skipped without it): the
  # your-model test writes it with the app's logits, tests/pytorch/check_your_model.py compares.
  set(_your_model_out "${CMAKE_CURRENT_BINARY_DIR}/output/your-model")
  add_test(NAME ${DIGITLAB_TEST_PREFIX}.app_your_model_pytorch WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/pytorch"
           COMMAND sh -c "/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo 'SKIP: python3-torch is not installed'; exit 77; }
                          rm -rf \"$1\" && mkdir -p \"$1\" && DIGITLAB_YOUR_MODEL_OUT=\"$1\" \"$0\" '[your_model]' &&
                          /usr/bin/python3 check_your_model.py \"$1\"" $<TARGET_FILE:test_app_ui> "${_your_model_out}")
  set_tests_properties(${DIGITLAB_TEST_PREFIX}.app_your_model_pytorch PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)

  # The desktop program draws a 1 with the shipped default model and must read it as 1.
  find_program(DIGITLAB_XVFB_RUN xvfb-run)
  if(DIGITLAB_XVFB_RUN AND TARGET digitlab-app)
    add_test(NAME ${DIGITLAB_TEST_PREFIX}.app_desktop
             COMMAND ${DIGITLAB_XVFB_RUN} -a -s "-screen 0 1280x800x24"
                     $<TARGET_FILE:digitlab-app> --frames 12 --stroke "0.52,0.16 0.5,0.84" --expect 1
                     --screenshot "${CMAKE_CURRENT_BINARY_DIR}/output/app-desktop.png")
    set_tests_properties(${DIGITLAB_TEST_PREFIX}.app_desktop PROPERTIES TIMEOUT 120)
  endif()
  # The translations (wasm/i18n/README.md): complete, not stale, same conversions, every glyph in its font,
  # within the download budget. The native build makes the same language files as the site.
  if(DIGITLAB_LANGUAGES_BUILT AND NOT EMSCRIPTEN)
    # The desktop program in Traditional Chinese (the font subset merged into ImGui's): still reads a 1.
    if(DIGITLAB_XVFB_RUN AND TARGET digitlab-app)
      add_test(NAME ${DIGITLAB_TEST_PREFIX}.app_desktop_zh_hant
               COMMAND ${DIGITLAB_XVFB_RUN} -a -s "-screen 0 1280x800x24"
                       $<TARGET_FILE:digitlab-app> --lang zh-Hant --frames 12 --stroke "0.52,0.16 0.5,0.84" --expect 1
                       --options "panels=draw,prediction,network,activations"
                       --screenshot "${CMAKE_CURRENT_BINARY_DIR}/output/app-desktop-zh-Hant.png")
      set_tests_properties(${DIGITLAB_TEST_PREFIX}.app_desktop_zh_hant PROPERTIES TIMEOUT 120)
    endif()
    add_test(NAME ${DIGITLAB_TEST_PREFIX}.i18n_tables
             COMMAND /usr/bin/python3 "${PROJECT_SOURCE_DIR}/wasm/i18n/check_translations.py" "${PROJECT_SOURCE_DIR}"
                     "${DIGITLAB_LANGUAGE_DIR}")
  endif()
endif()
