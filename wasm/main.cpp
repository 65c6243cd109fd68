// The app's main(): a GLFW window with an OpenGL context (WebGL 2 in the browser, OpenGL 3 on the
// desktop), Dear ImGui, the App, and a plain loop that draws a frame only when something may have
// changed (frames on demand). Read next: app/app.hpp (what runs each frame), platform/platform.hpp (what
// differs between browser and desktop), main_loop.hpp.
#include <algorithm>
#include <cstdio>
#include <memory>

#ifdef __EMSCRIPTEN__
#define GLFW_INCLUDE_ES3
#endif
#include <GLFW/glfw3.h>

#include "app/app.hpp"
#include "app/fonts.hpp"
#include "imgui.h"
#include "imgui_impl_glfw.h"
#include "imgui_impl_opengl3.h"
#include "main_loop.hpp"
#include "platform/platform.hpp"

using digitlab::app::App;
using digitlab::app::Platform;

namespace {

App* app_of(GLFWwindow* window) { return static_cast<App*>(glfwGetWindowUserPointer(window)); }

// Frames on demand: the frames still to draw before the loop may sleep. Every input event and every call
// from the page sets it (request_frames); ImGui settles hover, clicks and layout within a few frames.
// Work in progress (a prediction not yet made, a panel classifying) keeps frames coming (App::busy).
constexpr int kFramesAfterEvent = 4;
int frames_owed = kFramesAfterEvent;
bool visible = true;  // the page says whether the canvas can be seen (digitlab::app::set_visible)

// Mouse and pen (browsers turn pen input into mouse events) go straight to the drawing, event by event,
// so a fast stroke keeps every point the browser reports, not one per frame. ImGui chains to these
// (they are installed before its backend), and the rest only ask for frames.
void on_cursor_moved(GLFWwindow* window, double x, double y) {
  digitlab::app::request_frames();
  app_of(window)->pointer_move(float(x), float(y));
}
void on_scroll(GLFWwindow*, double, double) { digitlab::app::request_frames(); }
void on_key(GLFWwindow*, int, int, int, int) { digitlab::app::request_frames(); }
void on_char(GLFWwindow*, unsigned int) { digitlab::app::request_frames(); }
void on_focus(GLFWwindow*, int) { digitlab::app::request_frames(); }
void on_cursor_enter(GLFWwindow*, int) { digitlab::app::request_frames(); }
void on_window_size(GLFWwindow*, int, int) { digitlab::app::request_frames(); }

void on_mouse_button(GLFWwindow* window, int button, int action, int /*mods*/) {
  digitlab::app::request_frames();
  if (button != GLFW_MOUSE_BUTTON_LEFT) return;
  double x = 0, y = 0;
  glfwGetCursorPos(window, &x, &y);
  if (action == GLFW_PRESS)
    app_of(window)->pointer_down(float(x), float(y));
  else if (action == GLFW_RELEASE)
    app_of(window)->pointer_up(float(x), float(y));
}

}  // namespace

namespace digitlab::app {
void request_frames() {
  frames_owed = kFramesAfterEvent;
  if (visible) wake_main_loop();
}
void set_visible(bool is_visible) {
  visible = is_visible;
  if (visible) request_frames();
}
}  // namespace digitlab::app

int main(int argc, char** argv) {
  glfwSetErrorCallback([](int code, const char* description) { std::fprintf(stderr, "GLFW error %d: %s\n", code, description); });
  if (!glfwInit()) {
    digitlab::app::report_fatal("GLFW could not start (no display?).");
    return 1;
  }
#ifdef __EMSCRIPTEN__
  const char* glsl_version = "#version 300 es";  // WebGL 2
  glfwWindowHint(GLFW_CLIENT_API, GLFW_OPENGL_ES_API);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
#else
  const char* glsl_version = "#version 130";  // OpenGL 3.0
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
#endif
  GLFWwindow* window = glfwCreateWindow(1100, 720, "digitlab: draw a digit", nullptr, nullptr);
  if (!window) {
#ifdef __EMSCRIPTEN__
    digitlab::app::report_fatal("This page needs WebGL 2, which this browser did not provide. Try a current "
                                "Firefox, Chrome, Edge or Safari, with hardware acceleration enabled.");
#else
    digitlab::app::report_fatal("Could not open an OpenGL 3.0 window. On a machine without a display, run "
                                "it under xvfb-run.");
#endif
    glfwTerminate();
    return 1;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(1);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // the layout is computed, there is nothing to save

  // Static: in the browser main() returns into the event loop and these must stay (main_loop.hpp).
  static std::unique_ptr<Platform> platform = digitlab::app::make_platform();
  static App app(*platform, digitlab::app::built_in_panel_factory());
  glfwSetWindowUserPointer(window, &app);
  glfwSetCursorPosCallback(window, on_cursor_moved);
  glfwSetMouseButtonCallback(window, on_mouse_button);  // before ImGui's, which then chains to these
  glfwSetScrollCallback(window, on_scroll);
  glfwSetKeyCallback(window, on_key);
  glfwSetCharCallback(window, on_char);
  glfwSetWindowFocusCallback(window, on_focus);
  glfwSetCursorEnterCallback(window, on_cursor_enter);
  glfwSetWindowSizeCallback(window, on_window_size);
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  ImGui_ImplOpenGL3_Init(glsl_version);
  app.set_ui_scale(platform->begin_frame(window));
  if (!platform->start(app, window, argc, argv)) return platform->exit_code();

  digitlab::app::run_main_loop([window] {
    // Nothing changed and nothing in progress, or nobody can see it: sleep until an event or the page wakes us.
    if (!visible || (frames_owed <= 0 && !app.busy() && !platform->busy())) {
      digitlab::app::sleep_until_woken();
      return !glfwWindowShouldClose(window) && platform->keep_running();
    }
    frames_owed = std::max(0, frames_owed - 1);
    glfwPollEvents();
    const float scale = platform->begin_frame(window);
    if (scale != app.ui_scale() || digitlab::app::take_fonts_changed()) {  // a new pixel ratio, or language
      app.set_ui_scale(scale);
      ImGui_ImplOpenGL3_DestroyFontsTexture();
      ImGui_ImplOpenGL3_CreateFontsTexture();
    }
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    platform->override_input();
    ImGui::NewFrame();
    app.frame();
    ImGui::Render();

    int width = 0, height = 0;
    glfwGetFramebufferSize(window, &width, &height);
    glViewport(0, 0, width, height);
    glClearColor(0.5f, 0.5f, 0.5f, 1.f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
    platform->end_frame(window, app);
    glfwSwapBuffers(window);
    return !glfwWindowShouldClose(window) && platform->keep_running();
  });

  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return platform->exit_code();
}
