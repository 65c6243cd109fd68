// Draw augmentation (see augment.hpp): one affine_grid + grid_sample for the whole batch, then stroke
// thickness with 3x3 max-pools. Read next: trainer.cpp, which draws the parameters per epoch.
#include "augment.hpp"

#include <cmath>

namespace digitlab::trainer {

torch::Tensor augment_drawn(const torch::Tensor& pixels, const torch::Tensor& uniforms, const DrawAugmentation& spec) {
  namespace F = torch::nn::functional;
  const std::int64_t n = pixels.size(0), height = pixels.size(2), width = pixels.size(3);
  torch::Tensor u = uniforms.to(torch::kFloat32);
  auto between = [&](int column, double lo, double hi) { return u.select(1, column) * (hi - lo) + lo; };
  const double pi = 3.14159265358979323846;
  torch::Tensor angle = between(0, -spec.max_rotation_degrees, spec.max_rotation_degrees) * (pi / 180.0);
  torch::Tensor scale = between(1, spec.min_scale, spec.max_scale);
  torch::Tensor shear = between(2, -spec.max_shear, spec.max_shear);
  // Shifts in grid units: the grid spans [-1, 1] over the image.
  torch::Tensor shift_x = between(3, -spec.max_shift_pixels, spec.max_shift_pixels) * (2.0 / double(width));
  torch::Tensor shift_y = between(4, -spec.max_shift_pixels, spec.max_shift_pixels) * (2.0 / double(height));

  // The grid maps output coordinates to input ones, so this is the inverse of the warp applied to the
  // digit: rotating/scaling the sampling grid by (angle, 1/scale) draws the digit rotated by -angle and
  // scaled by `scale`; both signs are drawn symmetrically, so that is fine.
  torch::Tensor cos_a = torch::cos(angle) / scale, sin_a = torch::sin(angle) / scale;
  torch::Tensor theta = torch::stack({torch::stack({cos_a, -sin_a + shear * cos_a, shift_x}, 1),
                                      torch::stack({sin_a, cos_a + shear * sin_a, shift_y}, 1)},
                                     1);  // (N, 2, 3)
  torch::Tensor images = pixels.to(torch::kFloat32) / 255.0;
  torch::Tensor grid = F::affine_grid(theta, {n, 1, height, width}, /*align_corners=*/false);
  torch::Tensor warped = F::grid_sample(images, grid,
                                        F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));

  // Stroke thickness: a bolder pen keeps the stroke and adds a softer rim; a finer pen drops the faint rim
  // and darkens what is left, as MNIST's anti-aliased scans do.
  torch::Tensor pen = u.select(1, 5).view({n, 1, 1, 1});
  torch::Tensor dilated = F::max_pool2d(warped, F::MaxPool2dFuncOptions(3).stride(1).padding(1));
  torch::Tensor thick = torch::maximum(warped, dilated * 0.7);
  torch::Tensor thin = ((warped - 0.4) / 0.6).clamp(0.0, 1.0);
  torch::Tensor result = torch::where(pen < spec.thicken_probability, thick,
                                      torch::where(pen > 1.0 - spec.thin_probability, thin, warped));
  return (result * 255.0).round().clamp(0, 255).to(torch::kUInt8);
}

torch::Tensor flip_horizontally(const torch::Tensor& pixels, const torch::Tensor& flips) {
  torch::Tensor mirrored = pixels.flip({3});
  torch::Tensor choose = (flips < 0.5).view({-1, 1, 1, 1});
  return torch::where(choose, mirrored, pixels);
}

}  // namespace digitlab::trainer
