// Hides the browser's main-loop plumbing so main() stays a plain loop, as in Dear ImGui's examples, and
// lets the loop sleep while nothing changes (frames on demand: an idle page costs nothing). Natively
// run_main_loop is `while (frame()) {}` and sleep_until_woken() waits for the next window event; under
// Emscripten each frame() is one requestAnimationFrame callback, sleep_until_woken() pauses them and
// wake_main_loop() (called by every input event and every call from the page) resumes them.
// Read next: main.cpp.
#pragma once

#include <functional>
#include <utility>

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#else
#include <GLFW/glfw3.h>
#endif

namespace digitlab::app {

// Calls frame() until it returns false. In the browser main() is left for good (nothing after the call
// runs), so whatever frame() uses must outlive main's scope: statics, or the heap.
inline void run_main_loop(std::function<bool()> frame) {
#ifdef __EMSCRIPTEN__
  static std::function<bool()> browser_frame;
  browser_frame = std::move(frame);
  emscripten_set_main_loop([] { if (!browser_frame()) emscripten_cancel_main_loop(); }, 0, true);
#else
  while (frame()) {
  }
#endif
}

#ifdef __EMSCRIPTEN__
namespace main_loop_detail {
inline bool paused = false;
}
// From inside frame(): no more frames until wake_main_loop().
inline void sleep_until_woken() {
  if (main_loop_detail::paused) return;
  main_loop_detail::paused = true;
  emscripten_pause_main_loop();
}
inline void wake_main_loop() {
  if (!main_loop_detail::paused) return;
  main_loop_detail::paused = false;
  emscripten_resume_main_loop();
}
#else
// Natively the wait ends at the next window event (whose callback asks for frames) or after a second,
// a safety net that costs one empty pass a second. Everything that wakes the desktop app is a window
// event already, handled inside the wait: nothing to post.
inline void sleep_until_woken() { glfwWaitEventsTimeout(1.0); }
inline void wake_main_loop() {}
#endif

}  // namespace digitlab::app
