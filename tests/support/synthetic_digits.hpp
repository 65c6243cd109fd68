// Synthetic pen drawings of digits for tests: stroke templates (tests/data/digit_strokes.json) placed,
// slanted, jittered and rasterised with a round anti-aliased pen, the way a mouse drawing reaches the core.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/preprocess.hpp"

namespace digitlab::testing {

struct Point {
  float x = 0, y = 0;
};
using Stroke = std::vector<Point>;

struct DigitTemplate {
  int digit = 0;
  std::string style;
  bool smooth = false;
  std::vector<Stroke> strokes;  // control points in the unit box, y down
};

// All templates of tests/data/digit_strokes.json, digits in order.
std::vector<DigitTemplate> load_digit_templates(const std::string& path = DIGITLAB_SOURCE_DIR "/tests/data/digit_strokes.json");

// Where and how a template is drawn on a canvas.
struct Placement {
  float left = 60, top = 40;  // top-left of the digit's box in canvas pixels
  float height = 200;         // box height in pixels; width = height * aspect
  float aspect = 0.8f;
  float slant = 0.f;          // shear: x += slant * (0.5 - y) * height (italic for > 0)
  float pen_width = 14.f;     // pen diameter in pixels
  float jitter = 0.f;         // random displacement of control points, fraction of the box
  std::uint32_t seed = 1;
};

// A seeded random placement on a width x height canvas: size, aspect, slant, pen width and position vary
// within what people draw with a mouse.
Placement random_placement(std::uint32_t seed, float canvas_width, float canvas_height);

// The strokes in canvas pixels (smoothed with Catmull-Rom where the template asks for it).
std::vector<Stroke> place_strokes(const DigitTemplate& digit, const Placement& placement);

// Adds strokes to a canvas with a round, anti-aliased pen.
void draw_strokes(Canvas& canvas, const std::vector<Stroke>& strokes, float pen_width);

Canvas blank_canvas(std::int64_t width, std::int64_t height);

}  // namespace digitlab::testing
