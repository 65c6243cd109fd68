// The tutorial's networks built from code with seeded weights (see architectures.hpp for the layouts).
// Read next: model.cpp (what forward() does with these layers).
#include "digitlab/architectures.hpp"

#include <cmath>

namespace digitlab {

std::uint64_t SeededRandom::next_u64() {
  // splitmix64: tiny, well mixed, and integer-only, so every platform draws the same sequence.
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float SeededRandom::uniform(float low, float high) {
  const float unit = static_cast<float>(next_u64() >> 40) * (1.0f / 16777216.0f);  // [0, 1), exact
  return low + (high - low) * unit;
}

namespace {

Tensor zeros(std::vector<std::int64_t> shape) {
  std::int64_t count = 1;
  for (std::int64_t d : shape) count *= d;
  return Tensor{std::move(shape), std::vector<float>(static_cast<std::size_t>(count), 0.f)};
}

Tensor filled(std::int64_t size, float value) {
  return Tensor{{size}, std::vector<float>(static_cast<std::size_t>(size), value)};
}

}  // namespace

Layer make_linear_layer(std::int64_t in_features, std::int64_t out_features) {
  Layer layer;
  layer.kind = LayerKind::linear;
  layer.in_features = in_features;
  layer.out_features = out_features;
  layer.tensors = {zeros({out_features, in_features}), zeros({out_features})};
  return layer;
}

Layer make_conv2d_layer(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel,
                        std::int64_t stride, std::int64_t padding) {
  Layer layer;
  layer.kind = LayerKind::conv2d;
  layer.in_channels = in_channels;
  layer.out_channels = out_channels;
  layer.kernel = kernel;
  layer.stride = stride;
  layer.padding = padding;
  layer.tensors = {zeros({out_channels, in_channels, kernel, kernel}), zeros({out_channels})};
  return layer;
}

Layer make_batch_norm_layer(std::int64_t channels, float eps) {
  Layer layer;
  layer.kind = LayerKind::batch_norm;
  layer.channels = channels;
  layer.eps = eps;
  layer.tensors = {filled(channels, 1.f), filled(channels, 0.f), filled(channels, 0.f), filled(channels, 1.f)};
  return layer;
}

Layer make_max_pool2d_layer(std::int64_t kernel, std::int64_t stride) {
  Layer layer;
  layer.kind = LayerKind::max_pool2d;
  layer.kernel = kernel;
  layer.stride = stride;
  return layer;
}

Layer make_dropout_layer(float p) {
  Layer layer;
  layer.kind = LayerKind::dropout;
  layer.dropout_p = p;
  return layer;
}

Layer make_leaky_relu_layer(float alpha) {
  Layer layer;
  layer.kind = LayerKind::leaky_relu;
  layer.alpha = alpha;
  return layer;
}

Layer make_simple_layer(LayerKind kind) {
  Layer layer;
  layer.kind = kind;
  return layer;
}

void randomize_parameters(Model& model, std::uint64_t seed) {
  SeededRandom random(seed);
  for (Layer& layer : model.layers) {
    if (layer.kind == LayerKind::linear || layer.kind == LayerKind::conv2d) {
      const std::int64_t fan_in = layer.kind == LayerKind::linear
                                      ? layer.in_features
                                      : layer.in_channels * layer.kernel * layer.kernel;
      const float bound = 1.f / std::sqrt(static_cast<float>(fan_in > 0 ? fan_in : 1));
      for (Tensor& tensor : layer.tensors) {
        for (float& v : tensor.values) v = random.uniform(-bound, bound);
      }
    } else if (layer.kind == LayerKind::batch_norm && layer.tensors.size() == 4) {
      for (float& v : layer.tensors[0].values) v = random.uniform(0.5f, 1.5f);   // gamma
      for (float& v : layer.tensors[1].values) v = random.uniform(-0.2f, 0.2f);  // beta
      for (float& v : layer.tensors[2].values) v = random.uniform(-0.2f, 0.2f);  // running_mean
      for (float& v : layer.tensors[3].values) v = random.uniform(0.5f, 1.5f);   // running_var
    }
  }
}

ModelCard make_mnist_card(const std::string& architecture) {
  ModelCard card;
  card.architecture = architecture;
  card.dataset = "mnist";
  card.class_names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  card.input_channels = 1;
  card.input_height = 28;
  card.input_width = 28;
  card.normalize_mean = 0.5f;
  card.normalize_std = 0.5f;
  card.recipe = "seeded random weights (architectures.cpp), untrained";
  return card;
}

namespace {

Model make_mlp_with(const std::string& name, const std::vector<std::int64_t>& widths, std::uint64_t seed) {
  Model model;
  model.card = make_mnist_card(name);
  model.layers.push_back(make_simple_layer(LayerKind::flatten));
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    if (i > 0) model.layers.push_back(make_simple_layer(LayerKind::relu));
    model.layers.push_back(make_linear_layer(widths[i], widths[i + 1]));
  }
  randomize_parameters(model, seed);
  return model;
}

}  // namespace

Model make_mlp(std::uint64_t seed) { return make_mlp_with("mlp", {784, 512, 512, 10}, seed); }

Model make_mlp_deep(std::uint64_t seed) {
  return make_mlp_with("mlp-deep", {784, 1024, 1024, 512, 512, 10}, seed);
}

Model make_cnn(std::uint64_t seed) {
  Model model;
  model.card = make_mnist_card("cnn");
  const std::int64_t channels[4] = {1, 32, 64, 128};
  for (int block = 0; block < 3; ++block) {
    model.layers.push_back(make_conv2d_layer(channels[block], channels[block + 1], 3, 1, 1));
    model.layers.push_back(make_batch_norm_layer(channels[block + 1]));
    model.layers.push_back(make_simple_layer(LayerKind::relu));
    model.layers.push_back(make_max_pool2d_layer(2, 2));
  }
  model.layers.push_back(make_simple_layer(LayerKind::flatten));
  model.layers.push_back(make_linear_layer(128 * 3 * 3, 512));
  model.layers.push_back(make_batch_norm_layer(512));
  model.layers.push_back(make_simple_layer(LayerKind::relu));
  model.layers.push_back(make_dropout_layer(0.4f));
  model.layers.push_back(make_linear_layer(512, 512));
  model.layers.push_back(make_batch_norm_layer(512));
  model.layers.push_back(make_simple_layer(LayerKind::relu));
  model.layers.push_back(make_dropout_layer(0.4f));
  model.layers.push_back(make_linear_layer(512, 10));
  randomize_parameters(model, seed);
  return model;
}

const std::vector<std::string>& architecture_names() {
  static const std::vector<std::string> names = {"mlp", "mlp-deep", "cnn"};
  return names;
}

Result<Model> make_architecture(const std::string& name, std::uint64_t seed) {
  if (name == "mlp") return make_mlp(seed);
  if (name == "mlp-deep") return make_mlp_deep(seed);
  if (name == "cnn") return make_cnn(seed);
  return make_error(ErrorCode::bad_argument, "architecture", 0,
                    "unknown architecture '" + name + "'; choose mlp, mlp-deep or cnn.");
}

}  // namespace digitlab
