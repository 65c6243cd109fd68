// The "saliency" teaching panel's work, for one drawing's 28x28 model input: the saliency map (the
// gradient of the predicted class's logit with respect to each pixel's ink), occlusion (a patch slid over
// the input, the predicted class's probability after each placement) and the nudge (the smallest change,
// by repeated gradient-sign steps, that makes the network change its mind). Occlusion and the nudge run a
// piece at a time so that a panel can spread them over frames. No ImGui here (tests/app/test_panel_saliency.cpp).
// Read next: panel_saliency.cpp, digitlab/train.hpp (input_gradient), docs/teaching.md ("Where the model looks").
#pragma once

#include <cstdint>
#include <vector>

#include "digitlab/error.hpp"
#include "digitlab/model.hpp"

namespace digitlab::app {

// The model input for an image of ink values in [0,1] (height, width), as preprocess_canvas makes it:
// (ink - mean) / std with the card's normalisation.
std::vector<float> normalise_image(const ModelCard& card, const std::vector<float>& image);

// Checks that the model reads one channel of the image's size; bad_argument with a sentence otherwise.
Status check_image_model(const Model& model, const std::vector<float>& image);

// ---- saliency --------------------------------------------------------------------------------------------

struct Saliency {
  int label = -1;           // the predicted class (argmax of the logits)
  float probability = 0.f;  // its softmax probability
  float logit = 0.f;
  // (height, width): d logit[label] / d ink of each pixel, ink in [0,1] (input_gradient divided by the
  // card's std, since the model input is (ink - mean) / std). Positive: more ink there raises the class.
  std::vector<float> gradient;
  float largest = 0.f;  // max |gradient|
};

// One forward pass and one backward pass. Errors: check_image_model's, forward's and input_gradient's.
Result<Saliency> compute_saliency(const Model& model, const std::vector<float>& image);

// ---- occlusion -------------------------------------------------------------------------------------------

struct OcclusionOptions {
  int patch = 6;      // side of the square patch, pixels
  int stride = 2;     // pixels between placements
  float fill = 0.f;   // ink put under the patch: 0 is the background, 0.5 grey
};

// The patch placed at every (row, column) position of a grid (top-left corners 0, stride, ... up to
// side - patch), one forward pass each: drops[r * columns + c] = p(label, input) - p(label, occluded).
class Occlusion {
 public:
  // Checks the model and options and runs the unoccluded input (the baseline). label < 0: the predicted one.
  Status start(const Model& model, const std::vector<float>& image, const OcclusionOptions& options, int label = -1);
  // Forward passes until `budget_seconds` have gone by (at least one); the model's error if one fails.
  Status advance(const Model& model, double budget_seconds);
  bool finished() const { return started_ && done_ == positions(); }
  bool started() const { return started_; }

  int rows() const { return rows_; }
  int columns() const { return columns_; }
  int positions() const { return rows_ * columns_; }
  int done() const { return done_; }
  int label() const { return label_; }
  float baseline() const { return baseline_; }
  const OcclusionOptions& options() const { return options_; }
  const std::vector<float>& drops() const { return drops_; }  // (rows, columns); 0 until computed
  // Total ink under the patch at each position (rows, columns): 0 means it covered only background.
  const std::vector<float>& ink_under() const { return ink_under_; }
  // (height, width): each pixel's mean drop over the placements that cover it (those computed so far).
  std::vector<float> pixel_map() const;
  double seconds() const { return seconds_; }  // time spent in forward passes so far

 private:
  bool started_ = false;
  OcclusionOptions options_;
  std::vector<float> image_;
  int width_ = 0, height_ = 0, rows_ = 0, columns_ = 0, done_ = 0, label_ = -1;
  float baseline_ = 0.f;
  std::vector<float> drops_, ink_under_;
  double seconds_ = 0;
};

// ---- the nudge -------------------------------------------------------------------------------------------

struct NudgeOptions {
  float step = 2.f / 255.f;  // each pixel moves by at most this much ink per step (in [0,1] units)
  int max_steps = 150;
  int target = -1;           // a class to push towards; -1: any class other than the predicted one
};

// The basic iterative method (FGSM repeated): x <- clip(x + step * sign(d), 0, 1) with d the gradient of
// logit[to] - logit[from] with respect to the ink, where (untargeted) from is the original class and to the
// current runner-up, or (targeted) to is the target and from the strongest other class. Each step is two
// input_gradient calls (advance() runs them as separate pieces) and one forward pass; it stops when the
// prediction has changed (to the target, when one is given) or after max_steps.
class Nudge {
 public:
  Status start(const Model& model, const std::vector<float>& image, const NudgeOptions& options);
  // Half-steps (one backward pass each) until `budget_seconds` have gone by (at least one).
  Status advance(const Model& model, double budget_seconds);
  bool started() const { return started_; }
  bool finished() const { return finished_; }
  bool changed() const { return changed_; }   // the prediction moved (to the target, if any)
  int steps() const { return steps_; }
  int original_label() const { return original_label_; }
  int label() const { return label_; }          // the prediction for the nudged image
  float probability() const { return probability_; }
  const NudgeOptions& options() const { return options_; }
  const std::vector<float>& original() const { return original_; }
  const std::vector<float>& image() const { return image_; }  // the nudged ink, in [0,1]
  // Size of the change, in pixel units 0..255: the largest |nudged - original| and the Euclidean norm.
  float linf_255() const;
  float l2_255() const;
  int pixels_changed() const;
  double seconds() const { return seconds_; }

 private:
  Status piece(const Model& model);
  Status classify(const Model& model);

  bool started_ = false, finished_ = false, changed_ = false;
  bool has_up_ = false;    // the first half of the step is done: up_ holds d logit[to] / d input
  std::vector<float> up_;
  NudgeOptions options_;
  std::vector<float> original_, image_;
  int steps_ = 0, original_label_ = -1, label_ = -1;
  float probability_ = 0.f;
  std::vector<float> logits_;
  double seconds_ = 0;
};

}  // namespace digitlab::app
