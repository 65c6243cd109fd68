// The preprocessing teaching panel's work: the drawing taken to the model's input one step at a time, and
// what the model predicts if it were given the input made at each step (the raw canvas squashed to
// 28x28, the bounding box stretched to 28x28, the 20x20 fit placed by its box, the centred final input).
// No ImGui here (tests/app/test_preprocess_steps.cpp). Read next: panel_preprocess.cpp, digitlab/preprocess.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/model.hpp"
#include "digitlab/preprocess.hpp"

namespace digitlab::app {

// The (x, y, width, height) region of a (height, width) raster averaged down (or up) to dst_w x dst_h:
// each output pixel is the area-weighted mean of the source pixels under it (a box filter).
std::vector<float> area_resize(const Canvas& canvas, std::int64_t x, std::int64_t y, std::int64_t width,
                               std::int64_t height, int dst_w, int dst_h);

struct PreprocessStep {
  std::string name;             // "raw", "box", "placed", "centred": in state_json
  std::string title;            // "1. Raw drawing"
  std::vector<float> image28;   // the 28x28 input this step would give the model, in [0,1]
  int label = -1;               // the model's answer for that input
  float probability = 0.f;      // its probability
};

struct PreprocessSteps {
  Preprocessed centred;    // preprocess_canvas with centre of mass (what the app feeds the model)
  Preprocessed uncentred;  // the same without the shift (box centred in 28x28)
  std::int64_t shift_x = 0, shift_y = 0;  // where centring moved the digit, in 28x28 pixels
  // raw canvas squashed to 28x28, box stretched to 28x28, the 20x20 fit placed by its box (no shift), centred.
  std::vector<PreprocessStep> steps;
  bool skip_centring = false;
  // What the model is given at the end: the centred input, or the placed one when centring is skipped.
  const PreprocessStep& final_step() const { return steps[skip_centring ? 2 : 3]; }
};

// Errors: those of preprocess_canvas (empty_input for a blank drawing, bad_argument for a model that is
// not 1x28x28) and of forward().
Result<PreprocessSteps> preprocess_steps(const Canvas& canvas, const Model& model, bool skip_centring);

}  // namespace digitlab::app
