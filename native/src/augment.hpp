// Augmentation for drawn digits, on the device and seeded: a random affine warp (rotation, scale, shear,
// shift) and stroke thickness, applied to uint8 batches before normalisation. Read next: trainer.cpp.
#pragma once

#include <torch/torch.h>

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

}  // namespace digitlab::trainer
