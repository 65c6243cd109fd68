// The tutorial's three networks (mlp, mlp-deep, cnn) built as digitlab::Model from code, with
// deterministic seeded weights, plus one builder per layer kind. Read next: model.hpp, docs/core.md.
//
// Tensors are laid out exactly as the trainer exports them (model.hpp's LayerKind comments): Linear
// weight (out, in) and Conv2d weight (out, in, k, k) as in PyTorch. The same seed gives the same bits on
// every platform (integer generator, float conversion only), so tests, the native-vs-wasm parity probe
// and the benchmarks all see the same numbers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/error.hpp"
#include "digitlab/model.hpp"

namespace digitlab {

// Layer builders: parameters set, tensors allocated with the right shapes and filled with zeros
// (batch_norm: gamma 1, beta 0, running_mean 0, running_var 1, i.e. the identity).
Layer make_linear_layer(std::int64_t in_features, std::int64_t out_features);
Layer make_conv2d_layer(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel,
                        std::int64_t stride = 1, std::int64_t padding = 0);
Layer make_batch_norm_layer(std::int64_t channels, float eps = 1e-5f);
Layer make_max_pool2d_layer(std::int64_t kernel, std::int64_t stride);
Layer make_dropout_layer(float p);
Layer make_leaky_relu_layer(float alpha = 0.01f);
Layer make_simple_layer(LayerKind kind);  // relu, sigmoid, tanh, flatten, softmax

// Fills every tensor of the model with seeded values: linear/conv weights and biases like PyTorch's
// default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)); batch_norm with non-trivial statistics (gamma in
// [0.5, 1.5], beta and running_mean in [-0.2, 0.2], running_var in [0.5, 1.5]) so that tests exercise them.
void randomize_parameters(Model& model, std::uint64_t seed);

// A card for the tutorial's MNIST models: 1x28x28 input, classes "0".."9", mean 0.5 / std 0.5.
ModelCard make_mnist_card(const std::string& architecture);

// mlp: Flatten, Linear 784-512, ReLU, Linear 512-512, ReLU, Linear 512-10.
Model make_mlp(std::uint64_t seed = 1);
// mlp-deep: Flatten, 784-1024-1024-512-512-10 with ReLU between.
Model make_mlp_deep(std::uint64_t seed = 1);
// cnn: [Conv2d 3x3 pad 1, BatchNorm2d, ReLU, MaxPool 2x2] for 1->32, 32->64, 64->128 (28->14->7->3),
// Flatten 1152, Linear 1152-512, BatchNorm1d, ReLU, Dropout 0.4, Linear 512-512, BatchNorm1d, ReLU,
// Dropout 0.4, Linear 512-10.
Model make_cnn(std::uint64_t seed = 1);

// The names above ("mlp", "mlp-deep", "cnn"); bad_argument for anything else.
Result<Model> make_architecture(const std::string& name, std::uint64_t seed = 1);
const std::vector<std::string>& architecture_names();

// The project's deterministic generator (splitmix64), for seeded test inputs everywhere.
class SeededRandom {
 public:
  explicit SeededRandom(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next_u64();
  float uniform(float low, float high);  // 24 random bits, the same float on every platform
 private:
  std::uint64_t state_;
};

}  // namespace digitlab
