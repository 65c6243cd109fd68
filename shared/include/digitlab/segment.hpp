// Splits a drawing of a whole number into its digits (connected groups of ink, left to right) and reads
// each with the model. Read next: preprocess.hpp (each digit is preprocessed like a single drawing).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/model.hpp"
#include "digitlab/preprocess.hpp"

namespace digitlab {

struct DigitRegion {
  std::int64_t x = 0, y = 0, width = 0, height = 0;  // bounding box in the drawing's pixels
  Canvas canvas;  // the box cropped out, holding only this digit's own ink (neighbours' ink removed)
  float ink = 0;  // total ink of the digit, in full-ink pixels
};

struct SegmentOptions {
  float ink_threshold = 0.15f;     // a pixel with more ink than this belongs to a stroke
  // Two pieces whose horizontal extents overlap by more than this fraction of the narrower piece are one
  // digit (the two strokes of a 4, the bar of a 5 or 7 drawn apart from its stem).
  float merge_overlap = 0.4f;
  float min_ink_fraction = 0.03f;  // pieces with less ink than this fraction of the largest are specks: ignored
  int max_digits = 12;             // a drawing that splits into more pieces is rejected (bad_argument)
};

// Errors: empty_input for a blank drawing, bad_argument for a wrong canvas size or too many pieces.
Result<std::vector<DigitRegion>> segment_digits(const Canvas& drawing, const SegmentOptions& options = {});

struct NumberReading {
  std::vector<DigitRegion> regions;       // left to right
  std::vector<Prediction> predictions;    // one per region
  std::vector<Preprocessed> inputs;       // one per region: the 28x28 image each digit became (panels show it)
  std::string text;                       // the labels' class names concatenated ("42")
  float confidence = 0;                   // the product of each digit's top probability
};

Result<NumberReading> read_number(const Model& model, const Canvas& drawing, const SegmentOptions& options = {},
                                  const PreprocessOptions& preprocess_options = {});

}  // namespace digitlab
