// Shared links in the App, headless: started with drawing= it shows the strokes and predicts them as the
// drawing that made the link was predicted; "Copy link" hands the platform that link; a damaged drawing=
// leaves the canvas empty with a message. Read next: wasm/app/app.cpp (share_query), test_drawing_code.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "app/app.hpp"
#include "app_harness.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

namespace {

std::string drawing_parameter(const std::string& query) {
  const std::size_t at = query.find("&drawing=");
  return at == std::string::npos ? std::string() : query.substr(at + 9, query.find('&', at + 1) - at - 9);
}

}  // namespace

TEST_CASE("share: a drawing= link reopens the drawing, the panels and the theme, and predicts it", "[app][ui][share]") {
  // One ImGui context at a time (the harness makes each the current one): the first app goes before the second.
  json before;
  std::string query;
  std::vector<Stroke> strokes;
  {
    StartedApp first({entry("main", true), entry("other")}, "panels=draw,prediction,input&theme=dark&stroke=9");
    App& app = first.app;
    app.weights_arrived(0, tiny_weights(2));
    std::string why;
    REQUIRE(app.select_model("other", &why));
    app.weights_arrived(1, tiny_weights(8));
    first.imgui.frame(app);
    const Rect area = app.drawing_rect();
    REQUIRE(area.width > 0.f);
    // A 7 in two strokes, at display positions that fall between the grid's steps.
    app.pointer_down(area.x + area.width * 0.273f, area.y + area.height * 0.2011f);
    app.pointer_move(area.x + area.width * 0.7217f, area.y + area.height * 0.2013f);
    app.pointer_up(area.x + area.width * 0.4431f, area.y + area.height * 0.8379f);
    app.pointer_down(area.x + area.width * 0.38f, area.y + area.height * 0.52f);
    app.pointer_up(area.x + area.width * 0.66f, area.y + area.height * 0.5213f);
    first.imgui.frame(app);
    before = state_of(app);
    REQUIRE(before["empty"] == false);

    query = app.share_query();
    strokes = app.drawing().strokes();
    CHECK(query.find("panels=draw,prediction,input&model=other&theme=dark&stroke=9&drawing=1.") == 0);
  }
  INFO(query);
  StartedApp second({entry("main", true), entry("other")}, query);
  App& again = second.app;
  REQUIRE(second.services.fetches.size() == 1);
  CHECK(second.services.fetches[0].second == "other.dlw");
  CHECK(state_of(again)["strokes"] == 2);  // drawn before any frame or model
  again.weights_arrived(1, tiny_weights(8));
  second.imgui.frame(again);
  const json after = state_of(again);
  CHECK(after["messages"].empty());
  CHECK(after["panels"] == before["panels"]);
  CHECK(again.options().theme == Theme::dark);
  REQUIRE(again.drawing().strokes().size() == 2);
  for (std::size_t s = 0; s < 2; ++s) {
    CHECK(again.drawing().strokes()[s].width == strokes[s].width);
    CHECK(again.drawing().strokes()[s].points.size() == strokes[s].points.size());
  }
  CHECK(drawing_parameter(again.share_query()) == drawing_parameter(query));
  REQUIRE(after["prediction"] == before["prediction"]);
  double worst = 0;
  for (std::size_t i = 0; i < before["probabilities"].size(); ++i)
    worst = std::max(worst, std::fabs(after["probabilities"][i].get<double>() - before["probabilities"][i].get<double>()));
  INFO("largest probability difference " << worst);
  CHECK(worst <= 1e-6);
}

TEST_CASE("share: Copy link in the menu hands the platform the share query", "[app][ui][share]") {
  struct Services : FakeServices {
    std::vector<std::string> links;
    void copy_link(const std::string& query) override { links.push_back(query); }
  };
  Headless imgui;
  Services services;
  App app(services);
  app.catalog().add(entry("main", true));
  app.set_ui_scale(1.f);
  app.start("panels=draw&drawing=1.C-REggEggCAggE");
  app.weights_arrived(0, tiny_weights(2));
  imgui.frame(app);
  imgui.click_center(app, state_of(app)["copy_link_rect"]);  // the menu bar's "Copy link"
  REQUIRE(services.links.size() == 1);
  CHECK(services.links[0] == app.share_query());
  CHECK(drawing_parameter(services.links[0]) == "1.C-REggEggCAggE");
}

TEST_CASE("share: a damaged drawing= starts an empty canvas with a message, the rest of the link still counts",
          "[app][ui][share]") {
  StartedApp started({entry("main", true)}, "panels=draw,prediction&drawing=1.C-REggEgg&theme=dark");
  App& app = started.app;
  app.weights_arrived(0, tiny_weights(2));
  started.imgui.frame(app);
  const json state = state_of(app);
  CHECK(state["strokes"] == 0);
  CHECK(state["empty"] == true);
  REQUIRE(state["messages"].size() == 1);
  CHECK(state["messages"][0].get<std::string>().find("drawing was not drawn: it is cut short") != std::string::npos);
  CHECK(app.options().theme == Theme::dark);
  CHECK(app.share_query().find("drawing=") == std::string::npos);
}
