// train.hpp's backward passes against central finite differences of the loss (and of one logit for
// input_gradient), on a small dense stack with every dense layer kind; the loss against forward()'s
// logits. Read next: shared/src/train.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "digitlab/architectures.hpp"
#include "digitlab/model.hpp"
#include "digitlab/train.hpp"

using namespace digitlab;

namespace {

Layer linear(std::int64_t in, std::int64_t out) {
  Layer layer;
  layer.kind = LayerKind::linear;
  layer.in_features = in;
  layer.out_features = out;
  layer.tensors = {Tensor{{out, in}, std::vector<float>(static_cast<std::size_t>(out * in))},
                   Tensor{{out}, std::vector<float>(static_cast<std::size_t>(out))}};
  return layer;
}

Layer plain(LayerKind kind) {
  Layer layer;
  layer.kind = kind;
  return layer;
}

// 1x2x3 input, 4 classes: flatten, linear, tanh, linear, leaky_relu, linear, sigmoid, linear, relu,
// dropout, linear, softmax.
Model small_model() {
  Model model;
  model.card.input_channels = 1;
  model.card.input_height = 2;
  model.card.input_width = 3;
  model.card.class_names = {"a", "b", "c", "d"};
  model.layers = {plain(LayerKind::flatten), linear(6, 7),  plain(LayerKind::tanh),
                  linear(7, 6),  plain(LayerKind::leaky_relu), linear(6, 5), plain(LayerKind::sigmoid),
                  linear(5, 6),  plain(LayerKind::relu),  plain(LayerKind::dropout), linear(6, 4),
                  plain(LayerKind::softmax)};
  model.layers[4].alpha = 0.1f;
  SeededRandom random(7);
  for (Layer& layer : model.layers) {
    for (Tensor& tensor : layer.tensors) {
      for (float& v : tensor.values) v = random.uniform(-0.9f, 0.9f);
    }
  }
  return model;
}

double mean_loss(const Model& model, const std::vector<float>& inputs, const std::vector<int>& labels) {
  double sum = 0.0;
  for (std::size_t s = 0; s < labels.size(); ++s) {
    auto prediction = forward(model, inputs.data() + s * 6, 6);
    REQUIRE(prediction.ok());
    sum -= std::log(static_cast<double>(prediction.value().probabilities[static_cast<std::size_t>(labels[s])]));
  }
  return sum / static_cast<double>(labels.size());
}

}  // namespace

TEST_CASE("dense backward passes match finite differences of the cross-entropy loss", "[train]") {
  Model model = small_model();
  SeededRandom random(3);
  const std::vector<int> labels = {0, 3, 1, 2, 3};
  std::vector<float> inputs(labels.size() * 6);
  for (float& v : inputs) v = random.uniform(-1.f, 1.f);

  auto result = loss_and_gradients(model, inputs.data(), labels.data(), labels.size());
  REQUIRE(result.ok());
  CHECK(std::abs(result.value().loss - mean_loss(model, inputs, labels)) < 1e-5);

  const float step = 1e-2f;
  double largest = 0.0;
  std::string where;
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    for (std::size_t t = 0; t < model.layers[l].tensors.size(); ++t) {
      REQUIRE(result.value().layers[l].tensors.size() == model.layers[l].tensors.size());
      for (std::size_t i = 0; i < model.layers[l].tensors[t].values.size(); ++i) {
        Model plus = model, minus = model;
        plus.layers[l].tensors[t].values[i] += step;
        minus.layers[l].tensors[t].values[i] -= step;
        const double numeric = (mean_loss(plus, inputs, labels) - mean_loss(minus, inputs, labels)) / (2.0 * step);
        const double analytic = result.value().layers[l].tensors[t].values[i];
        const double difference = std::abs(numeric - analytic);
        if (difference > largest) {
          largest = difference;
          where = "layer " + std::to_string(l) + " tensor " + std::to_string(t) + " index " + std::to_string(i) +
                  ": analytic " + std::to_string(analytic) + ", numeric " + std::to_string(numeric);
        }
      }
    }
  }
  INFO("largest difference " << largest << " at " << where);
  CHECK(largest < 2e-3);
}

TEST_CASE("input_gradient matches finite differences of one logit", "[train]") {
  Model model = small_model();
  SeededRandom random(5);
  std::vector<float> input(6);
  for (float& v : input) v = random.uniform(-1.f, 1.f);
  for (int cls = 0; cls < 4; ++cls) {
    auto gradient = input_gradient(model, input.data(), input.size(), cls);
    REQUIRE(gradient.ok());
    REQUIRE(gradient.value().size() == 6);
    for (std::size_t i = 0; i < 6; ++i) {
      std::vector<float> plus = input, minus = input;
      plus[i] += 1e-2f;
      minus[i] -= 1e-2f;
      const double numeric = (forward(model, plus.data(), 6).value().logits[cls] -
                              forward(model, minus.data(), 6).value().logits[cls]) / 2e-2;
      INFO("class " << cls << " input " << i);
      CHECK(std::abs(numeric - gradient.value()[i]) < 2e-3);
    }
  }
  CHECK_FALSE(input_gradient(model, input.data(), input.size(), 4).ok());
  CHECK_FALSE(input_gradient(make_cnn(1), input.data(), input.size(), 0).ok());
}
