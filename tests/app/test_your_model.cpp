// The your-model logic without ImGui (wasm/teaching/your_model.cpp), natively and under wasm: the names a
// run gets in the model list, its label, the tutorial class named for the .pth, and the weights file it is
// added as (loads with a passing self-test, says where it was trained, predicts as the model did).
// Read next: test_panel_your_model.cpp (the widget in the app).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "digitlab/architectures.hpp"
#include "digitlab/pytorch.hpp"
#include "digitlab/weights.hpp"
#include "teaching/your_model.hpp"

using namespace digitlab;
using namespace digitlab::app;

TEST_CASE("your model: a new run gets the first free name, and a label that says what it is", "[app][your_model]") {
  ModelCatalog catalog;
  CHECK(next_your_model_name(catalog, {}) == "your-model");
  CHECK(next_your_model_name(catalog, {"your-model"}) == "your-model-2");
  ModelEntry taken;
  taken.name = "your-model-2";
  catalog.add(taken);
  CHECK(next_your_model_name(catalog, {"your-model"}) == "your-model-3");

  ModelCard card = make_mnist_card("mlp");
  CHECK(your_model_label("your-model", card, {800, 5, 0.915, 200}) == "your model: MLP on MNIST, 800 images, 5 epochs, 91.5 %");
  card = make_mnist_card("cnn");
  card.dataset = "fashion-mnist";
  CHECK(your_model_label("your-model-3", card, {100, 1, 0.5, 200}) ==
        "your model 3: CNN on Fashion-MNIST, 100 images, 1 epoch, 50.0 %");
  CHECK(describe_run(make_mnist_card("mlp-deep"), {400, 2, -1.0, 0}) == "deeper MLP on MNIST, 400 images, 2 epochs");

  CHECK(std::string(tutorial_class_for(make_mnist_card("mlp"))) == "NeuralNetwork");
  CHECK(std::string(tutorial_class_for(make_mnist_card("mlp-deep"))) == "NeuralNetwork_v1");
  CHECK(std::string(tutorial_class_for(card)) == "ConvNeuralNetwork");
  CHECK(std::string(tutorial_class_for(make_mnist_card("tiny-linear"))).empty());
}

TEST_CASE("your model: the weights file loads with its self-test and predicts as the model", "[app][your_model]") {
  Model model = make_mlp(5);
  REQUIRE(prepare(model).ok());
  auto file = your_model_weights(model, {800, 5, 0.915, 200});
  REQUIRE(file.ok());
  auto loaded = load_weights(ByteSpan(file.value()));
  REQUIRE(loaded.ok());
  CHECK(loaded.value().has_self_test);  // the loader checked the logits the writer stored
  const ModelCard& card = loaded.value().model.card;
  CHECK(card.recipe.find("trained in the page on 800 images of the MNIST test subset, 91.50 % on 200 held-out ones") !=
        std::string::npos);
  CHECK(card.test_accuracy < 0.f);  // the held-out images are not the test set
  auto again = your_model_weights(model, {800, 5, 0.915, 200});
  REQUIRE(again.ok());
  CHECK(again.value() == file.value());  // the same run, the same bytes: how the widget knows a run again

  auto pth = pytorch::export_state_dict(model);
  REQUIRE(pth.ok());
  auto imported = pytorch::load_pytorch(ByteSpan(pth.value()));
  REQUIRE(imported.ok());
  SeededRandom random(11);
  std::vector<float> input(784);
  for (float& v : input) v = random.uniform(-1.f, 1.f);
  auto expected = forward(model, input.data(), input.size());
  auto from_file = forward(loaded.value().model, input.data(), input.size());
  auto from_pth = forward(imported.value().model, input.data(), input.size());
  REQUIRE((expected.ok() && from_file.ok() && from_pth.ok()));
  CHECK(from_file.value().logits == expected.value().logits);
  CHECK(from_pth.value().logits == expected.value().logits);
}
