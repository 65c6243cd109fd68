// Turns a drawing into model input the way MNIST was made: bounding box, fit into 20x20 keeping the
// aspect ratio (anti-aliased), centre of mass moved to the centre of 28x28, then the model's normalisation.
#pragma once

#include <cstdint>
#include <vector>

#include "digitlab/model.hpp"

namespace digitlab {

struct Canvas {
  std::int64_t width = 0, height = 0;
  std::vector<float> ink;  // (height, width), row-major, 0 = paper .. 1 = full ink
};

struct PreprocessOptions {
  bool center_of_mass = true;  // the teaching panel turns this off to show why it matters
  float empty_threshold = 0.05f;  // total ink below this (in full-ink pixels) counts as empty
};

struct Preprocessed {
  std::vector<float> image28;  // (28, 28) in [0,1], what the model sees before normalisation
  std::vector<float> input;    // normalised with the model card: (image28 - mean) / std
  // Intermediate steps for the teaching panel.
  std::int64_t box_x = 0, box_y = 0, box_w = 0, box_h = 0;  // bounding box in canvas pixels
  std::vector<float> image20;  // the box fitted into 20x20 (before centring)
  float center_x = 0, center_y = 0;  // centre of mass in the 28x28 before the shift
};

// Errors: empty_input for a blank canvas, bad_argument for a canvas whose ink size is not width*height.
Result<Preprocessed> preprocess_canvas(const Canvas& canvas, const ModelCard& card,
                                       const PreprocessOptions& options = {});

}  // namespace digitlab
