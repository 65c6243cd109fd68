// The fused BatchNorm2d -> ReLU -> MaxPool2d(2) training operation against PyTorch's three modules:
// outputs, running statistics and all three gradients, on odd sizes and with ties. Read next:
// native/src/fused_block.cpp.
#include <cmath>
#include <cstdio>

#include "fused_block.hpp"

// LibTorch brings glog, whose CHECK() aborts the process; Catch's CHECK() records and carries on.
#undef CHECK
#include <catch2/catch.hpp>

using namespace digitlab::trainer;

namespace {

// Largest |a - b| relative to max(1, |b|), with the flat index where it is.
std::pair<double, std::int64_t> largest_difference(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor x = a.contiguous().to(torch::kFloat64).flatten(), y = b.contiguous().to(torch::kFloat64).flatten();
  torch::Tensor difference = (x - y).abs() / y.abs().clamp_min(1.0);
  const std::int64_t at = difference.argmax().item<std::int64_t>();
  return {difference[at].item<double>(), at};
}

void check_close(const char* what, const torch::Tensor& fused, const torch::Tensor& reference, double tolerance) {
  REQUIRE(fused.sizes() == reference.sizes());
  const auto [largest, at] = largest_difference(fused, reference);
  std::printf("fused vs PyTorch (float64), %-13s largest relative difference %.3g at element %lld\n", what, largest,
              static_cast<long long>(at));
  INFO(what << ": largest relative difference " << largest << " at element " << at);
  CHECK(largest <= tolerance);
}

torch::Tensor channels_last(const torch::Tensor& t) {
  return torch::empty(t.sizes(), t.options().memory_format(at::MemoryFormat::ChannelsLast)).copy_(t);
}

}  // namespace

TEST_CASE("fused batch norm + ReLU + 2x2 max pool matches PyTorch's modules in training", "[fused]") {
  at::set_num_threads(1);
  for (const auto& sizes : std::vector<std::vector<std::int64_t>>{{4, 8, 6, 6}, {3, 5, 7, 9}, {64, 32, 28, 28}}) {
    torch::manual_seed(11);
    const std::int64_t channels = sizes[1];
    torch::Tensor input = channels_last(torch::randn(sizes).mul_(3).add_(1));
    if (sizes[0] == 4) input.select(3, 1).copy_(input.select(3, 0));  // exact ties inside windows

    // The reference runs in float64: it shows the fused operation's error, not float32's in both.
    torch::nn::BatchNorm2d fused_bn(channels), reference_bn(channels);
    reference_bn->to(torch::kFloat64);
    {
      torch::NoGradGuard no_grad;
      torch::Tensor gamma = torch::rand({channels}).add_(0.5), beta = torch::randn({channels}).mul_(0.2);
      gamma[0] = -0.7f;  // a negative scale flips which element is the window's maximum
      torch::Tensor running_mean = torch::randn({channels}).mul_(0.1), running_var = torch::rand({channels}).add_(0.5);
      for (auto* bn : {&fused_bn, &reference_bn}) {
        (*bn)->weight.copy_(gamma);
        (*bn)->bias.copy_(beta);
        (*bn)->running_mean.copy_(running_mean);
        (*bn)->running_var.copy_(running_var);
      }
    }
    fused_bn->train();
    reference_bn->train();

    torch::Tensor fused_input = input.clone().requires_grad_(true);
    torch::Tensor reference_input = input.to(torch::kFloat64).requires_grad_(true);
    REQUIRE(can_fuse_batch_norm_relu_max_pool(fused_input));
    torch::Tensor fused = batch_norm_relu_max_pool(fused_input, *fused_bn);
    torch::Tensor reference = torch::max_pool2d(torch::relu(reference_bn->forward(reference_input)), {2, 2}, {2, 2});

    INFO("input sizes " << sizes[0] << "x" << sizes[1] << "x" << sizes[2] << "x" << sizes[3]);
    check_close("output", fused, reference, 1e-5);
    CHECK(fused.is_contiguous(at::MemoryFormat::ChannelsLast));
    check_close("running_mean", fused_bn->running_mean, reference_bn->running_mean, 1e-6);
    check_close("running_var", fused_bn->running_var, reference_bn->running_var, 1e-6);
    CHECK(fused_bn->num_batches_tracked.item<std::int64_t>() == reference_bn->num_batches_tracked.item<std::int64_t>());

    torch::Tensor upstream = torch::randn(fused.sizes());
    fused.backward(upstream);
    reference.backward(upstream.to(torch::kFloat64));
    check_close("grad input", fused_input.grad(), reference_input.grad(), 1e-4);
    check_close("grad gamma", fused_bn->weight.grad(), reference_bn->weight.grad(), 1e-4);
    check_close("grad beta", fused_bn->bias.grad(), reference_bn->bias.grad(), 1e-5);
  }
}

TEST_CASE("the fused operation gives the same bits for any thread count", "[fused][determinism]") {
  torch::manual_seed(3);
  torch::Tensor input = channels_last(torch::randn({16, 32, 14, 14}));
  torch::Tensor upstream = torch::randn({16, 32, 7, 7});
  std::vector<torch::Tensor> outputs, gradients;
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    torch::nn::BatchNorm2d bn(32);
    torch::Tensor x = input.clone().requires_grad_(true);
    torch::Tensor y = batch_norm_relu_max_pool(x, *bn);
    y.backward(upstream);
    outputs.push_back(y.contiguous());
    gradients.push_back(x.grad().contiguous());
  }
  at::set_num_threads(1);
  CHECK(torch::equal(outputs[0], outputs[1]));
  CHECK(torch::equal(gradients[0], gradients[1]));
}
