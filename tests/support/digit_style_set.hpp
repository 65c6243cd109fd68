// The drawn-digit evaluation set of issue 16: every style of tests/data/digit_styles.json drawn on a fixed
// grid of pen widths, sizes, slants and positions, replayed through the web app's own Drawing. Read next:
// digit_style_set.cpp, then tests/styles/test_digit_styles.cpp (the targets) and
// tests/styles/digit_styles_report.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/drawing.hpp"
#include "digitlab/model.hpp"
#include "support/synthetic_digits.hpp"

namespace digitlab::testing {

const std::string kDigitStylesFile = DIGITLAB_SOURCE_DIR "/tests/data/digit_styles.json";

// One drawing of the set: which template, how it was placed, and its strokes as pointer positions in the
// square drawing area ((0,0) top-left, (1,1) bottom-right), the units of app::Drawing and of the browser
// harness's drawStrokes().
struct StyleDrawing {
  int digit = 0;
  std::string style;            // the template's name, e.g. "flagged"
  std::size_t template_index = 0;  // into the templates the set was made from
  float pen_width = 0.07f;      // fraction of the drawing area's side (the page's stroke=7)
  float size = 0.65f;           // the digit's height, fraction of the side
  float slant = 0.f;
  std::string position;         // "centre", "top-left", "bottom-right"
  std::vector<std::vector<app::Point>> strokes;
};

// The grid, per style: pen widths 4, 7 and 10 % of the side x heights 45, 65 and 85 % x slants -0.15, 0
// and 0.25 x three positions = 81 drawings; control points jittered by up to 1.5 % of the box, seeded by
// the drawing's place in the grid (and variant: 0 is the evaluation set, others are fresh drawings of the
// same grid for fitting a threshold on held-out data).
constexpr float kStylePenWidths[] = {0.04f, 0.07f, 0.10f};
constexpr float kStyleSizes[] = {0.45f, 0.65f, 0.85f};
constexpr float kStyleSlants[] = {-0.15f, 0.f, 0.25f};
constexpr const char* kStylePositions[] = {"centre", "top-left", "bottom-right"};

std::vector<StyleDrawing> digit_style_set(const std::vector<DigitTemplate>& templates, std::uint32_t variant = 0);

// The drawing as the page holds it after the pointer drags: Drawing(280), one stroke per template stroke.
app::Drawing replay(const StyleDrawing& drawing);

// What the page would show for it: preprocess_canvas on the replayed ink, then the model.
// Errors: those of preprocess_canvas (an empty drawing) and forward.
Result<Prediction> read_drawing(const Model& model, const StyleDrawing& drawing);

// "digit style", e.g. "1 flagged": how reports name a style.
std::string style_key(const StyleDrawing& drawing);

// One model's reading of a set: right/total per digit and per style (in template order), each drawing's
// prediction, and the misread ones as "1 flagged (pen 4 %, size 85 %, slant 0.25, top-left) -> 7 (62 %)".
struct StyleScores {
  int correct = 0, total = 0;
  int digit_correct[10] = {}, digit_total[10] = {};
  std::vector<std::string> styles;  // style_key per template
  std::vector<int> style_correct, style_total;
  std::vector<Prediction> predictions;  // one per drawing, in set order
  std::vector<std::string> misread;
  double accuracy() const { return total ? double(correct) / total : 0.0; }
  double worst_digit(int* which = nullptr) const;
  double worst_style(std::size_t* which = nullptr) const;
};
// Errors: the first drawing that cannot be read (none of the set's drawings is empty).
Result<StyleScores> score_style_set(const Model& model, const std::vector<StyleDrawing>& set);

std::string describe(const StyleDrawing& drawing);  // "1 flagged (pen 4 %, size 85 %, slant 0.25, top-left)"

}  // namespace digitlab::testing
