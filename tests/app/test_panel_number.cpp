// The "number" panel headless: whole numbers (2 to 5 digits) drawn through the app's pointer events (stroke templates of
// tests/data/digit_strokes.json, as a mouse would draw them) are read by the shipped MNIST CNN; a Fashion
// model is refused with a way out; a blank drawing asks for digits. Read next: wasm/teaching/panel_number.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
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

std::vector<std::uint8_t> shipped_weights(const std::string& file) {
  const std::string path = std::string(DIGITLAB_SOURCE_DIR) + "/weights/" + file;
  std::ifstream in(path, std::ios::binary);
  INFO("reading " << path);
  REQUIRE(in);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

using Stroke = std::vector<Point>;  // in the digit's unit box, y down

// The first style of each digit in tests/data/digit_strokes.json, smoothed like tests/support does.
std::vector<Stroke> digit_strokes(int digit) {
  static const json templates = [] {
    std::ifstream in(std::string(DIGITLAB_SOURCE_DIR) + "/tests/data/digit_strokes.json");
    return json::parse(in, nullptr, false);
  }();
  REQUIRE_FALSE(templates.is_discarded());
  const json& style = templates["digits"][std::to_string(digit)][0];
  std::vector<Stroke> strokes;
  for (const json& control_points : style["strokes"]) {
    Stroke control;
    for (const json& p : control_points) control.push_back({p[0].get<float>(), p[1].get<float>()});
    if (!style["smooth"].get<bool>() || control.size() < 3) {
      strokes.push_back(control);
      continue;
    }
    Stroke smooth;  // Catmull-Rom through the control points, 8 samples per segment
    auto at = [&](std::ptrdiff_t i) {
      return control[std::size_t(std::clamp<std::ptrdiff_t>(i, 0, std::ptrdiff_t(control.size()) - 1))];
    };
    for (std::ptrdiff_t i = 0; i + 1 < std::ptrdiff_t(control.size()); ++i) {
      const Point p0 = at(i - 1), p1 = at(i), p2 = at(i + 1), p3 = at(i + 2);
      for (int s = 0; s < 8; ++s) {
        const float t = float(s) / 8.f, t2 = t * t, t3 = t2 * t;
        auto blend = [&](float a, float b, float c, float d) {
          return 0.5f * (2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t2 + (-a + 3 * b - 3 * c + d) * t3);
        };
        smooth.push_back({blend(p0.x, p1.x, p2.x, p3.x), blend(p0.y, p1.y, p2.y, p3.y)});
      }
    }
    smooth.push_back(control.back());
    strokes.push_back(smooth);
  }
  return strokes;
}

// Draws the digits of `number` side by side across the drawing area, each in its own box with a gap,
// with the app's pointer events (display coordinates), as the page's mouse handlers would.
void draw_number(App& app, const std::string& number) {
  const Rect area = app.drawing_rect();
  REQUIRE(area.width > 0.f);
  const float count = float(number.size());
  const float cell = 0.9f / count;                // each digit's share of the width
  const float height = std::min(0.5f, cell * 1.25f), width = height * 0.65f;
  for (std::size_t i = 0; i < number.size(); ++i) {
    const float left = 0.05f + cell * float(i) + (cell - width) * 0.5f, top = 0.5f - height * 0.5f;
    for (const Stroke& stroke : digit_strokes(number[i] - '0')) {
      auto x = [&](const Point& p) { return area.x + (left + p.x * width) * area.width; };
      auto y = [&](const Point& p) { return area.y + (top + p.y * height) * area.height; };
      app.pointer_down(x(stroke.front()), y(stroke.front()));
      for (std::size_t k = 1; k + 1 < stroke.size(); ++k) app.pointer_move(x(stroke[k]), y(stroke[k]));
      app.pointer_up(x(stroke.back()), y(stroke.back()));
    }
  }
}

ModelEntry shipped_entry(const std::string& name, const std::string& dataset, bool is_default = false) {
  ModelEntry e = entry(name, is_default);
  e.dataset = dataset;
  return e;
}

}  // namespace

TEST_CASE("number panel: numbers of 2 to 5 digits drawn with the pointer are read digit by digit", "[app][ui][number]") {
  StartedApp started({shipped_entry("mnist-cnn", "mnist", true)}, "?panels=number");
  Headless& imgui = started.imgui;
  FakeServices& services = started.services;
  App& app = started.app;
  REQUIRE(services.fetches.size() == 1);
  app.weights_arrived(0, shipped_weights("mnist-cnn.dlw"));
  imgui.frame(app);  // the panel draws its own drawing area (no draw panel)
  json state = state_of(app)["panel_state"]["number"];
  CHECK(state["status"] == "empty");
  CHECK(app.drawing_rect().width > 200.f);

  for (const std::string number : {"42", "305", "2024", "12345", "67890"}) {
    app.clear();
    draw_number(app, number);
    imgui.frame(app);
    state = state_of(app)["panel_state"]["number"];
    INFO("drew " << number << ", the panel says " << state.dump());
    CHECK(state["status"] == "read");
    CHECK(state["text"] == number);
    REQUIRE(state["digits"].size() == number.size());
    double product = 1.0, previous_x = -1.0;
    for (std::size_t i = 0; i < number.size(); ++i) {
      const json& digit = state["digits"][i];
      CHECK(digit["label"] == number[i] - '0');
      CHECK(digit["confidence"].get<double>() > 0.5);
      CHECK(digit["confidence"].get<double>() <= 1.0);
      product *= digit["confidence"].get<double>();
      const json& box = digit["box"];
      CHECK(box["x"].get<double>() >= previous_x);  // left to right, boxes (margins included) apart
      CHECK(box["width"].get<double>() > 0.0);
      CHECK(box["height"].get<double>() > 0.0);
      previous_x = box["x"].get<double>() + box["width"].get<double>();
    }
    CHECK(state["confidence"].get<double>() == Approx(product).epsilon(1e-4));
    // The page's aria-live region says the number, not the whole drawing's single-digit guess.
    CHECK(app.status_sentence().rfind("Number: " + number + " (", 0) == 0);
    CHECK(state_of(app)["status"] == app.status_sentence());
  }

  app.clear();
  imgui.frame(app);
  state = state_of(app)["panel_state"]["number"];
  CHECK(state["status"] == "empty");
  CHECK(state["digits"].empty());
  CHECK(state["text"] == "");
}

TEST_CASE("number panel: a Fashion-MNIST model is not asked to read digits", "[app][ui][number]") {
  StartedApp started({shipped_entry("mnist-cnn", "mnist"), shipped_entry("fashion-cnn", "fashion-mnist", true)}, "?panels=draw,number");
  Headless& imgui = started.imgui;
  FakeServices& services = started.services;
  App& app = started.app;
  REQUIRE(services.fetches.size() == 1);
  CHECK(services.fetches[0].first == 1);
  app.weights_arrived(1, shipped_weights("fashion-cnn.dlw"));
  imgui.frame(app);
  draw_number(app, "42");
  imgui.frame(app);
  json state = state_of(app)["panel_state"]["number"];
  INFO(state.dump());
  CHECK(state["status"] == "not_digits");
  CHECK(state["model"] == "fashion-cnn");
  CHECK(state["digits"].empty());

  // Switching to an MNIST model (what its "Use mnist-cnn" button does) reads the same drawing.
  app.select_model("mnist-cnn", nullptr);
  REQUIRE(services.fetches.size() == 2);
  app.weights_arrived(0, shipped_weights("mnist-cnn.dlw"));
  imgui.frame(app);
  state = state_of(app)["panel_state"]["number"];
  CHECK(state["status"] == "read");
  CHECK(state["text"] == "42");
}

TEST_CASE("number panel: without a model it says so and reports nothing read", "[app][ui][number]") {
  StartedApp started({shipped_entry("mnist-cnn", "mnist", true)}, "?panels=number");
  Headless& imgui = started.imgui;
  App& app = started.app;
  imgui.frame(app);
  const json state = state_of(app)["panel_state"]["number"];
  CHECK(state["status"] == "no_model");
  CHECK(state["digits"].empty());
}
