// The app without a browser or a GPU, for the app's tests: fake platform services (fetches recorded,
// answered by the test), headless ImGui frames, the state as JSON, a drawn line; tiny_model.hpp's model.
// Read next: test_app.cpp (how they are used), wasm/app/app.hpp.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "app/app.hpp"
#include "imgui.h"
#include "tiny_model.hpp"

namespace digitlab::app::testing {

using nlohmann::json;

struct FakeServices : AppServices {
  std::vector<std::pair<int, std::string>> fetches;
  int changes = 0;
  double now = 100.0;
  void fetch_weights(int index, const ModelEntry& entry) override { fetches.emplace_back(index, entry.file); }
  std::vector<std::string> asset_fetches;
  void fetch_asset(const std::string& path) override { asset_fetches.push_back(path); }
  std::vector<std::string> teaching_builds;  // queries handed to open_teaching_build (demo build only)
  void open_teaching_build(const std::string& query) override { teaching_builds.push_back(query); }
  const char* open_files_hint() const override { return "drop a file"; }
  void state_changed() override { ++changes; }
  double now_seconds() const override { return now; }
  // What the download buttons saved: file name and bytes, in order. save_refused: as a platform that cannot.
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> saved;
  bool save_refused = false;
  bool save_file(const std::string& file_name, ByteSpan bytes) override {
    if (save_refused) return false;
    saved.emplace_back(file_name, std::vector<std::uint8_t>(bytes.data, bytes.data + bytes.size));
    return true;
  }
};

// ImGui with no window and no GPU: enough for App::frame() to lay out and predict.
struct Headless {
  Headless() {
    ImGui::CreateContext();
    ImGui::GetIO().IniFilename = nullptr;
    ImGui::GetIO().DisplaySize = ImVec2(1100, 720);
  }
  ~Headless() { ImGui::DestroyContext(); }
  // The mouse as ImGui sees it (the platform feeds the app's pointer events separately).
  ImVec2 mouse = ImVec2(-FLT_MAX, -FLT_MAX);
  bool mouse_down = false;
  void frame(App& app) {
    ImGuiIO& io = ImGui::GetIO();
    io.MousePos = mouse;
    io.MouseDown[0] = mouse_down;
    unsigned char* pixels = nullptr;
    int width = 0, height = 0;
    io.Fonts->GetTexDataAsRGBA32(&pixels, &width, &height);
    io.DeltaTime = 1.f / 60.f;
    ImGui::NewFrame();
    app.frame();
    ImGui::Render();
  }
  // A left click at (x, y) in display units: move there, press, release, one frame each.
  void click(App& app, float x, float y) {
    mouse = ImVec2(x, y);
    frame(app);
    mouse_down = true;
    frame(app);
    mouse_down = false;
    frame(app);
  }
  // A click in the middle of a rectangle a panel reports: {"x", "y", "width", "height"}.
  void click_center(App& app, const json& rect) {
    REQUIRE(rect["width"].get<float>() > 0.f);
    click(app, rect["x"].get<float>() + rect["width"].get<float>() * 0.5f,
          rect["y"].get<float>() + rect["height"].get<float>() * 0.5f);
  }
};

inline ModelEntry entry(const std::string& name, bool is_default = false) {
  ModelEntry e;
  e.name = name;
  e.file = name + ".dlw";
  e.is_default = is_default;
  return e;
}

// What most app tests arrange: ImGui without a renderer, the fake services, and an App at UI scale 1
// with these catalog entries, started with `url` (the page's query string). Tests take references to
// the parts they use (`App& app = started.app;`).
struct StartedApp {
  Headless imgui;
  FakeServices services;
  App app{services};
  StartedApp(const std::vector<ModelEntry>& entries, const std::string& url) {
    for (const ModelEntry& e : entries) app.catalog().add(e);
    app.set_ui_scale(1.f);
    app.start(url);
  }
};

inline json state_of(const App& app) {
  const std::string text = app.state_json();
  json state = json::parse(text, nullptr, false);
  INFO(text);
  REQUIRE_FALSE(state.is_discarded());
  return state;
}

// Draws a vertical stroke through the middle of the drawing area, in display coordinates.
inline void draw_line(App& app) {
  const Rect area = app.drawing_rect();
  REQUIRE(area.width > 0.f);
  app.pointer_down(area.x + area.width * 0.5f, area.y + area.height * 0.2f);
  app.pointer_move(area.x + area.width * 0.5f, area.y + area.height * 0.5f);
  app.pointer_up(area.x + area.width * 0.5f, area.y + area.height * 0.8f);
}

}  // namespace digitlab::app::testing
