// Augmentation for drawn digits, on the device and seeded: a random affine warp (rotation, scale, shear,
// shift) and stroke thickness, applied to uint8 batches before normalisation, and synthetic pen digits
// (the "pen" mode) mixed into MNIST batches. Read next: trainer.cpp.
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "digitlab/error.hpp"

namespace digitlab::trainer {

// The "draw" preset: what a mouse drawing differs by from an MNIST scan, after preprocessing.
struct DrawAugmentation {
  double max_rotation_degrees = 12.0;
  double min_scale = 0.85, max_scale = 1.12;
  double max_shear = 0.15;           // x += shear * y
  double max_shift_pixels = 2.5;
  double thicken_probability = 0.3;  // a bolder pen
  double thin_probability = 0.2;     // a finer pen
};

// Number of uniform [0,1) draws each image needs; the trainer draws them per epoch from its seeded data
// generator (so --resume redraws them exactly), shape (N, kDrawParameters).
constexpr std::int64_t kDrawParameters = 6;

// pixels: (N, 1, H, W) uint8; uniforms: (N, kDrawParameters) float in [0,1) on the same device.
// Returns (N, 1, H, W) uint8.
torch::Tensor augment_drawn(const torch::Tensor& pixels, const torch::Tensor& uniforms, const DrawAugmentation& spec = {});

// Mirrors the images whose flip draw is < 0.5 (Fashion-MNIST: a shoe pointing left is still a shoe).
// flips: (N,) float in [0,1).
torch::Tensor flip_horizontally(const torch::Tensor& pixels, const torch::Tensor& flips);

// ---- pen digits ("--augment pen"): the ways people write digits, drawn like the web page draws them ----
// The templates are tests/data/digit_styles.json (issue 16: a flagged 1, a crossed 7, a closed 4, ...).
// Each is drawn with its own random placement (size, aspect, slant, rotation, pen width, position on the
// square drawing area) and a jitter of its control points up to 5 % of the box, painted as anti-aliased
// capsules on a 280x280 raster (as wasm/common/drawing.cpp does) and turned into 28x28 by the core's
// preprocess_canvas, as the page would. The evaluation set (tests/support/digit_style_set.cpp) draws the
// same templates on a fixed grid of placements with a 1.5 % jitter and its own seeds, so no evaluation
// drawing is a training drawing.
constexpr const char* kPenTemplates = "tests/data/digit_styles.json";  // relative to the repository root
constexpr std::int64_t kPenDigitsPerClass = 2000;  // drawn once per run, then warped again by "draw"

struct PenDigits {
  torch::Tensor images;  // (10 * per_digit, 1, 28, 28) uint8; digit d's drawings are rows [d * per_digit, (d + 1) * per_digit)
  std::int64_t per_digit = 0;
};

// Draws per_digit drawings of every digit from the templates file, seeded. Errors: io when the file cannot
// be read, bad_value when it is not a template file or a digit has no template.
Result<PenDigits> render_pen_digits(const std::string& templates_path, std::int64_t per_digit, std::uint64_t seed);

// Uniform draws per image for mix_pen_digits: (replace?, which drawing).
constexpr std::int64_t kPenParameters = 2;

// Replaces each image whose first draw is < fraction by a pen drawing of the same digit (its label), so
// the targets stay as they are. pixels: (N, 1, 28, 28) uint8; labels: (N,) int64; uniforms:
// (N, kPenParameters) float in [0,1); the pool's images on the same device. Returns (N, 1, 28, 28) uint8.
torch::Tensor mix_pen_digits(const torch::Tensor& pixels, const torch::Tensor& labels, const torch::Tensor& uniforms,
                             const PenDigits& pool, double fraction);

}  // namespace digitlab::trainer
