// The App as the browser and the desktop drive it, headless (ImGui without a renderer): start-up with
// URL parameters, model fetching and fallbacks, drawing to prediction, throttling while drawing, bad user
// files, and the state the page reports (parsed as JSON). Read next: wasm/app/app.hpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <nlohmann/json.hpp>

#include "app/app.hpp"
#include "app_harness.hpp"
#include "digitlab/architectures.hpp"
#include "imgui.h"

using namespace digitlab;
using namespace digitlab::app;
using nlohmann::json;

using namespace digitlab::app::testing;

TEST_CASE("start-up: bad URL parameters become messages, the default model is fetched", "[app][ui]") {
  StartedApp started({entry("first"), entry("main", true)}, "?model=missing&panels=draw,nope&embed=1");
  FakeServices& services = started.services;
  App& app = started.app;
  REQUIRE(services.fetches.size() == 1);
  CHECK(services.fetches[0] == std::make_pair(1, std::string("main.dlw")));
  json state = state_of(app);
  CHECK(state["ready"] == false);
  CHECK(state["loading"] == true);
  CHECK(state["model"].is_null());
  CHECK(state["embed"] == true);
  CHECK(state["panels"] == json::array({"draw"}));
  REQUIRE(state["messages"].size() == 2);
  CHECK(state["messages"].dump().find("no model named 'missing'") != std::string::npos);
  CHECK(state["messages"].dump().find("no panel 'nope'") != std::string::npos);
  CHECK(app.status_sentence() == "Loading the model.");

  app.weights_arrived(1, tiny_weights(1));
  state = state_of(app);
  CHECK(state["ready"] == true);
  CHECK(state["loading"] == false);
  CHECK(state["model"] == "main");
  CHECK(state["empty"] == true);
  CHECK(state["prediction"].is_null());
}

TEST_CASE("drawing gives a prediction; clearing gives the hint again", "[app][ui]") {
  StartedApp started({entry("main", true)}, "");
  Headless& imgui = started.imgui;
  App& app = started.app;
  app.weights_arrived(0, tiny_weights(2));
  imgui.frame(app);  // lays out the drawing area
  json state = state_of(app);
  CHECK(state["empty"] == true);
  CHECK(app.status_sentence() == "The drawing is empty: draw a digit.");
  const auto rect = state["drawing_rect"];
  REQUIRE(rect.is_object());  // {x, y, width, height}, like every rectangle the page reports
  CHECK(rect["width"].get<double>() > 100.0);
  CHECK(rect["height"].get<double>() == rect["width"].get<double>());

  // The drawing area stays put while the mouse is held on it (a scrollbar that came and went with the
  // press once moved it in the middle of strokes).
  imgui.mouse = ImVec2(rect["x"].get<float>() + 40.f, rect["y"].get<float>() + 40.f);
  imgui.mouse_down = true;
  for (int i = 0; i < 4; ++i) {
    imgui.frame(app);
    CHECK(state_of(app)["drawing_rect"] == rect);
  }
  imgui.mouse_down = false;
  draw_line(app);
  imgui.frame(app);
  state = state_of(app);
  INFO(state.dump());
  CHECK(state["empty"] == false);
  CHECK(state["up_to_date"] == true);
  CHECK(state["strokes"] == 1);
  REQUIRE(state["probabilities"].size() == 10);
  double sum = 0, top = 0;
  for (const auto& p : state["probabilities"]) sum += p.get<double>(), top = std::max(top, p.get<double>());
  CHECK(sum == Approx(1.0).epsilon(1e-4));
  const int label = state["prediction"].get<int>();
  CHECK((label >= 0 && label <= 9));
  CHECK(state["label"] == std::to_string(label));
  CHECK(state["top_probability"].get<double>() == Approx(top));
  CHECK(state["unsure"] == (top < kUnsureBelow));
  CHECK(app.status_sentence().rfind("Prediction: " + std::to_string(label), 0) == 0);

  app.clear();
  imgui.frame(app);
  state = state_of(app);
  CHECK(state["empty"] == true);
  CHECK(state["prediction"].is_null());
  CHECK(state["probabilities"].empty());
}

TEST_CASE("presses outside the drawing area draw nothing; the same stroke inside inks its path", "[app][ui]") {
  StartedApp started({entry("main", true)}, "");
  Headless& imgui = started.imgui;
  App& app = started.app;
  app.weights_arrived(0, tiny_weights(3));
  imgui.frame(app);
  const Rect area = app.drawing_rect();
  REQUIRE(area.width > 100.f);
  const float x = area.x + area.width * 0.5f, top = area.y + area.height * 0.2f;
  const float middle = area.y + area.height * 0.5f, bottom = area.y + area.height * 0.8f;
  // Pressed just right of the area, then dragged into it: no stroke starts.
  app.pointer_down(area.x + area.width + 5.f, top);
  app.pointer_move(x, middle);
  app.pointer_up(x, bottom);
  imgui.frame(app);
  CHECK(app.drawing().empty());
  CHECK(state_of(app)["strokes"] == 0);
  CHECK(state_of(app)["prediction"].is_null());

  // The same moves pressed inside: one stroke through the points the pointer gave, in drawing units, inked
  // along its path. (So the checks above hold because the press was outside, not because the pointer does
  // nothing.)
  app.pointer_down(x, top);
  app.pointer_move(x, middle);
  app.pointer_up(x, bottom);
  imgui.frame(app);
  REQUIRE(app.drawing().strokes().size() == 1);
  const std::vector<Point>& points = app.drawing().strokes()[0].points;
  REQUIRE(points.size() == 3);
  const float expected_y[] = {0.2f, 0.5f, 0.8f};
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("point " << i << ": (" << points[i].x << ", " << points[i].y << ")");
    CHECK(points[i].x == Approx(0.5f).margin(1e-4));
    CHECK(points[i].y == Approx(expected_y[i]).margin(1e-4));
  }
  const Canvas& canvas = app.drawing().canvas();
  const auto ink_at = [&](float u, float v) {  // u, v in drawing units
    const std::int64_t px = std::int64_t(u * float(canvas.width)), py = std::int64_t(v * float(canvas.height));
    return canvas.ink[std::size_t(py * canvas.width + px)];
  };
  CHECK(ink_at(0.5f, 0.5f) == Approx(1.f));  // on the stroke
  CHECK(ink_at(0.1f, 0.5f) == 0.f);          // far left of it
  const json state = state_of(app);
  CHECK(state["strokes"] == 1);
  CHECK(state["prediction"].is_number_integer());
}

TEST_CASE("while a stroke is drawn, predictions come at most every 50 ms", "[app][ui]") {
  StartedApp started({entry("main", true)}, "");
  Headless& imgui = started.imgui;
  FakeServices& services = started.services;
  App& app = started.app;
  app.weights_arrived(0, tiny_weights(4));
  imgui.frame(app);
  const Rect area = app.drawing_rect();
  const float x = area.x + area.width * 0.5f;
  services.now += 1.0;  // a while after the empty canvas was last looked at
  app.pointer_down(x, area.y + area.height * 0.2f);
  imgui.frame(app);
  const int first = state_of(app)["predictions"].get<int>();
  CHECK(first == 1);
  for (int i = 1; i <= 5; ++i) {  // five moves within 25 ms: no new prediction
    services.now += 0.005;
    app.pointer_move(x, area.y + area.height * (0.2f + 0.05f * float(i)));
    imgui.frame(app);
  }
  CHECK(state_of(app)["predictions"].get<int>() == first);
  CHECK(state_of(app)["up_to_date"] == false);
  services.now += 0.05;
  imgui.frame(app);
  CHECK(state_of(app)["predictions"].get<int>() == first + 1);
  app.pointer_move(x, area.y + area.height * 0.8f);
  app.pointer_up(x, area.y + area.height * 0.8f);
  imgui.frame(app);  // the pen lifted: predicted at once
  CHECK(state_of(app)["up_to_date"] == true);
  CHECK(state_of(app)["predictions"].get<int>() == first + 2);
}

TEST_CASE("a bad user file shows the loader's error and keeps the model", "[app][ui]") {
  StartedApp started({entry("main", true)}, "");
  Headless& imgui = started.imgui;
  App& app = started.app;
  app.weights_arrived(0, tiny_weights(5));
  const std::vector<std::uint8_t> junk(300, 0x42);
  Status status = app.open_user_file("junk.dlw", junk);
  REQUIRE_FALSE(status);
  json state = state_of(app);
  CHECK(state["model"] == "main");
  CHECK(state["error"] == status.error().to_string());
  CHECK(state["messages"].back().get<std::string>().rfind("junk.dlw was not loaded: " + status.error().to_string(), 0) == 0);
  imgui.frame(app);  // draws the banner and the model panel with the error

  REQUIRE(app.open_user_file("good.dlw", tiny_weights(6)));
  state = state_of(app);
  CHECK(state["model"] == "good.dlw");
  CHECK(state["error"].is_null());
  CHECK(state["models"] == json::array({"main", "good.dlw"}));
  std::string why;
  CHECK(app.select_model("main", &why));  // cached: switches back at once
  CHECK(state_of(app)["model"] == "main");
  CHECK_FALSE(app.select_model("absent", &why));
  CHECK(why.find("absent") != std::string::npos);
}

TEST_CASE("a model that fails to load falls back to the default", "[app][ui]") {
  StartedApp started({entry("main", true), entry("other")}, "model=other");
  Headless& imgui = started.imgui;
  FakeServices& services = started.services;
  App& app = started.app;
  REQUIRE(services.fetches.size() == 1);
  CHECK(services.fetches[0].first == 1);
  app.weights_arrived(1, std::vector<std::uint8_t>(100, 0));  // the file on the server is damaged
  REQUIRE(services.fetches.size() == 2);
  CHECK(services.fetches[1].first == 0);
  json state = state_of(app);
  CHECK(state["messages"].dump().find("Loading the default model, main, instead") != std::string::npos);
  CHECK(state["error"].get<std::string>().rfind("bad_magic at byte 0", 0) == 0);
  app.weights_failed(0, "weights/main.dlw: HTTP 404 Not Found");
  state = state_of(app);
  CHECK(state["ready"] == false);
  CHECK(state["loading"] == false);  // the page rejects digitlab.ready on this
  CHECK(state["messages"].dump().find("HTTP 404") != std::string::npos);
  imgui.frame(app);  // the prediction panel says nothing is loaded
}

TEST_CASE("an empty manifest says so and the app still runs", "[app][ui]") {
  Headless imgui;
  FakeServices services;
  App app(services);
  app.set_ui_scale(2.f);  // HiDPI: fonts and sizes doubled
  app.start("");
  CHECK(services.fetches.empty());
  json state = state_of(app);
  CHECK(state["messages"].dump().find("lists no models") != std::string::npos);
  imgui.frame(app);
  CHECK(app.ui_scale() == 2.f);
}

TEST_CASE("every panel can be shown alone: frames draw with and without a model and report their state",
          "[app][ui][panels]") {
  int teaching_panels = 0;  // the panel_state check below must have run, not been skipped for every panel
  for (const PanelInfo& panel : panel_list()) {
    INFO("panel " << panel.name);
    Headless imgui;
    FakeServices services;
    App app(services);
    app.catalog().add(entry("main", true));
    app.set_ui_scale(1.f);
    app.start(std::string("panels=") + panel.name);
    imgui.frame(app);  // no model yet
    app.weights_arrived(0, tiny_weights(3));
    for (int i = 0; i < 3; ++i) imgui.frame(app);
    json state = state_of(app);
    CHECK(state["panels"] == json::array({panel.name}));
    CHECK(state["messages"].empty());
    if (is_teaching_panel(panel.id)) {
      ++teaching_panels;
      REQUIRE(state["panel_state"].contains(panel.name));
      CHECK(state["panel_state"][panel.name].is_object());
    } else if (panel.id != PanelId::model) {  // the model panel's downloads (lab build) report theirs
      CHECK_FALSE(state["panel_state"].contains(panel.name));  // the demo's panels report in the top level
    }
  }
  CHECK(teaching_panels > 0);
  CHECK(is_teaching_panel(PanelId::activations));
  CHECK_FALSE(is_teaching_panel(PanelId::draw));
}

TEST_CASE("set_panels: unknown and repeated panels are dropped, an empty list changes nothing", "[app][ui][panels]") {
  Headless imgui;
  FakeServices services;
  App app(services);
  app.start("panels=draw");
  app.set_panels({PanelId::confusion, PanelId::draw, PanelId::confusion, static_cast<PanelId>(999)});
  CHECK(app.options().panels == std::vector<PanelId>{PanelId::confusion, PanelId::draw});
  app.set_panels({});
  CHECK(app.options().panels == std::vector<PanelId>{PanelId::confusion, PanelId::draw});
}

TEST_CASE("the app routes asset answers to the panels' store and reports the change", "[app][assets]") {
  Headless imgui;
  FakeServices services;
  App app(services);
  app.start("");
  const int changes = services.changes;
  app.asset_failed("weights/runs/x.json", "HTTP 404");
  CHECK(services.changes > changes);
}

TEST_CASE("the demo build (no teaching panels) hands a teaching panel to the page's lab build", "[app][ui][panels]") {
  Headless imgui;
  FakeServices services;
  App app(services, nullptr);
  app.catalog().add(entry("main", true));
  app.set_ui_scale(1.f);
  app.start("panels=draw,network&theme=dark");
  REQUIRE(services.teaching_builds.size() == 1);
  CHECK(services.teaching_builds[0].find("panels=draw,network") == 0);
  CHECK(services.teaching_builds[0].find("&theme=dark") != std::string::npos);
  // Meanwhile it shows the demo's panels, and nothing draws a teaching panel.
  CHECK(app.options().panels == std::vector<PanelId>{PanelId::draw, PanelId::prediction, PanelId::input, PanelId::model});
  app.weights_arrived(0, tiny_weights(2));
  imgui.frame(app);
  CHECK(state_of(app)["panel_state"].empty());

  app.set_panels({PanelId::confusion});
  REQUIRE(services.teaching_builds.size() == 2);
  CHECK(services.teaching_builds[1].find("panels=confusion&model=main") == 0);
  CHECK(app.options().panels.size() == 4);  // unchanged: the page reloads
  app.set_panels({PanelId::draw, PanelId::input});  // demo panels stay in this build
  CHECK(services.teaching_builds.size() == 2);
  CHECK(app.options().panels == std::vector<PanelId>{PanelId::draw, PanelId::input});
}

TEST_CASE("clear and undo empty the reported state at once, before the next frame predicts", "[app][ui]") {
  StartedApp started({entry("main", true)}, "panels=draw,prediction");
  Headless& imgui = started.imgui;
  App& app = started.app;
  app.weights_arrived(0, tiny_weights(5));
  imgui.frame(app);
  draw_line(app);
  imgui.frame(app);
  REQUIRE(state_of(app)["empty"] == false);
  app.undo();  // no frame in between: what the page reads right after digitlab.undo()
  json state = state_of(app);
  CHECK(state["empty"] == true);
  CHECK(state["prediction"].is_null());
  CHECK(state["probabilities"].empty());
  CHECK(app.status_sentence() == "The drawing is empty: draw a digit.");
}
