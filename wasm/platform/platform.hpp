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
  virtual bool keep_running() const { return true; }
  virtual int exit_code() const { return 0; }
};

std::unique_ptr<Platform> make_platform();

// Says why the app cannot start: in the page (browser) or on stderr (desktop).
void report_fatal(const char* message);

}  // namespace digitlab::app
