// The preprocessing teaching panel's work, ImGui-free (natively and as WebAssembly under node): area_resize,
// and every step's input and prediction for a drawn digit (the centred step is exactly what the app feeds the
// model). Read next: wasm/teaching/preprocess_steps.hpp, test_panel_preprocess.cpp (the panel headless).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/drawing.hpp"
#include "teaching/preprocess_steps.hpp"
#include "tiny_model.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

namespace {

Model tiny_model() { return load_weights(tiny_weights(11)).value().model; }

// A 7 drawn small in the top-left corner of the drawing area.
Drawing corner_seven() {
  Drawing drawing;
  drawing.begin_stroke({0.05f, 0.08f}, 0.05f);
  drawing.extend_stroke({0.35f, 0.08f});
  drawing.extend_stroke({0.15f, 0.45f});
  drawing.end_stroke();
  return drawing;
}

}  // namespace

TEST_CASE("area_resize averages regions of the canvas", "[app][preprocess]") {
  Canvas canvas;
  canvas.width = canvas.height = 280;
  canvas.ink.assign(280 * 280, 0.f);
  for (int y = 0; y < 140; ++y)
    for (int x = 0; x < 140; ++x) canvas.ink[std::size_t(y * 280 + x)] = 1.f;  // the top-left quarter
  const std::vector<float> whole = area_resize(canvas, 0, 0, 280, 280, 28, 28);
  REQUIRE(whole.size() == 28 * 28);
  double worst = 0;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x)
      worst = std::max(worst, std::abs(double(whole[std::size_t(y * 28 + x)]) - (x < 14 && y < 14 ? 1.0 : 0.0)));
  INFO("largest difference " << worst);
  CHECK(worst < 1e-6);
  // The inked quarter alone, stretched: all ink.
  const std::vector<float> quarter = area_resize(canvas, 0, 0, 140, 140, 28, 28);
  CHECK(*std::min_element(quarter.begin(), quarter.end()) == Approx(1.f));
  // A region outside the canvas is clipped, not read.
  CHECK(area_resize(canvas, 300, 300, 10, 10, 28, 28) == std::vector<float>(28 * 28, 0.f));
}

TEST_CASE("every step has an input and a prediction; the centred one is the app's", "[app][preprocess]") {
  const Model model = tiny_model();
  const Drawing drawing = corner_seven();
  Result<PreprocessSteps> result = preprocess_steps(drawing.canvas(), model, false);
  REQUIRE(result);
  const PreprocessSteps& steps = result.value();
  REQUIRE(steps.steps.size() == 4);
  const char* names[] = {"raw", "box", "placed", "centred"};
  for (std::size_t i = 0; i < 4; ++i) {
    INFO(names[i]);
    CHECK(steps.steps[i].name == names[i]);
    CHECK(steps.steps[i].image28.size() == 28 * 28);
    CHECK((steps.steps[i].label >= 0 && steps.steps[i].label <= 9));
    CHECK((steps.steps[i].probability > 0.f && steps.steps[i].probability <= 1.f));
  }
  const Preprocessed app_input = preprocess_canvas(drawing.canvas(), model.card).value();
  CHECK(steps.steps[3].image28 == app_input.image28);
  CHECK(steps.final_step().name == "centred");
  // The raw canvas squashed keeps the 7 in its corner: no ink in the bottom-right quarter.
  double corner_ink = 0;
  for (int y = 14; y < 28; ++y)
    for (int x = 14; x < 28; ++x) corner_ink += steps.steps[0].image28[std::size_t(y * 28 + x)];
  CHECK(corner_ink == 0.0);
  // A 7's mass sits high and right of its box's middle, so centring moves it.
  CHECK((steps.shift_x != 0 || steps.shift_y != 0));
  CHECK(steps.steps[2].image28 != steps.steps[3].image28);

  Result<PreprocessSteps> skipped = preprocess_steps(drawing.canvas(), model, true);
  REQUIRE(skipped);
  CHECK(skipped.value().final_step().name == "placed");

  Drawing blank;
  Result<PreprocessSteps> empty = preprocess_steps(blank.canvas(), model, false);
  REQUIRE_FALSE(empty);
  CHECK(empty.error().code == ErrorCode::empty_input);
}
