// The prediction panel's words when the model hesitates: below kUnsureBelow the label is marked unsure,
// and a second class with at least kSecondShownFrom is named beside the first. A model whose logits are its
// biases (zero weights) gives the same probabilities for any drawing. Read next: wasm/app/app.cpp.
#include <cmath>

#include "app_harness.hpp"
#include "teaching/teaching_panel.hpp"

namespace digitlab::app::testing {
namespace {

std::vector<std::uint8_t> constant_model(const std::vector<float>& probabilities) {
  Model model;
  model.card = make_mnist_card("constant");
  model.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(784, 10)};
  randomize_parameters(model, 1);
  std::fill(model.layers[1].tensors[0].values.begin(), model.layers[1].tensors[0].values.end(), 0.f);
  for (std::size_t i = 0; i < 10; ++i) model.layers[1].tensors[1].values[i] = std::log(probabilities[i]);
  return write_weights(model).value();
}

std::string sentence_for(const std::vector<float>& probabilities) {
  StartedApp started({}, "?panels=draw,prediction");
  App& app = started.app;
  const std::vector<std::uint8_t> bytes = constant_model(probabilities);
  REQUIRE(app.open_user_file("constant.dlw", ByteSpan(bytes.data(), bytes.size())));
  started.imgui.frame(app);
  draw_line(app);
  started.imgui.frame(app);  // the panel draws its words too
  return app.status_sentence();
}

}  // namespace

TEST_CASE("a hesitating model is marked unsure and its two classes are named", "[app][prediction]") {
  const float rest = 0.05f / 8.f;
  const std::string close = sentence_for({rest, 0.35f, rest, rest, rest, rest, rest, 0.60f, rest, rest});
  CHECK(close == "Prediction: 7 (60 %) or 1 (35 %), unsure");
  const std::string unsure_alone = sentence_for({0.10f, 0.10f, rest, rest, rest, rest, rest, 0.75f, rest, rest});
  CHECK(unsure_alone == "Prediction: 7 (75 %), unsure");  // the second has less than kSecondShownFrom
  const float little = 0.03f / 9.f;
  const std::string sure = sentence_for({little, little, little, little, little, little, little, 0.97f, little, little});
  CHECK(sure == "Prediction: 7 (97 %)");
}

}  // namespace digitlab::app::testing
