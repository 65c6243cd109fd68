// The drawn-digit evaluation set (see digit_style_set.hpp): the grid of placements, the replay through
// app::Drawing, and the reading. Read next: tests/styles/test_digit_styles.cpp.
#include "support/digit_style_set.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "digitlab/preprocess.hpp"

namespace digitlab::testing {

std::vector<StyleDrawing> digit_style_set(const std::vector<DigitTemplate>& templates, std::uint32_t variant) {
  std::vector<StyleDrawing> set;
  for (std::size_t t = 0; t < templates.size(); ++t) {
    std::uint32_t cell = 0;
    for (float pen : kStylePenWidths)
      for (float size : kStyleSizes)
        for (float slant : kStyleSlants)
          for (const char* position : kStylePositions) {
            ++cell;
            // Placement works in canvas pixels: a 1000-pixel side keeps the unit coordinates exact enough.
            const float side = 1000.f;
            Placement placement;
            placement.height = size * side;
            placement.aspect = 0.75f;
            placement.slant = slant;
            placement.pen_width = pen * side;
            placement.jitter = 0.015f;
            placement.seed = (variant * 1000003u + std::uint32_t(t) * 131u + cell) * 2246822519u + 7u;
            const float width = placement.height * placement.aspect;
            const float margin = placement.pen_width + std::abs(slant) * placement.height * 0.5f + 0.02f * side;
            const std::string where = position;
            if (where == "centre") {
              placement.left = (side - width) * 0.5f;
              placement.top = (side - placement.height) * 0.5f;
            } else if (where == "top-left") {
              placement.left = margin;
              placement.top = placement.pen_width + 0.02f * side;
            } else {
              placement.left = std::max(margin, side - width - margin);
              placement.top = std::max(placement.pen_width, side - placement.height - placement.pen_width - 0.02f * side);
            }
            StyleDrawing drawing;
            drawing.digit = templates[t].digit;
            drawing.style = templates[t].style;
            drawing.template_index = t;
            drawing.pen_width = pen;
            drawing.size = size;
            drawing.slant = slant;
            drawing.position = where;
            for (const Stroke& stroke : place_strokes(templates[t], placement)) {
              std::vector<app::Point> points;
              for (Point p : stroke) points.push_back({p.x / side, p.y / side});
              drawing.strokes.push_back(std::move(points));
            }
            set.push_back(std::move(drawing));
          }
  }
  return set;
}

app::Drawing replay(const StyleDrawing& drawing) {
  app::Drawing replayed(280);
  for (const auto& stroke : drawing.strokes) {
    if (stroke.empty()) continue;
    replayed.begin_stroke(stroke.front(), drawing.pen_width);
    for (std::size_t i = 1; i < stroke.size(); ++i) replayed.extend_stroke(stroke[i]);
    replayed.end_stroke();
  }
  return replayed;
}

Result<Prediction> read_drawing(const Model& model, const StyleDrawing& drawing) {
  const app::Drawing replayed = replay(drawing);
  auto input = preprocess_canvas(replayed.canvas(), model.card);
  if (!input) return input.error();
  return forward(model, input.value().input.data(), input.value().input.size());
}

std::string style_key(const StyleDrawing& drawing) { return std::to_string(drawing.digit) + " " + drawing.style; }

std::string describe(const StyleDrawing& drawing) {
  char text[160];
  std::snprintf(text, sizeof text, "%s (pen %.0f %%, size %.0f %%, slant %.2f, %s)", style_key(drawing).c_str(),
                double(drawing.pen_width) * 100.0, double(drawing.size) * 100.0, double(drawing.slant),
                drawing.position.c_str());
  return text;
}

double StyleScores::worst_digit(int* which) const {
  double worst = 1.0;
  for (int d = 0; d < 10; ++d)
    if (digit_total[d] && double(digit_correct[d]) / digit_total[d] < worst) {
      worst = double(digit_correct[d]) / digit_total[d];
      if (which) *which = d;
    }
  return worst;
}

double StyleScores::worst_style(std::size_t* which) const {
  double worst = 1.0;
  for (std::size_t s = 0; s < styles.size(); ++s)
    if (style_total[s] && double(style_correct[s]) / style_total[s] < worst) {
      worst = double(style_correct[s]) / style_total[s];
      if (which) *which = s;
    }
  return worst;
}

Result<StyleScores> score_style_set(const Model& model, const std::vector<StyleDrawing>& set) {
  StyleScores scores;
  for (const StyleDrawing& drawing : set) {
    if (drawing.template_index >= scores.styles.size()) {
      scores.styles.resize(drawing.template_index + 1);
      scores.style_correct.resize(drawing.template_index + 1, 0);
      scores.style_total.resize(drawing.template_index + 1, 0);
    }
    scores.styles[drawing.template_index] = style_key(drawing);
    auto prediction = read_drawing(model, drawing);
    if (!prediction) return prediction.error();
    const bool right = prediction.value().label == drawing.digit;
    scores.correct += right;
    scores.total += 1;
    scores.digit_correct[drawing.digit] += right;
    scores.digit_total[drawing.digit] += 1;
    scores.style_correct[drawing.template_index] += right;
    scores.style_total[drawing.template_index] += 1;
    if (!right) {
      char tail[48];
      const int label = prediction.value().label;
      std::snprintf(tail, sizeof tail, " -> %d (%.0f %%)", label,
                    double(prediction.value().probabilities[std::size_t(label)]) * 100.0);
      scores.misread.push_back(describe(drawing) + tail);
    }
    scores.predictions.push_back(std::move(prediction).value());
  }
  return scores;
}

}  // namespace digitlab::testing
