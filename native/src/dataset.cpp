// Datasets on the device (see dataset.hpp): loading through the core's idx reader, normalisation by a
// 256-entry table, and shift augmentation by gathering. Read next: network.cpp.
#include "dataset.hpp"

#include <fmt/format.h>

#include "digitlab/idx.hpp"

namespace digitlab::trainer {

Result<DeviceSplit> load_split(const std::string& dir, const std::string& prefix, std::int64_t limit,
                               const torch::Device& device) {
  const std::string split = prefix == "train" ? "training" : "test";
  auto loaded = load_idx_dataset(dir, prefix);
  if (!loaded) {
    Error error = loaded.error();
    error.message = fmt::format("cannot load the {} set from {}: {}", split, dir, error.message);
    if (error.message.find("scripts/setup") == std::string::npos)
      error.message += " (check --data-dir, or run scripts/setup to fetch and verify the data)";
    return error;
  }
  IdxDataset& data = loaded.value();
  if (data.images.rows != 28 || data.images.cols != 28)
    return make_error(ErrorCode::bad_dimensions, prefix + "-images", 0,
                      fmt::format("the {} images in {} are {}x{}; the models take 28x28 images (MNIST or "
                                  "Fashion-MNIST)",
                                  split, dir, data.images.rows, data.images.cols));
  std::int64_t count = data.size();
  if (count == 0)
    return make_error(ErrorCode::empty_input, prefix + "-images", 0,
                      fmt::format("the {} set in {} has no images", split, dir));
  if (limit > 0 && limit < count) count = limit;

  DeviceSplit result;
  // from_blob views the reader's buffer; clone() gives the tensor its own storage before the buffer goes.
  result.images = torch::from_blob(data.images.pixels.data(), {count, 1, 28, 28}, torch::kUInt8).clone().to(device);
  result.labels = torch::from_blob(data.labels.labels.data(), {count}, torch::kUInt8).to(torch::kInt64).to(device);
  return result;
}

Normalizer::Normalizer(float mean, float std, const torch::Device& device) {
  std::vector<float> table(256);
  for (int v = 0; v < 256; ++v) {
    // torchvision: ToTensor divides by 255 in float32, Normalize subtracts then divides, in float32.
    const float unit = static_cast<float>(v) / 255.f;
    table[v] = (unit - mean) / std;
  }
  table_ = torch::tensor(table, torch::kFloat32).to(device);
}

torch::Tensor Normalizer::operator()(const torch::Tensor& pixels) const {
  return table_.index_select(0, pixels.reshape({-1}).to(torch::kInt32)).view(pixels.sizes());
}

std::vector<float> Normalizer::image(const torch::Tensor& pixels_chw) const {
  torch::Tensor values = (*this)(pixels_chw).to(torch::kCPU).contiguous();
  return std::vector<float>(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
}

torch::Tensor shift_images(const torch::Tensor& pixels, const torch::Tensor& offsets, int max_shift) {
  const std::int64_t n = pixels.size(0), height = pixels.size(2), width = pixels.size(3);
  const auto options = torch::TensorOptions().dtype(torch::kInt64).device(pixels.device());
  // Pad with background, then read a height x width window at (oy, ox) of each padded image: window
  // offset 0 is a shift by +max_shift, offset 2*max_shift a shift by -max_shift.
  torch::Tensor padded = torch::constant_pad_nd(pixels, {max_shift, max_shift, max_shift, max_shift}, 0);
  torch::Tensor rows = offsets.select(1, 0).view({n, 1, 1}) + torch::arange(height, options).view({1, height, 1});
  torch::Tensor cols = offsets.select(1, 1).view({n, 1, 1}) + torch::arange(width, options).view({1, 1, width});
  torch::Tensor batch = torch::arange(n, options).view({n, 1, 1});
  torch::Tensor plane = padded.select(1, 0);  // (N, H + 2s, W + 2s): the images have one channel
  return plane.index({batch, rows, cols}).unsqueeze(1).contiguous();
}

}  // namespace digitlab::trainer
