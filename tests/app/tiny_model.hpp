// A tiny seeded model (flatten + linear 784 -> 10) as a weights file, for the app's tests with and without
// ImGui. Read next: app_harness.hpp (the headless App that loads it), test_preprocess_steps.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "digitlab/architectures.hpp"
#include "digitlab/weights.hpp"

namespace digitlab::app::testing {

inline std::vector<std::uint8_t> tiny_weights(std::uint64_t seed) {
  Model model;
  model.card = make_mnist_card("tiny-linear");
  model.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(784, 10)};
  randomize_parameters(model, seed);
  return write_weights(model).value();
}

}  // namespace digitlab::app::testing
