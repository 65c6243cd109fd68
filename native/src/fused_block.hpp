// The CNN's BatchNorm2d -> ReLU -> MaxPool2d(2) as one training-time operation on channels-last CPU
// tensors, with its own backward pass. Same mathematics as the three PyTorch modules; a third of their
// memory traffic. Read next: fused_block.cpp (the kernels and why), network.cpp (when it is used).
#pragma once

#include <torch/torch.h>

namespace digitlab::trainer {

// Training mode only: normalises with the batch's statistics (biased variance), updates the module's
// running_mean / running_var (unbiased variance, PyTorch's momentum rule) and num_batches_tracked, then
// ReLU and 2x2 max pooling (stride 2, floor; ties go to the first element in scan order, as PyTorch).
// input: (N, C, H, W) float32 on the CPU, channels-last. Returns (N, C, H/2, W/2), channels-last.
// Deterministic for any thread count: partial sums are per image and added in image order.
torch::Tensor batch_norm_relu_max_pool(const torch::Tensor& input, torch::nn::BatchNorm2dImpl& batch_norm);

// Whether the fused path applies to this input (CPU, float32, 4-d, channels-last, H and W at least 2).
bool can_fuse_batch_norm_relu_max_pool(const torch::Tensor& input);

}  // namespace digitlab::trainer
