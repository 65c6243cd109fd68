// A 7 as a mouse would draw it (the browser tests' DIGITS[7]), made into the model input's ink: the digit
// the saliency tests check and tests/bench/saliency_figures.cpp measures (docs/teaching.md quotes both).
// Empty when preprocessing refuses the card. Read next: test_saliency.cpp.
#pragma once

#include <vector>

#include "common/drawing.hpp"
#include "digitlab/preprocess.hpp"

namespace digitlab::app::testing {

inline std::vector<float> drawn_seven(const ModelCard& card) {
  Drawing drawing;
  drawing.begin_stroke({0.27f, 0.2f}, 0.07f);
  for (int i = 1; i <= 8; ++i) drawing.extend_stroke({0.27f + 0.45f * float(i) / 8.f, 0.2f});
  for (int i = 1; i <= 12; ++i) drawing.extend_stroke({0.72f - 0.28f * float(i) / 12.f, 0.2f + 0.64f * float(i) / 12.f});
  drawing.end_stroke();
  auto preprocessed = preprocess_canvas(drawing.canvas(), card);
  return preprocessed ? preprocessed.value().image28 : std::vector<float>{};
}

}  // namespace digitlab::app::testing
