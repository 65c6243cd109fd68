// The "saliency" panel headless in the app: its state for a drawn line (the maps, the nudge and the change
// the two images in the state show), a model switch, a blank drawing, and a model it cannot explain. Its maths
// on the shipped models: test_saliency.cpp. Read next: wasm/teaching/panel_saliency.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include "app_harness.hpp"
#include "digitlab/weights.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

namespace {

json saliency_state(App& app) {
  const json state = state_of(app);
  REQUIRE(state["panel_state"].contains("saliency"));
  return state["panel_state"]["saliency"];
}

// Frames until the panel has finished occlusion and the nudge (it asks for frames while busy).
json run_to_end(Headless& imgui, App& app) {
  json panel;
  for (int i = 0; i < 2000; ++i) {
    imgui.frame(app);
    panel = saliency_state(app);
    if (panel.contains("nudge") && panel["nudge"]["finished"] == true && panel["occlusion"]["finished"] == true) break;
  }
  return panel;
}

}  // namespace

TEST_CASE("saliency panel: a drawn line, its maps, the nudge, a model switch", "[panel][saliency][ui]") {
  StartedApp started({entry("main", true), entry("other")}, "?panels=draw,saliency");
  Headless& imgui = started.imgui;
  App& app = started.app;
  app.weights_arrived(0, tiny_weights(12));
  imgui.frame(app);
  json panel = saliency_state(app);
  CHECK(panel["model"] == "main");
  CHECK(panel["has_drawing"] == false);
  CHECK_FALSE(panel.contains("nudge"));

  draw_line(app);
  panel = run_to_end(imgui, app);
  INFO(panel.dump().substr(0, 2000));
  const json state = state_of(app);
  CHECK(panel["error"].is_null());
  CHECK(panel["label"] == state["prediction"]);
  CHECK(panel["saliency"]["of"] == "logit");
  CHECK(panel["saliency"]["largest"].get<double>() > 0.0);
  const json& occlusion = panel["occlusion"];
  CHECK(occlusion["done"] == occlusion["positions"]);
  CHECK(occlusion["background_positions"].get<int>() > 0);
  CHECK(occlusion["background_largest_change"].get<double>() == 0.0);
  const json& nudge = panel["nudge"];
  REQUIRE(nudge["changed"] == true);
  CHECK(nudge["label"] != panel["label"]);
  // L-inf from the two images in the state (levels rounded to whole numbers: within 1).
  int linf = 0;
  for (std::size_t i = 0; i < 784; ++i)
    linf = std::max(linf, std::abs(nudge["nudged"][i].get<int>() - nudge["original"][i].get<int>()));
  CHECK(std::fabs(double(linf) - nudge["linf_255"].get<double>()) <= 1.0);
  CHECK(nudge["linf_255"].get<double>() > 0.0);
  started.services.now += 10.0;  // past the app's own settling time
  CHECK_FALSE(app.busy());        // done: the page may go idle

  // The 4x4 patch, chosen in its combo: occlusion again, 169 placements; the nudge is kept.
  const json nudge_before = panel["nudge"];
  imgui.click_center(app, panel["controls"]["patch"]);
  imgui.frame(app);  // the popup is placed in the frame after it appears
  panel = saliency_state(app);
  INFO(panel["controls"].dump());
  REQUIRE(panel["controls"]["patch_options"].size() == 2);
  imgui.click_center(app, panel["controls"]["patch_options"][0]);
  panel = run_to_end(imgui, app);
  CHECK(panel["occlusion"]["patch"] == 4);
  CHECK(panel["occlusion"]["positions"] == 13 * 13);
  CHECK(panel["occlusion"]["finished"] == true);
  CHECK(panel["occlusion"]["background_largest_change"].get<double>() == 0.0);
  CHECK(panel["nudge"]["nudged"] == nudge_before["nudged"]);

  // Another model: everything is computed again for it.
  const std::int64_t updates = panel["updates"].get<std::int64_t>();
  std::string why;
  app.weights_arrived(1, tiny_weights(13));
  REQUIRE(app.select_model("other", &why));
  panel = run_to_end(imgui, app);
  CHECK(panel["model"] == "other");
  CHECK(panel["updates"].get<std::int64_t>() > updates);
  CHECK(panel["label"] == state_of(app)["prediction"]);
  CHECK(panel["nudge"]["finished"] == true);

  // A blank drawing: nothing to explain, and nothing running.
  app.clear();
  imgui.frame(app);
  panel = saliency_state(app);
  CHECK(panel["has_drawing"] == false);
  CHECK_FALSE(panel.contains("nudge"));
  started.services.now += 10.0;
  CHECK_FALSE(app.busy());
}

TEST_CASE("saliency panel: a model that does not read 28x28 gets a sentence, not a crash", "[panel][saliency][ui]") {
  Model small;
  small.card = make_mnist_card("tiny-14");
  small.card.input_height = small.card.input_width = 14;
  small.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(196, 10)};
  randomize_parameters(small, 3);
  auto bytes = write_weights(small);
  REQUIRE(bytes);
  StartedApp started({entry("small", true)}, "?panels=draw,saliency");
  Headless& imgui = started.imgui;
  App& app = started.app;
  app.weights_arrived(0, bytes.value());
  imgui.frame(app);
  draw_line(app);
  for (int i = 0; i < 3; ++i) imgui.frame(app);
  const json panel = saliency_state(app);
  INFO(panel.dump());
  CHECK(panel["model"] == "small");
  REQUIRE(panel["error"].is_string());
  CHECK(panel["error"].get<std::string>().find("1x14x14") != std::string::npos);
  started.services.now += 10.0;
  CHECK_FALSE(app.busy());
}
