// MNIST / Fashion-MNIST on the training device: one uint8 tensor per split, batches gathered with
// index_select from a per-epoch permutation and normalised on the device. No per-sample loader.
// Read next: trainer.cpp (the loop that takes batches), digitlab/idx.hpp (the file reader).
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "digitlab/error.hpp"

namespace digitlab::trainer {

struct DeviceSplit {
  torch::Tensor images;  // (N, 1, 28, 28) uint8 on the device, 0 = background
  torch::Tensor labels;  // (N) int64 on the device
  std::int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

// Reads <dir>/<prefix>-images-idx3-ubyte[.gz] and the labels with digitlab::load_idx_dataset (the same
// checked reader the web app uses), keeps the first `limit` items (0: all), and moves them to the device.
// Errors name the folder and say what to do (run scripts/setup, or check --data-dir).
Result<DeviceSplit> load_split(const std::string& dir, const std::string& prefix, std::int64_t limit,
                               const torch::Device& device);

// The tutorial's ToTensor + Normalize(mean, std) as one table lookup: value v becomes
// (float(v) / 255 - mean) / std, computed in float32 exactly as torchvision does, for all 256 values.
class Normalizer {
 public:
  Normalizer(float mean, float std, const torch::Device& device);
  // uint8 (N, C, H, W) -> float32 (N, C, H, W) on the same device.
  torch::Tensor operator()(const torch::Tensor& pixels) const;
  // One image as the model's input, on the CPU (the self-test input of the weights file).
  std::vector<float> image(const torch::Tensor& pixels_chw) const;

 private:
  torch::Tensor table_;  // (256) float32
};

// Moves every image of a uint8 batch by (dy, dx) in [-max_shift, max_shift], one offset per image, drawn
// from `offsets` ((N, 2) int64 in [0, 2*max_shift]). The uncovered border becomes background (0).
torch::Tensor shift_images(const torch::Tensor& pixels, const torch::Tensor& offsets, int max_shift);

}  // namespace digitlab::trainer
