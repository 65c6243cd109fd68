// The preprocessing teaching panel headless: the steps for a drawn line, the "skip centring" toggle. The
// steps themselves are tested without ImGui in test_preprocess_steps.cpp.
// Read next: wasm/teaching/panel_preprocess.cpp.
#include <catch2/catch.hpp>

#include "app_harness.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

TEST_CASE("preprocess panel: steps for a drawn line, the skip-centring toggle", "[panel][preprocess][ui]") {
  StartedApp started({entry("main", true)}, "?panels=draw,preprocess");
  Headless& imgui = started.imgui;
  App& app = started.app;
  app.weights_arrived(0, tiny_weights(12));
  imgui.frame(app);
  json panel = state_of(app)["panel_state"]["preprocess"];
  CHECK(panel["steps"].empty());
  draw_line(app);
  imgui.frame(app);
  panel = state_of(app)["panel_state"]["preprocess"];
  INFO(panel.dump());
  REQUIRE(panel["steps"].size() == 4);
  for (const auto& step : panel["steps"]) {
    CHECK((step["label"].get<int>() >= 0 && step["label"].get<int>() <= 9));
    CHECK(step["ink"].get<double>() > 1.0);
  }
  CHECK(panel["final"]["centred"] == true);
  CHECK(panel["final"]["label"] == state_of(app)["prediction"]);

  const json toggle = panel["toggle"];
  imgui.mouse = ImVec2(toggle["x"].get<float>() + 6.f, toggle["y"].get<float>() + toggle["height"].get<float>() * 0.5f);
  imgui.frame(app);
  imgui.mouse_down = true;
  imgui.frame(app);
  imgui.mouse_down = false;
  imgui.frame(app);
  panel = state_of(app)["panel_state"]["preprocess"];
  CHECK(panel["skip_centring"] == true);
  CHECK(panel["final"]["centred"] == false);
  CHECK(panel["final"]["label"] == panel["steps"][2]["label"]);
}
