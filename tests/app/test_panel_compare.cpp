// The "compare" panel headless: with the shipped manifest, only the model in use is loaded at first; the
// "Load all models" button fetches the others without switching; a drawn 7 then gets one row per loaded
// model, the MNIST ones saying 7, the Fashion ones a garment. Read next: wasm/teaching/panel_compare.cpp.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/app.hpp"
#include "app_harness.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

namespace {

std::vector<std::uint8_t> read_weights(const std::string& file) {
  const std::string path = std::string(DIGITLAB_SOURCE_DIR) + "/weights/" + file;
  std::ifstream in(path, std::ios::binary);
  INFO("reading " << path);
  REQUIRE(in);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// weights/manifest.json's models as catalog entries (the page's manifest reader does the same).
std::vector<ModelEntry> shipped_entries() {
  std::ifstream in(std::string(DIGITLAB_SOURCE_DIR) + "/weights/manifest.json");
  const json manifest = json::parse(in, nullptr, false);
  REQUIRE_FALSE(manifest.is_discarded());
  std::vector<ModelEntry> entries;
  for (const json& model : manifest["models"]) {
    ModelEntry e;
    e.name = model["name"];
    e.file = model["file"];
    e.dataset = model["dataset"];
    e.architecture = model["architecture"];
    e.dtype = model["dtype"];
    e.bytes = model["bytes"];
    e.is_default = model.value("default", false);
    entries.push_back(e);
  }
  return entries;
}

// A click on a point in display units: pressed in one frame, released in the next.
void click(Headless& imgui, App& app, float x, float y) {
  imgui.mouse = ImVec2(x, y);
  imgui.mouse_down = true;
  imgui.frame(app);
  imgui.mouse_down = false;
  imgui.frame(app);
  imgui.mouse = ImVec2(-FLT_MAX, -FLT_MAX);
}

void draw_seven(App& app) {
  const Rect area = app.drawing_rect();
  REQUIRE(area.width > 0.f);
  auto x = [&](float u) { return area.x + u * area.width; };
  auto y = [&](float v) { return area.y + v * area.height; };
  app.pointer_down(x(0.27f), y(0.2f));
  app.pointer_move(x(0.72f), y(0.2f));
  app.pointer_up(x(0.44f), y(0.84f));
}

}  // namespace

TEST_CASE("compare panel: one row per loaded model; the button loads the rest without switching",
          "[app][ui][compare]") {
  Headless imgui;
  FakeServices services;
  App app(services);
  const std::vector<ModelEntry> entries = shipped_entries();
  REQUIRE(entries.size() >= 4);
  std::uint64_t total_bytes = 0;
  for (const ModelEntry& e : entries) app.catalog().add(e), total_bytes += e.bytes;
  app.set_ui_scale(1.f);
  app.start("?panels=draw,compare");
  REQUIRE(services.fetches.size() == 1);  // only the model in use
  const int active = services.fetches[0].first;
  app.weights_arrived(active, read_weights(services.fetches[0].second));
  imgui.frame(app);
  imgui.frame(app);

  json state = state_of(app)["panel_state"]["compare"];
  INFO(state.dump());
  CHECK(state["loaded"] == 1);
  CHECK(state["rows"].size() == 1);
  CHECK(state["empty"] == true);
  CHECK(state["requested"] == false);
  CHECK(state["bytes_to_load"].get<std::uint64_t>() == total_bytes - entries[std::size_t(active)].bytes);
  REQUIRE(state["load_button"].is_object());
  CHECK(services.fetches.size() == 1);  // nothing more is fetched until the button is pressed

  const json button = state["load_button"];
  click(imgui, app, button["x"].get<float>() + button["width"].get<float>() / 2,
        button["y"].get<float>() + button["height"].get<float>() / 2);
  REQUIRE(services.fetches.size() == entries.size());
  state = state_of(app)["panel_state"]["compare"];
  CHECK(state["requested"] == true);
  CHECK(state["loading"] == int(entries.size()) - 1);
  for (std::size_t i = 1; i < services.fetches.size(); ++i)
    app.weights_arrived(services.fetches[i].first, read_weights(services.fetches[i].second));
  CHECK(state_of(app)["model"] == entries[std::size_t(active)].name);  // still the model in use

  imgui.frame(app);
  draw_seven(app);
  imgui.frame(app);  // the rows start over for the new drawing; the forward passes may take a few frames
  for (int i = 0; i < 10 && state_of(app)["panel_state"]["compare"]["pending"] != 0; ++i) imgui.frame(app);
  state = state_of(app)["panel_state"]["compare"];
  INFO(state.dump());
  CHECK(state["empty"] == false);
  CHECK(state["pending"] == 0);
  CHECK(state["loaded"] == int(entries.size()));
  CHECK(state["loading"] == 0);
  CHECK(state["load_button"].is_null());
  REQUIRE(state["rows"].size() == entries.size());
  int mnist = 0, fashion = 0;
  for (const json& row : state["rows"]) {
    CHECK(row["probability"].get<double>() > 0.0);
    CHECK(row["ms"].get<double>() > 0.0);
    CHECK(row["error"] == "");
    if (row["dataset"] == "mnist") {
      ++mnist;
      CHECK(row["class"] == "7");
      CHECK(row["agrees"] == true);
    } else if (row["dataset"] == "fashion-mnist") {
      ++fashion;
      CHECK(row["class"].get<std::string>().size() > 1);  // a garment's name, not a digit
    }
  }
  CHECK(mnist >= 2);
  CHECK(fashion >= 1);
  REQUIRE(state["summary"].size() == 2);
  CHECK(state["summary"][0].get<std::string>().find("agree: 7") != std::string::npos);
  CHECK(state_of(app)["model"] == entries[std::size_t(active)].name);

  // Clearing the drawing keeps the rows (the models stay loaded) without answers.
  app.clear();
  imgui.frame(app);
  state = state_of(app)["panel_state"]["compare"];
  CHECK(state["empty"] == true);
  CHECK(state["rows"].size() == entries.size());
  CHECK(state["rows"][0]["label"] == -1);
}
