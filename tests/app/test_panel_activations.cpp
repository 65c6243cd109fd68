// The activations teaching panel headless: choose a function, drag the alpha slider, hover a plot, read
// softmax. Its maths is tested without ImGui in test_activations_maths.cpp.
// Read next: wasm/teaching/panel_activations.cpp.
#include <catch2/catch.hpp>

#include "app_harness.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

TEST_CASE("activations panel: choose leaky ReLU, drag alpha, read softmax", "[panel][activations][ui]") {
  StartedApp started({entry("main", true)}, "?panels=activations");
  Headless& imgui = started.imgui;
  App& app = started.app;
  app.weights_arrived(0, tiny_weights(5));
  imgui.frame(app);
  json panel = state_of(app)["panel_state"]["activations"];
  INFO(panel.dump());
  CHECK(panel["function"] == "sigmoid");
  CHECK(panel["probability_sum"].get<double>() == Approx(1.0));
  CHECK(panel["inputs"].size() == 6);
  REQUIRE(panel["controls"].contains("leaky_relu"));

  const json button = panel["controls"]["leaky_relu"];
  imgui.click(app, button["x"].get<float>() + 5.f, button["y"].get<float>() + button["height"].get<float>() * 0.5f);
  panel = state_of(app)["panel_state"]["activations"];
  CHECK(panel["function"] == "leaky_relu");
  REQUIRE(panel["controls"].contains("alpha"));
  const json slider = panel["controls"]["alpha"];
  const float y = slider["y"].get<float>() + slider["height"].get<float>() * 0.5f;
  const double before = panel["alpha"].get<double>();
  imgui.mouse = ImVec2(slider["x"].get<float>() + 10.f, y);
  imgui.frame(app);
  imgui.mouse_down = true;
  imgui.frame(app);
  imgui.mouse = ImVec2(slider["x"].get<float>() + slider["width"].get<float>() * 0.8f, y);
  imgui.frame(app);
  imgui.mouse_down = false;
  imgui.frame(app);
  panel = state_of(app)["panel_state"]["activations"];
  CHECK(panel["alpha"].get<double>() > before + 0.3);

  // Hovering a plot gives the readout.
  imgui.mouse = ImVec2(300.f, 500.f);
  imgui.frame(app);
  panel = state_of(app)["panel_state"]["activations"];
  REQUIRE(panel.contains("readout"));
  const double x = panel["readout"]["x"].get<double>();
  CHECK(panel["readout"]["f"].get<double>() == Approx(x > 0 ? x : panel["alpha"].get<double>() * x));

  const json softmax_button = panel["controls"]["softmax"];
  imgui.click(app, softmax_button["x"].get<float>() + 5.f,
        softmax_button["y"].get<float>() + softmax_button["height"].get<float>() * 0.5f);
  panel = state_of(app)["panel_state"]["activations"];
  CHECK(panel["function"] == "softmax");
  CHECK(panel["controls"].contains("temperature"));
  double sum = 0;
  for (const auto& p : panel["probabilities"]) sum += p.get<double>();
  CHECK(sum == Approx(1.0));
}
