// The browser under the app: the canvas sized to its CSS box times devicePixelRatio (sharp on HiDPI),
// touch through Emscripten's HTML5 callbacks, and the bridge to web/page.js -- the C functions the page
// calls and the page hooks (Module.digitlabPage) the app calls. Read next: web/page.js.
#include <emscripten.h>
#include <emscripten/html5.h>

#include <GLFW/glfw3.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "app/fonts.hpp"
#include "imgui.h"
#include "platform/platform.hpp"

namespace digitlab::app {

// ---- the page hooks the app calls (defined in web/page.js) --------------------------------------------

EM_JS(void, page_fetch_weights, (int index, const char* file, const char* sha256), {
  Module.digitlabPage.fetchWeights(index, UTF8ToString(file), UTF8ToString(sha256));
});
EM_JS(void, page_fetch_asset, (const char* path), { Module.digitlabPage.fetchAsset(UTF8ToString(path)); });
EM_JS(void, page_open_teaching_build, (const char* query), { Module.digitlabPage.openTeachingBuild(UTF8ToString(query)); });
EM_JS(void, page_open_file_picker, (), { Module.digitlabPage.openFilePicker(); });
EM_JS(void, page_copy_link, (const char* query), { Module.digitlabPage.copyLink(UTF8ToString(query)); });
EM_JS(void, page_save_file, (const char* name, const std::uint8_t* data, int size), {
  Module.digitlabPage.saveFile(UTF8ToString(name), HEAPU8.slice(data, data + size));
});
EM_JS(void, page_state_changed, (), { Module.digitlabPage.stateChanged(); });
EM_JS(void, page_fatal, (const char* message), { Module.digitlabPage.fatal(UTF8ToString(message)); });

// Emscripten's GLFW turns a touch into a press of mouse button 0 at the last mouse position (touches carry no
// `button` and do not move its cursor), which would start a stray stroke. Touch is handled below instead.
EM_JS(void, remove_glfw_touch_listeners, (), {
  var canvas = Module['canvas'];
  canvas.removeEventListener('touchmove', GLFW.onMousemove, true);
  canvas.removeEventListener('touchstart', GLFW.onMouseButtonDown, true);
  canvas.removeEventListener('touchcancel', GLFW.onMouseButtonUp, true);
  canvas.removeEventListener('touchend', GLFW.onMouseButtonUp, true);
});

// Emscripten's GLFW swallows every wheel event over the canvas. Embedded in a course page that would trap
// the reader's scrolling on the iframe, so with embed=1 the wheel is left to the page (the panels are
// laid out to fit; only the model list may then need its scrollbar dragged).
EM_JS(void, release_wheel_to_page, (), {
  var canvas = Module['canvas'];
  canvas.removeEventListener('wheel', GLFW.onMouseWheel, true);
  canvas.removeEventListener('mousewheel', GLFW.onMouseWheel, true);
});

// What Emscripten's glfwSetWindowSize does, less its one surprise: a size equal to the screen's (a kiosk, a
// browser in fullscreen mode, headless Chromium) makes it call requestFullscreen(), which the browser
// refuses outside a user gesture (two console errors and an uncaught TypeError on every load). The app
// installs no window size callback, so there is none to call.
EM_JS(void, resize_canvas, (int width, int height), {
  var win = GLFW.active;
  if (!win) return;
  Browser.setCanvasSize(width, height);
  win.width = width;
  win.height = height;
});

// Whether the app runs in an iframe (a lesson page around it that a finger may want to scroll).
EM_JS(int, page_is_framed, (), { return window.parent !== window ? 1 : 0; });

namespace {

App* the_app = nullptr;  // the page's calls below reach the app through this

// The first finger draws; ImGui sees it as the mouse (its GLFW backend gets no touch in browsers).
struct TouchState {
  int id = -1;               // the tracked touch's identifier, -1 when none
  float x = 0, y = 0;        // display units
  bool press_pending = false, release_pending = false;
};

class WebPlatform final : public Platform {
 public:
  bool start(App& app, GLFWwindow*, int, char**) override {
    the_app = &app;
    remove_glfw_touch_listeners();
    framed_ = page_is_framed() != 0;
    emscripten_set_touchstart_callback("#canvas", this, true, on_touch);
    emscripten_set_touchmove_callback("#canvas", this, true, on_touch);
    emscripten_set_touchend_callback("#canvas", this, true, on_touch);
    emscripten_set_touchcancel_callback("#canvas", this, true, on_touch);
    // The page adds the manifest's models and calls digitlab_start() with the URL's query.
    return true;
  }

  float begin_frame(GLFWwindow* window) override {
    double css_width = 0, css_height = 0;
    emscripten_get_element_css_size("#canvas", &css_width, &css_height);
    const double ratio = std::max(0.5, emscripten_get_device_pixel_ratio());
    const int width = std::max(1, int(std::lround(css_width * ratio)));
    const int height = std::max(1, int(std::lround(css_height * ratio)));
    int current_width = 0, current_height = 0;
    glfwGetWindowSize(window, &current_width, &current_height);
    if (width != current_width || height != current_height) resize_canvas(width, height);
    css_to_display_ = css_width > 0 ? float(width / css_width) : 1.f;
    return float(ratio);
  }

  void override_input() override {
    ImGuiIO& io = ImGui::GetIO();
    if (touch_.press_pending) {
      io.MousePos = ImVec2(touch_.x, touch_.y);
      io.MouseDown[0] = true;
      touch_.press_pending = false;
    } else if (touch_.id >= 0) {
      io.MousePos = ImVec2(touch_.x, touch_.y);
      io.MouseDown[0] = true;
    } else if (touch_.release_pending) {
      io.MousePos = ImVec2(touch_.x, touch_.y);
      io.MouseDown[0] = false;
      touch_.release_pending = false;
    }
  }

  void fetch_weights(int index, const ModelEntry& entry) override {
    page_fetch_weights(index, entry.file.c_str(), entry.sha256.c_str());
  }
  void fetch_asset(const std::string& path) override { page_fetch_asset(path.c_str()); }
  void open_teaching_build(const std::string& query) override { page_open_teaching_build(query.c_str()); }
  bool can_open_files() const override { return true; }
  void open_file_picker() override { page_open_file_picker(); }
  const char* open_files_hint() const override {
    return "You can also drop a weights file (.dlw) anywhere on the page.";
  }
  void state_changed() override { page_state_changed(); }
  double now_seconds() const override { return emscripten_get_now() / 1000.0; }
  void copy_link(const std::string& query) override { page_copy_link(query.c_str()); }
  bool save_file(const std::string& file_name, ByteSpan bytes) override {
    page_save_file(file_name.c_str(), bytes.data, int(bytes.size));
    return true;
  }

 private:
  // A finger that lands on the drawing area draws: its events are taken (preventDefault), so the page
  // neither scrolls nor zooms under the pen, and no emulated mouse events follow. In an iframe, a finger
  // that lands anywhere else is left to the browser (the canvas's touch-action lets it pan): a swipe over
  // the other panels scrolls the lesson page around the app, and a tap becomes the browser's emulated mouse
  // events, which ImGui gets through GLFW like a click -- once, since the touch itself is not passed on.
  // On its own page (which fits the window: nothing to scroll) the app takes every touch, so that a finger
  // also drags the Pen slider and the panels' scrollbars.
  static EM_BOOL on_touch(int type, const EmscriptenTouchEvent* event, void* user) {
    auto* self = static_cast<WebPlatform*>(user);
    TouchState& touch = self->touch_;
    bool taken = touch.id >= 0;  // while a finger draws, the others neither scroll nor zoom
    for (int i = 0; i < event->numTouches; ++i) {
      const EmscriptenTouchPoint& point = event->touches[i];
      if (!point.isChanged) continue;
      const float x = float(point.targetX) * self->css_to_display_;
      const float y = float(point.targetY) * self->css_to_display_;
      if (type == EMSCRIPTEN_EVENT_TOUCHSTART && touch.id < 0) {
        if (!the_app || (self->framed_ && !the_app->drawing_rect().contains(x, y))) continue;
        touch = {int(point.identifier), x, y, true, false};
        taken = true;
        the_app->pointer_down(x, y);
      } else if (int(point.identifier) == touch.id) {
        touch.x = x;
        touch.y = y;
        if (type == EMSCRIPTEN_EVENT_TOUCHMOVE) {
          if (the_app) the_app->pointer_move(x, y);
        } else if (type == EMSCRIPTEN_EVENT_TOUCHEND || type == EMSCRIPTEN_EVENT_TOUCHCANCEL) {
          if (the_app) the_app->pointer_up(x, y);
          touch.id = -1;
          touch.release_pending = true;
        }
      }
    }
    if (taken) request_frames();
    return taken ? EM_TRUE : EM_FALSE;
  }

  TouchState touch_;
  bool framed_ = false;  // in an iframe: touches outside the drawing area are left to the browser
  float css_to_display_ = 1.f;
};

// Strings handed back to the page stay valid until the next call of the same function.
const char* keep(std::string& slot, std::string text) {
  slot = std::move(text);
  return slot.c_str();
}

}  // namespace

std::unique_ptr<Platform> make_platform() { return std::make_unique<WebPlatform>(); }

void report_fatal(const char* message) { page_fatal(message); }

}  // namespace digitlab::app

// ---- the calls web/page.js makes (docs/embedding.md describes the JavaScript API built on them) --------

using digitlab::app::keep;
using digitlab::app::the_app;

extern "C" {

EMSCRIPTEN_KEEPALIVE void digitlab_add_model(const char* name, const char* file, const char* architecture,
                                             const char* dataset, const char* dtype, double test_accuracy,
                                             double bytes, const char* sha256, int is_default, const char* record) {
  digitlab::app::request_frames();
  if (!the_app) return;
  digitlab::app::ModelEntry entry;
  entry.name = name;
  entry.file = file;
  entry.architecture = architecture;
  entry.dataset = dataset;
  entry.dtype = dtype;
  entry.test_accuracy = float(test_accuracy);
  entry.bytes = bytes > 0 ? std::uint64_t(bytes) : 0;
  entry.sha256 = sha256;
  entry.is_default = is_default != 0;
  entry.record = record;
  the_app->catalog().add(std::move(entry));
}

EMSCRIPTEN_KEEPALIVE void digitlab_add_sweep(const char* name, const char* file, const char* about) {
  digitlab::app::request_frames();
  if (the_app) the_app->catalog().add_sweep({name, file, about});
}

EMSCRIPTEN_KEEPALIVE void digitlab_start(const char* url_query) {
  digitlab::app::request_frames();
  if (!the_app) return;
  the_app->start(url_query);
  if (the_app->options().embed) digitlab::app::release_wheel_to_page();
}

EMSCRIPTEN_KEEPALIVE void digitlab_weights_arrived(int index, const std::uint8_t* data, int size) {
  digitlab::app::request_frames();
  if (the_app) the_app->weights_arrived(index, digitlab::ByteSpan(data, std::size_t(std::max(size, 0))));
}

EMSCRIPTEN_KEEPALIVE void digitlab_asset_arrived(const char* path, const std::uint8_t* data, int size) {
  digitlab::app::request_frames();
  if (the_app) the_app->asset_arrived(path, digitlab::ByteSpan(data, std::size_t(std::max(size, 0))));
}

EMSCRIPTEN_KEEPALIVE void digitlab_asset_failed(const char* path, const char* why) {
  digitlab::app::request_frames();
  if (the_app) the_app->asset_failed(path, why);
}

// panels: comma-separated names (as the URL's panels=); "" when shown, else why not.
EMSCRIPTEN_KEEPALIVE const char* digitlab_show_panels(const char* names) {
  digitlab::app::request_frames();
  static std::string result;
  if (!the_app) return keep(result, "the app has not started");
  std::vector<digitlab::app::PanelId> ids;
  std::string unknown, text = names, name;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != ',') {
      if (text[i] != ' ') name += text[i];
      continue;
    }
    if (name.empty()) continue;
    if (const digitlab::app::PanelInfo* panel = digitlab::app::find_panel(name))
      ids.push_back(panel->id);
    else
      unknown += (unknown.empty() ? "" : ", ") + name.substr(0, 40);
    name.clear();
  }
  if (!unknown.empty()) return keep(result, "no panel named " + unknown);
  if (ids.empty()) return keep(result, "name at least one panel");
  the_app->set_panels(ids);
  return keep(result, "");
}

EMSCRIPTEN_KEEPALIVE void digitlab_weights_failed(int index, const char* why) {
  digitlab::app::request_frames();
  if (the_app) the_app->weights_failed(index, why);
}

// "" when the file loaded, else the loader's Error::to_string().
EMSCRIPTEN_KEEPALIVE const char* digitlab_open_user_file(const char* name, const std::uint8_t* data, int size) {
  digitlab::app::request_frames();
  static std::string result;
  if (!the_app) return keep(result, "the app has not started");
  digitlab::Status status = the_app->open_user_file(name, digitlab::ByteSpan(data, std::size_t(std::max(size, 0))));
  return keep(result, status ? std::string() : status.error().to_string());
}

// The page's PyTorch importer refused a file (web/page.js): shown as a rejected file; the model stays.
EMSCRIPTEN_KEEPALIVE void digitlab_user_file_failed(const char* name, const char* error_text) {
  if (the_app) the_app->user_file_failed(name, error_text);
}

EMSCRIPTEN_KEEPALIVE const char* digitlab_model_input_json() {
  static std::string result;
  return keep(result, the_app ? the_app->model_input_json() : std::string("null"));
}

// "" when the model exists (it may still be loading), else why not.
EMSCRIPTEN_KEEPALIVE const char* digitlab_select_model(const char* name) {
  digitlab::app::request_frames();
  static std::string result;
  std::string why;
  if (!the_app) return keep(result, "the app has not started");
  return keep(result, the_app->select_model(name, &why) ? std::string() : why);
}

EMSCRIPTEN_KEEPALIVE const char* digitlab_state_json() {
  static std::string result;
  return keep(result, the_app ? the_app->state_json() : std::string("{\"ready\":false}"));
}

// The query that reopens this view (App::share_query); the page's shareUrl() puts its own address in front.
EMSCRIPTEN_KEEPALIVE const char* digitlab_share_query() {
  static std::string result;
  return keep(result, the_app ? the_app->share_query() : std::string());
}

// The largest weights file the app opens (kMaxWeightsBytes, the one statement of the limit): page.js asks
// for it to refuse a bigger file before copying it into the app's memory.
EMSCRIPTEN_KEEPALIVE double digitlab_max_weights_bytes() { return double(digitlab::app::kMaxWeightsBytes); }

EMSCRIPTEN_KEEPALIVE void digitlab_clear() {
  digitlab::app::request_frames();
  if (the_app) the_app->clear();
}

EMSCRIPTEN_KEEPALIVE void digitlab_undo() {
  digitlab::app::request_frames();
  if (the_app) the_app->undo();
}

// The page saw the canvas resized (a ResizeObserver): the next frame fits the framebuffer to it.
EMSCRIPTEN_KEEPALIVE void digitlab_wake() { digitlab::app::request_frames(); }

// The page says whether the canvas can be seen (tab visibility, an iframe scrolled out of view): while it
// cannot, no frames are drawn, busy or not.
EMSCRIPTEN_KEEPALIVE void digitlab_set_visible(int visible) { digitlab::app::set_visible(visible != 0); }

// The shown language's table (lang/<code>.txt) and font subset (lang/<code>.otf), fetched by the page before
// it starts the app (wasm/i18n/README.md); "" when both are taken, else why not (the app stays English).
EMSCRIPTEN_KEEPALIVE const char* digitlab_set_language(const std::uint8_t* table, int table_size,
                                                      const std::uint8_t* font, int font_size) {
  digitlab::app::request_frames();
  static std::string result;
  std::string error;
  if (table_size <= 0 || font_size <= 0) return keep(result, "the language's table or font is empty");
  if (!digitlab::app::set_language(std::string(reinterpret_cast<const char*>(table), std::size_t(table_size)),
                                   std::vector<std::uint8_t>(font, font + font_size), error))
    return keep(result, error);
  digitlab::app::page_state_changed();
  return keep(result, "");
}

EMSCRIPTEN_KEEPALIVE void digitlab_add_message(const char* text) {
  digitlab::app::request_frames();
  if (!the_app) return;
  the_app->add_message(text);
  digitlab::app::page_state_changed();
}

}  // extern "C"
