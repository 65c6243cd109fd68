// Drawing: strokes become ink where they pass and nowhere else; undo and clear repaint exactly.
// Read next: wasm/common/drawing.hpp.
#include <catch2/catch.hpp>

#include <cmath>

#include "common/drawing.hpp"

using digitlab::app::Drawing;
using digitlab::app::Point;

namespace {

float ink_at(const Drawing& drawing, float x, float y) {
  const auto& canvas = drawing.canvas();
  const auto px = std::int64_t(x * float(canvas.width)), py = std::int64_t(y * float(canvas.height));
  return canvas.ink[std::size_t(py * canvas.width + px)];
}

double total_ink(const Drawing& drawing) {
  double total = 0;
  for (float v : drawing.canvas().ink) total += v;
  return total;
}

// Largest |a - b| over two rasters, with where it is, so a failing check shows the evidence.
std::string largest_difference(const Drawing& a, const Drawing& b, float* out) {
  float worst = 0.f;
  std::size_t where = 0;
  for (std::size_t i = 0; i < a.canvas().ink.size(); ++i) {
    const float d = std::fabs(a.canvas().ink[i] - b.canvas().ink[i]);
    if (d > worst) worst = d, where = i;
  }
  *out = worst;
  return "largest difference " + std::to_string(worst) + " at pixel (" + std::to_string(where % 280) + ", " +
         std::to_string(where / 280) + ")";
}

}  // namespace

TEST_CASE("a vertical stroke inks its path and nothing far from it", "[app][drawing]") {
  Drawing drawing;
  REQUIRE(drawing.empty());
  REQUIRE(total_ink(drawing) == 0.0);
  const auto revision = drawing.revision();
  drawing.begin_stroke({0.5f, 0.2f}, 0.1f);
  drawing.extend_stroke({0.5f, 0.5f});
  drawing.extend_stroke({0.5f, 0.8f});
  drawing.end_stroke();
  CHECK(drawing.revision() > revision);
  CHECK_FALSE(drawing.stroke_in_progress());
  REQUIRE(drawing.strokes().size() == 1);
  CHECK(drawing.strokes()[0].points.size() == 3);
  CHECK(ink_at(drawing, 0.5f, 0.5f) == Approx(1.f));
  CHECK(ink_at(drawing, 0.5f, 0.2f) == Approx(1.f));   // round cap at the start
  CHECK(ink_at(drawing, 0.53f, 0.5f) == Approx(1.f));  // inside the 0.05 radius
  CHECK(ink_at(drawing, 0.6f, 0.5f) == 0.f);           // outside it
  CHECK(ink_at(drawing, 0.5f, 0.1f) == 0.f);           // beyond the cap
  for (float v : drawing.canvas().ink) REQUIRE((v >= 0.f && v <= 1.f));
  // The inked area is about the capsule's: length 0.6 x width 0.1 plus a disc, in pixels of a 280 side.
  const double expected = (0.6 * 0.1 + 3.14159 * 0.05 * 0.05) * 280 * 280;
  CHECK(total_ink(drawing) == Approx(expected).epsilon(0.05));
}

TEST_CASE("moves without a press, and tiny moves, add nothing", "[app][drawing]") {
  Drawing drawing;
  drawing.extend_stroke({0.5f, 0.5f});
  drawing.end_stroke();
  CHECK(drawing.empty());
  CHECK(total_ink(drawing) == 0.0);
  drawing.begin_stroke({0.3f, 0.3f}, 0.05f);
  drawing.extend_stroke({0.3005f, 0.3f});
  CHECK(drawing.strokes()[0].points.size() == 1);
  drawing.extend_stroke({0.4f, 0.3f});
  CHECK(drawing.strokes()[0].points.size() == 2);
}

TEST_CASE("undo repaints exactly what the remaining strokes draw", "[app][drawing]") {
  Drawing drawing, expected;
  for (Drawing* d : {&drawing, &expected}) {
    d->begin_stroke({0.2f, 0.2f}, 0.08f);
    d->extend_stroke({0.8f, 0.8f});
    d->end_stroke();
  }
  drawing.begin_stroke({0.8f, 0.2f}, 0.08f);
  drawing.extend_stroke({0.2f, 0.8f});
  // Undo while the second stroke is still being drawn removes it too.
  drawing.undo();
  CHECK_FALSE(drawing.stroke_in_progress());
  REQUIRE(drawing.strokes().size() == 1);
  float worst = 0.f;
  INFO(largest_difference(drawing, expected, &worst));
  CHECK(worst == 0.f);

  drawing.undo();
  CHECK(drawing.empty());
  CHECK(total_ink(drawing) == 0.0);
  drawing.undo();  // nothing left: harmless
  CHECK(drawing.empty());
}

TEST_CASE("clear empties the canvas and bumps the revision", "[app][drawing]") {
  Drawing drawing;
  drawing.begin_stroke({0.5f, 0.5f}, 0.1f);
  drawing.end_stroke();
  CHECK(total_ink(drawing) > 0.0);
  const auto revision = drawing.revision();
  drawing.clear();
  CHECK(drawing.empty());
  CHECK(total_ink(drawing) == 0.0);
  CHECK(drawing.revision() > revision);
}

TEST_CASE("points far outside the area and absurd widths are clamped, not trusted", "[app][drawing]") {
  Drawing drawing(28);
  drawing.begin_stroke({-1e30f, 1e30f}, 1e9f);
  drawing.extend_stroke({std::nanf(""), 0.5f});
  drawing.extend_stroke({0.5f, 0.5f});
  drawing.end_stroke();
  REQUIRE(drawing.strokes().size() == 1);
  CHECK(drawing.strokes()[0].width <= 0.5f);
  for (float v : drawing.canvas().ink) REQUIRE((v >= 0.f && v <= 1.f));
}
