// A drawing becomes model input the way MNIST was made (LeCun et al.): bounding box, fit into 20x20
// keeping the aspect ratio with area averaging, centre of mass moved to the centre of 28x28, then the
// model card's normalisation. Read next: model.cpp (what consumes the input), docs/core.md.
//
// Choices (also in docs/core.md):
// - Bounding box: pixels with ink >= kBoxInk, so a faint smudge far away does not shrink the digit.
// - Fit: the box is scaled so its longer side is 20 pixels; each output pixel is the area-weighted mean
//   of the canvas pixels under it (a box filter: smooth when shrinking a big canvas, blocky but
//   faithful when enlarging a tiny one).
// - Centring: the fitted digit is pasted into 28x28 with a whole-pixel shift so that its centre of mass
//   falls inside pixel (14, 14) (0-based), i.e. in [14, 15) when pixel x covers [x, x+1). That is
//   MNIST's own convention, measured: every t10k digit's centre of mass lies in [14.0, 15.0). No
//   resampling, so strokes stay as sharp as the fit made them, and an MNIST digit comes back unchanged.
// - All arithmetic is double in a fixed order, so native and WebAssembly builds give the same bits.
#include "digitlab/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace digitlab {

namespace {

constexpr int kSide = 28;          // model input side
constexpr int kFit = 20;           // the digit's longer side after fitting
constexpr float kBoxInk = 0.05f;   // ink that counts for the bounding box
constexpr std::int64_t kMaxCanvasPixels = std::int64_t{1} << 28;

float clean(float ink) {
  if (!(ink > 0.f)) return 0.f;  // negative and NaN: paper
  return ink < 1.f ? ink : 1.f;
}

// For each destination pixel d in [0, dst), the source pixels under [d, d+1) * src/dst and their share
// of its area (the shares of one destination pixel sum to 1).
struct Footprint {
  std::int64_t first = 0;
  std::vector<double> weights;
};

std::vector<Footprint> footprints(std::int64_t src, std::int64_t dst) {
  std::vector<Footprint> result(static_cast<std::size_t>(dst));
  const double step = static_cast<double>(src) / static_cast<double>(dst);
  for (std::int64_t d = 0; d < dst; ++d) {
    const double begin = static_cast<double>(d) * step, end = static_cast<double>(d + 1) * step;
    Footprint& f = result[static_cast<std::size_t>(d)];
    f.first = static_cast<std::int64_t>(std::floor(begin));
    const std::int64_t last = std::min<std::int64_t>(src - 1, static_cast<std::int64_t>(std::ceil(end)) - 1);
    for (std::int64_t s = f.first; s <= last; ++s) {
      const double overlap = std::min(end, static_cast<double>(s + 1)) - std::max(begin, static_cast<double>(s));
      f.weights.push_back(overlap > 0 ? overlap / step : 0.0);
    }
  }
  return result;
}

}  // namespace

Result<Preprocessed> preprocess_canvas(const Canvas& canvas, const ModelCard& card, const PreprocessOptions& options) {
  if (canvas.width <= 0 || canvas.height <= 0 || canvas.width > kMaxCanvasPixels ||
      canvas.height > kMaxCanvasPixels || canvas.width * canvas.height > kMaxCanvasPixels) {
    return make_error(ErrorCode::bad_argument, "canvas.width", 0,
                      "a canvas must be at least 1x1 and at most 2^28 pixels, got " + std::to_string(canvas.width) +
                          "x" + std::to_string(canvas.height) + ".");
  }
  if (static_cast<std::int64_t>(canvas.ink.size()) != canvas.width * canvas.height) {
    return make_error(ErrorCode::bad_argument, "canvas.ink", 0,
                      "the canvas holds " + std::to_string(canvas.ink.size()) + " ink values but is " +
                          std::to_string(canvas.width) + "x" + std::to_string(canvas.height) +
                          "; fill ink row by row, width*height values.");
  }
  if (card.input_channels != 1 || card.input_height != kSide || card.input_width != kSide) {
    return make_error(ErrorCode::bad_argument, "card.input_height", 0,
                      "preprocess_canvas makes 1x28x28 MNIST-style inputs, but this model wants " +
                          std::to_string(card.input_channels) + "x" + std::to_string(card.input_height) + "x" +
                          std::to_string(card.input_width) + ".");
  }
  if (!std::isfinite(card.normalize_mean) || !std::isfinite(card.normalize_std) || !(card.normalize_std > 0.f)) {
    return make_error(ErrorCode::bad_value, "card.normalize_std", 0,
                      "the model card's normalisation (mean " + std::to_string(card.normalize_mean) + ", std " +
                          std::to_string(card.normalize_std) + ") must be finite with std > 0; re-export the model.");
  }

  // ---- Ink and bounding box ----
  const std::int64_t w = canvas.width, h = canvas.height;
  double total = 0;
  std::int64_t x0 = w, y0 = h, x1 = -1, y1 = -1;          // box of ink >= kBoxInk
  std::int64_t fx0 = w, fy0 = h, fx1 = -1, fy1 = -1;      // box of any ink (fallback for faint drawings)
  for (std::int64_t y = 0; y < h; ++y) {
    for (std::int64_t x = 0; x < w; ++x) {
      const float ink = clean(canvas.ink[static_cast<std::size_t>(y * w + x)]);
      if (ink <= 0.f) continue;
      total += ink;
      fx0 = std::min(fx0, x), fy0 = std::min(fy0, y), fx1 = std::max(fx1, x), fy1 = std::max(fy1, y);
      if (ink >= kBoxInk) x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
    }
  }
  if (fx1 < 0 || total < static_cast<double>(options.empty_threshold)) {
    return make_error(ErrorCode::empty_input, "canvas.ink", 0,
                      "the canvas is empty (total ink " + std::to_string(total) + " pixels, below " +
                          std::to_string(options.empty_threshold) + "): draw a digit first.");
  }
  if (x1 < 0) x0 = fx0, y0 = fy0, x1 = fx1, y1 = fy1;
  Preprocessed out;
  out.box_x = x0;
  out.box_y = y0;
  out.box_w = x1 - x0 + 1;
  out.box_h = y1 - y0 + 1;

  // ---- Fit the box into 20x20, keeping the aspect ratio (separable area averaging) ----
  const std::int64_t longer = std::max(out.box_w, out.box_h);
  const std::int64_t fit_w = std::max<std::int64_t>(1, std::llround(double(out.box_w) * kFit / double(longer)));
  const std::int64_t fit_h = std::max<std::int64_t>(1, std::llround(double(out.box_h) * kFit / double(longer)));
  const std::vector<Footprint> across = footprints(out.box_w, fit_w), down = footprints(out.box_h, fit_h);
  std::vector<double> rows(static_cast<std::size_t>(out.box_h * fit_w), 0.0);  // (box_h, fit_w)
  for (std::int64_t y = 0; y < out.box_h; ++y) {
    const float* src = canvas.ink.data() + (y0 + y) * w + x0;
    for (std::int64_t dx = 0; dx < fit_w; ++dx) {
      const Footprint& f = across[static_cast<std::size_t>(dx)];
      double sum = 0;
      for (std::size_t i = 0; i < f.weights.size(); ++i) sum += f.weights[i] * clean(src[f.first + static_cast<std::int64_t>(i)]);
      rows[static_cast<std::size_t>(y * fit_w + dx)] = sum;
    }
  }
  std::vector<double> fitted(static_cast<std::size_t>(fit_h * fit_w), 0.0);  // (fit_h, fit_w)
  for (std::int64_t dy = 0; dy < fit_h; ++dy) {
    const Footprint& f = down[static_cast<std::size_t>(dy)];
    for (std::size_t i = 0; i < f.weights.size(); ++i) {
      const double* row = rows.data() + (f.first + static_cast<std::int64_t>(i)) * fit_w;
      for (std::int64_t dx = 0; dx < fit_w; ++dx) fitted[static_cast<std::size_t>(dy * fit_w + dx)] += f.weights[i] * row[dx];
    }
  }
  for (double& v : fitted) v = std::min(1.0, std::max(0.0, v));  // weights sum to 1 up to rounding
  // The teaching panel's 20x20 view: the fitted digit centred in the 20x20 frame.
  out.image20.assign(kFit * kFit, 0.f);
  const std::int64_t off20_x = (kFit - fit_w) / 2, off20_y = (kFit - fit_h) / 2;
  for (std::int64_t y = 0; y < fit_h; ++y)
    for (std::int64_t x = 0; x < fit_w; ++x)
      out.image20[static_cast<std::size_t>((off20_y + y) * kFit + off20_x + x)] =
          static_cast<float>(fitted[static_cast<std::size_t>(y * fit_w + x)]);

  // ---- Centre of mass into pixel (14, 14) ----
  // Where the fitted digit sits when its box is centred in 28x28, and its centre of mass there (pixel
  // (x, y) covers [x, x+1), so its centre is x + 0.5).
  const std::int64_t base_x = (kSide - fit_w) / 2, base_y = (kSide - fit_h) / 2;
  double mass = 0, mx = 0, my = 0;
  for (std::int64_t y = 0; y < fit_h; ++y)
    for (std::int64_t x = 0; x < fit_w; ++x) {
      const double v = fitted[static_cast<std::size_t>(y * fit_w + x)];
      mass += v;
      mx += v * (double(base_x + x) + 0.5);
      my += v * (double(base_y + y) + 0.5);
    }
  out.center_x = static_cast<float>(mass > 0 ? mx / mass : kSide / 2.0);
  out.center_y = static_cast<float>(mass > 0 ? my / mass : kSide / 2.0);
  std::int64_t shift_x = 0, shift_y = 0;
  if (options.center_of_mass && mass > 0) {
    // The whole shift that brings the centre into [14, 15); the 1e-6 keeps a symmetric drawing, whose
    // centre is 14 up to rounding, from jumping a pixel on that rounding.
    shift_x = static_cast<std::int64_t>(std::ceil(kSide / 2.0 - mx / mass - 1e-6));
    shift_y = static_cast<std::int64_t>(std::ceil(kSide / 2.0 - my / mass - 1e-6));
  }
  out.image28.assign(kSide * kSide, 0.f);
  for (std::int64_t y = 0; y < fit_h; ++y) {
    const std::int64_t ty = base_y + y + shift_y;
    if (ty < 0 || ty >= kSide) continue;  // a lopsided digit may lose a sliver, as in MNIST
    for (std::int64_t x = 0; x < fit_w; ++x) {
      const std::int64_t tx = base_x + x + shift_x;
      if (tx < 0 || tx >= kSide) continue;
      out.image28[static_cast<std::size_t>(ty * kSide + tx)] = static_cast<float>(fitted[static_cast<std::size_t>(y * fit_w + x)]);
    }
  }

  // ---- The model's normalisation, in float exactly as forward()'s blank-paper run assumes ----
  out.input.resize(out.image28.size());
  for (std::size_t i = 0; i < out.image28.size(); ++i) {
    out.input[i] = (out.image28[i] - card.normalize_mean) / card.normalize_std;
  }
  return out;
}

}  // namespace digitlab
