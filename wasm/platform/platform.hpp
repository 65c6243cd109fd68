// What main.cpp needs from the platform under the app: the browser page (web_platform.cpp) or the
// desktop (desktop_platform.cpp); exactly one of them is compiled in. Read next: main.cpp.
#pragma once

#include <memory>

#include "app/app.hpp"

struct GLFWwindow;

namespace digitlab::app {

class Platform : public AppServices {
 public:
  // After the window, ImGui and the app exist: options, the model list, input hooks. false: cannot run.
  virtual bool start(App& app, GLFWwindow* window, int argc, char** argv) = 0;
  // Every frame, before the ImGui backends' NewFrame: fits the framebuffer to the screen and returns
  // the UI scale the app should use (device pixels per CSS pixel, or the desktop's content scale).
  virtual float begin_frame(GLFWwindow* window) = 0;
  // After the backends' NewFrame and before ImGui::NewFrame: input the GLFW backend cannot see (touch).
  virtual void override_input() {}
  // After the frame is rendered, before it is shown (the desktop's screenshots and scripted strokes).
  virtual void end_frame(GLFWwindow* window, App& app) { (void)window, (void)app; }
  // Work of the platform's own that needs frames while nothing else happens (scripted strokes, a frame limit).
  virtual bool busy() const { return false; }
  virtual bool keep_running() const { return true; }
  virtual int exit_code() const { return 0; }
};

std::unique_ptr<Platform> make_platform();

// Frames on demand (main.cpp): every input event and every call from the page asks for a few frames, so
// that what it changed is drawn; between them the loop sleeps. set_visible(false) (the page says the
// canvas is hidden or scrolled out of view) stops frames until it is visible again.
void request_frames();
void set_visible(bool visible);

// Says why the app cannot start: in the page (browser) or on stderr (desktop).
void report_fatal(const char* message);

}  // namespace digitlab::app
