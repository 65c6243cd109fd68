// Hides the browser's main-loop plumbing so main() stays a plain loop, as in Dear ImGui's examples.
// Natively run_main_loop is `while (frame()) {}`; under Emscripten each frame() is one
// requestAnimationFrame callback and the call never returns. Read next: main.cpp.
#pragma once

#include <functional>
#include <utility>

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
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

}  // namespace digitlab::app
