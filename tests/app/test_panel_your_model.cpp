// "Your model" (wasm/teaching/your_model.hpp) headless: the train panel trains the MLP on a small subset,
// "Use for drawing" adds it to the model list next to the model already loaded, the prediction, explorer,
// confusion and compare panels then work on it, and the downloads give a .dlw the core's loader reads back
// and a .pth the core's PyTorch reader reads back, both predicting exactly as the model in the app. A second,
// different run becomes your-model-2 (evaluated afresh); the same run again keeps its name; a CNN's .pth is
// for ConvNeuralNetwork. With DIGITLAB_YOUR_MODEL_OUT set, each .pth and the app's logits on seeded inputs
// are written there for the real PyTorch check (tests/pytorch/check_your_model.py). Read next:
// test_panel_train.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "app/app.hpp"
#include "app_harness.hpp"
#include "band_images.hpp"
#include "digitlab/architectures.hpp"
#include "digitlab/pytorch.hpp"
#include "digitlab/train.hpp"
#include "teaching/test_subset.hpp"
#include "teaching/your_model.hpp"
#include "test_subset_fixture.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

namespace {

json train_state(const App& app) { return state_of(app)["panel_state"]["train"]; }

// Start, hand over the subset when asked for, train until done.
void train_to_end(Headless& imgui, App& app, FakeServices& services, const std::vector<std::uint8_t>& images_gz,
                  const std::vector<std::uint8_t>& labels_gz) {
  const std::size_t fetches = services.asset_fetches.size();
  imgui.click_center(app, train_state(app)["start_rect"]);
  if (services.asset_fetches.size() > fetches) {  // the first run fetches the subset, later ones keep it
    app.asset_arrived(test_subset_images_path("mnist"), ByteSpan(images_gz));
    app.asset_arrived(test_subset_labels_path("mnist"), ByteSpan(labels_gz));
  }
  for (int i = 0; i < 4000 && train_state(app)["status"] != "done"; ++i) imgui.frame(app);
  INFO(train_state(app).dump());
  REQUIRE(train_state(app)["status"] == "done");
  imgui.frame(app);  // the results and the widget are drawn
}

// Picks item `item` of a combo box the panel reports: opens it, clicks the item's row (rows one line
// high plus the item spacing, under the popup's padding), checks what the state says afterwards.
void choose(Headless& imgui, App& app, const json& rect, int item) {
  imgui.click_center(app, rect);
  const ImGuiStyle& style = ImGui::GetStyle();
  const float row = ImGui::GetTextLineHeight() + style.ItemSpacing.y;
  const float top = rect["y"].get<float>() + rect["height"].get<float>() + style.WindowPadding.y;
  imgui.click(app, rect["x"].get<float>() + 20.f, top + row * float(item) + ImGui::GetTextLineHeight() * 0.5f);
}

float max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float worst = 0.f;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

std::vector<float> logits_of(const Model& model, const std::vector<float>& input) {
  auto prediction = forward(model, input.data(), input.size());
  REQUIRE(prediction.ok());
  return prediction.value().logits;
}

void write_raw(const std::string& path, const void* data, std::size_t size) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  REQUIRE(file);
  REQUIRE(std::fwrite(data, 1, size, file) == size);
  REQUIRE(std::fclose(file) == 0);
}

// The downloaded .dlw and .pth, read back by the core's loaders, give the model's logits exactly on seeded
// inputs; with DIGITLAB_YOUR_MODEL_OUT set, the .pth, the inputs, the logits and the Python class the widget
// names are written there as <stem>.* for tests/pytorch/check_your_model.py.
void check_downloads_and_export(const std::vector<std::uint8_t>& dlw_bytes, const std::vector<std::uint8_t>& pth_bytes,
                                const Model& in_app, const std::string& python_class, const std::string& stem) {
  auto dlw = load_weights(ByteSpan(dlw_bytes));
  REQUIRE(dlw.ok());
  CHECK(dlw.value().has_self_test);
  auto pth = pytorch::load_pytorch(ByteSpan(pth_bytes));
  INFO((pth.ok() ? std::string() : pth.error().to_string()));
  REQUIRE(pth.ok());
  SeededRandom random(7);
  std::vector<float> inputs, logits;
  for (int sample = 0; sample < 8; ++sample) {
    std::vector<float> x(784);
    for (float& v : x) v = random.uniform(-1.f, 1.f);
    const std::vector<float> reference = logits_of(in_app, x);
    CHECK(max_difference(logits_of(dlw.value().model, x), reference) == 0.f);
    CHECK(max_difference(logits_of(pth.value().model, x), reference) == 0.f);
    inputs.insert(inputs.end(), x.begin(), x.end());
    logits.insert(logits.end(), reference.begin(), reference.end());
  }
  if (const char* out = std::getenv("DIGITLAB_YOUR_MODEL_OUT")) {
    const std::string prefix = std::string(out) + "/" + stem;
    write_raw(prefix + ".pth", pth_bytes.data(), pth_bytes.size());
    write_raw(prefix + ".inputs.f32", inputs.data(), inputs.size() * sizeof(float));
    write_raw(prefix + ".logits.f32", logits.data(), logits.size() * sizeof(float));
    write_raw(prefix + ".class.txt", python_class.data(), python_class.size());
  }
}

}  // namespace

TEST_CASE("your model: the trained MLP joins the model list, every panel uses it, the downloads load back",
          "[app][ui][panels][train][your_model]") {
  StartedApp started({entry("main", true)}, "panels=train");
  ImGui::GetIO().DisplaySize = ImVec2(1100, 1000);  // the widget under the results, without scrolling
  Headless& imgui = started.imgui;
  App& app = started.app;
  FakeServices& services = started.services;
  REQUIRE(services.fetches.size() == 1);
  app.weights_arrived(0, ByteSpan(tiny_weights(3)));  // the shipped model, loaded before training
  REQUIRE(state_of(app)["model"] == "main");
  imgui.frame(app);
  std::vector<std::uint8_t> labels;
  const std::vector<std::uint8_t> images = band_images(1000, &labels);
  const std::vector<std::uint8_t> images_gz = gzip_stored(images), labels_gz = gzip_stored(labels);
  train_to_end(imgui, app, services, images_gz, labels_gz);
  const json trained = train_state(app);
  const double held_out_accuracy = trained["accuracy"];

  json widget = trained["your_model"];
  CHECK(widget["name"] == "your-model");
  CHECK(widget["in_list"] == false);
  CHECK(widget["python_class"] == "NeuralNetwork");  // the tutorial's class for the mlp

  // Use for drawing: a new entry, active, labelled for the learner; the shipped model stays loaded.
  imgui.click_center(app, widget["use_rect"]);
  json state = state_of(app);
  CHECK(state["model"] == "your-model");
  CHECK(state["models"] == json::array({"main", "your-model"}));
  CHECK(state["messages"].empty());
  const ModelCatalog& catalog = app.catalog();
  CHECK(catalog.is_loaded(0));
  const ModelEntry& entry = *catalog.active_entry();
  const std::string accuracy_text = format_text("%.1f %%", 100.0 * held_out_accuracy);
  CHECK(entry.label == "your model: MLP on MNIST, 800 images, 5 epochs, " + accuracy_text);
  CHECK(entry.architecture == "mlp");
  CHECK(entry.dataset == "mnist");
  CHECK(entry.test_accuracy < 0.f);  // the held-out 200 are not the test set: the label says what they gave
  const LoadedWeights& in_app = catalog.active();
  CHECK(in_app.has_self_test);  // checked on load as any file is
  CHECK(in_app.model.card.recipe.find("trained in the page on 800 images of the MNIST test subset") != std::string::npos);
  imgui.frame(app);
  widget = train_state(app)["your_model"];
  CHECK(widget["in_list"] == true);

  // The prediction panel predicts with it: the probabilities are the model's on the drawing's input.
  app.set_panels({PanelId::draw, PanelId::prediction, PanelId::network, PanelId::preprocess});
  imgui.frame(app);
  draw_line(app);
  imgui.frame(app);
  state = state_of(app);
  REQUIRE(state["prediction"].is_number());
  CHECK(state["panel_state"]["network"]["model"] == "your-model");
  CHECK(state["panel_state"]["network"]["parameters"] == parameter_count(in_app.model));
  const json image28 = json::parse(app.model_input_json());
  REQUIRE(image28.size() == 784);
  std::vector<float> input;
  for (const json& value : image28)
    input.push_back((value.get<float>() - in_app.model.card.normalize_mean) / in_app.model.card.normalize_std);
  auto expected = forward(in_app.model, input.data(), input.size());
  REQUIRE(expected.ok());
  CHECK(state["prediction"] == expected.value().label);
  std::vector<float> shown;
  for (const json& p : state["probabilities"]) shown.push_back(p.get<float>());
  CHECK(max_difference(shown, expected.value().probabilities) < 1e-6f);

  // The explorer and confusion panels evaluate it on the subset (the one it learned from, here).
  app.set_panels({PanelId::explorer, PanelId::confusion});
  for (int i = 0; i < 2000 && state_of(app)["panel_state"]["confusion"]["evaluated"] != 1000; ++i) imgui.frame(app);
  state = state_of(app);
  const json confusion = state["panel_state"]["confusion"];
  CHECK(confusion["model"] == "your-model");
  CHECK(state["panel_state"]["explorer"]["model"] == "your-model");
  REQUIRE(confusion["evaluated"] == 1000);
  const ImageSet all{images.data() + 16, labels.data() + 8, 1000, 1, 28, 28};
  auto evaluation = evaluate(in_app.model, all);
  REQUIRE(evaluation.ok());
  CHECK(confusion["misclassified"] == 1000 - evaluation.value().correct);
  CHECK(confusion["accuracy"].get<double>() == Approx(evaluation.value().accuracy).margin(1e-6));
  CHECK(evaluation.value().accuracy > 0.9);  // bands are easy

  // The downloads: a .dlw that the core's loader reads back, a .pth that the core's PyTorch reader reads
  // back, both giving the model's logits exactly.
  app.set_panels({PanelId::train});
  imgui.frame(app);
  widget = train_state(app)["your_model"];
  imgui.click_center(app, widget["dlw_rect"]);
  imgui.click_center(app, widget["pth_rect"]);
  REQUIRE(services.saved.size() == 2);
  CHECK(services.saved[0].first == "your-model.dlw");
  CHECK(services.saved[1].first == "your-model.pth");
  CHECK(train_state(app)["your_model"]["saved"] == json::array({"your-model.dlw", "your-model.pth"}));
  check_downloads_and_export(services.saved[0].second, services.saved[1].second, in_app.model, widget["python_class"], "mlp");

  // The same run again: the same bits, so it keeps its name and the list does not grow.
  imgui.click_center(app, train_state(app)["reset_rect"]);
  train_to_end(imgui, app, services, images_gz, labels_gz);
  widget = train_state(app)["your_model"];
  CHECK(widget["name"] == "your-model");
  CHECK(widget["in_list"] == true);
  CHECK(state_of(app)["models"].size() == 2);

  // Another run (Adam): your-model-2, beside the first, evaluated afresh; the compare panel reads both.
  imgui.click_center(app, train_state(app)["reset_rect"]);
  choose(imgui, app, train_state(app)["setting_rects"]["optimizer"], 1);
  REQUIRE(train_state(app)["optimizer"] == "adam");
  train_to_end(imgui, app, services, images_gz, labels_gz);
  widget = train_state(app)["your_model"];
  CHECK(widget["name"] == "your-model-2");
  imgui.click_center(app, widget["use_rect"]);
  state = state_of(app);
  CHECK(state["model"] == "your-model-2");
  CHECK(state["models"] == json::array({"main", "your-model", "your-model-2"}));
  CHECK(app.catalog().active_entry()->label.rfind("your model 2: MLP on MNIST, 800 images, 5 epochs, ", 0) == 0);
  app.set_panels({PanelId::draw, PanelId::confusion, PanelId::compare});
  imgui.frame(app);  // the panels' states are the last frame's
  for (int i = 0; i < 2000 && state_of(app)["panel_state"]["confusion"]["evaluated"] != 1000; ++i) imgui.frame(app);
  state = state_of(app);
  CHECK(state["panel_state"]["confusion"]["model"] == "your-model-2");
  CHECK(state["panel_state"]["confusion"]["evaluated"] == 1000);
  auto second = evaluate(app.catalog().active().model, all);
  REQUIRE(second.ok());
  CHECK(state["panel_state"]["confusion"]["misclassified"] == 1000 - second.value().correct);
  std::vector<std::string> compared;
  for (const json& row : state["panel_state"]["compare"]["rows"]) compared.push_back(row["name"]);
  CHECK(compared == std::vector<std::string>{"main", "your-model", "your-model-2"});
}

TEST_CASE("your model: a platform that cannot save says so", "[app][ui][panels][train][your_model]") {
  StartedApp started({entry("main", true)}, "panels=train");
  ImGui::GetIO().DisplaySize = ImVec2(1100, 1000);  // the widget under the results, without scrolling
  Headless& imgui = started.imgui;
  App& app = started.app;
  started.services.save_refused = true;
  imgui.frame(app);
  std::vector<std::uint8_t> labels;
  const std::vector<std::uint8_t> images = band_images(1000, &labels);
  train_to_end(imgui, app, started.services, gzip_stored(images), gzip_stored(labels));
  imgui.click_center(app, train_state(app)["your_model"]["dlw_rect"]);
  const json widget = train_state(app)["your_model"];
  CHECK(widget["saved"].empty());
  CHECK(widget["problem"] == "your-model.dlw could not be saved here.");
}

TEST_CASE("your model: a trained CNN downloads as a .pth for ConvNeuralNetwork", "[app][ui][panels][train][your_model]") {
  StartedApp started({entry("main", true)}, "panels=train");
  ImGui::GetIO().DisplaySize = ImVec2(1100, 1000);
  Headless& imgui = started.imgui;
  App& app = started.app;
  imgui.frame(app);
  choose(imgui, app, train_state(app)["setting_rects"]["model"], 2);
  choose(imgui, app, train_state(app)["setting_rects"]["train_images"], 0);
  REQUIRE(train_state(app)["model"] == "cnn");
  std::vector<std::uint8_t> labels;
  const std::vector<std::uint8_t> images = band_images(1000, &labels);
  train_to_end(imgui, app, started.services, gzip_stored(images), gzip_stored(labels));
  json widget = train_state(app)["your_model"];
  CHECK(train_state(app)["train_images"] == 100);
  CHECK(widget["python_class"] == "ConvNeuralNetwork");
  imgui.click_center(app, widget["use_rect"]);
  REQUIRE(state_of(app)["model"] == "your-model");
  CHECK(app.catalog().active_entry()->label.rfind("your model: CNN on MNIST, 100 images, 5 epochs, ", 0) == 0);
  imgui.frame(app);
  widget = train_state(app)["your_model"];
  imgui.click_center(app, widget["dlw_rect"]);
  imgui.click_center(app, widget["pth_rect"]);
  REQUIRE(started.services.saved.size() == 2);
  check_downloads_and_export(started.services.saved[0].second, started.services.saved[1].second,
                             app.catalog().active().model, widget["python_class"], "cnn");
}

TEST_CASE("model panel (lab build): the active model downloads as .dlw and .pth", "[app][ui][panels][your_model]") {
  StartedApp started({entry("mnist-mlp", true), entry("tiny")}, "panels=model");
  Headless& imgui = started.imgui;
  App& app = started.app;
  Model mlp = make_mlp(9);
  WriteOptions options;
  options.dtype = DType::float16;
  app.weights_arrived(0, ByteSpan(write_weights(mlp, options).value()));
  imgui.frame(app);
  json panel = state_of(app)["panel_state"]["model"];
  imgui.click_center(app, panel["dlw_rect"]);
  imgui.click_center(app, panel["pth_rect"]);
  REQUIRE(started.services.saved.size() == 2);
  CHECK(started.services.saved[0].first == "mnist-mlp.dlw");
  CHECK(started.services.saved[1].first == "mnist-mlp.pth");
  CHECK(state_of(app)["panel_state"]["model"]["said"] == "Saved: mnist-mlp.pth");
  auto dlw = load_weights(ByteSpan(started.services.saved[0].second));
  REQUIRE(dlw.ok());
  CHECK(dlw.value().dtype == DType::float16);  // as the model was shipped
  CHECK(dlw.value().has_self_test);
  auto pth = pytorch::load_pytorch(ByteSpan(started.services.saved[1].second));
  REQUIRE(pth.ok());
  std::vector<float> x(784);
  SeededRandom random(3);
  for (float& v : x) v = random.uniform(-1.f, 1.f);
  const std::vector<float> reference = logits_of(app.catalog().active().model, x);
  CHECK(max_difference(logits_of(dlw.value().model, x), reference) == 0.f);
  CHECK(max_difference(logits_of(pth.value().model, x), reference) == 0.f);

  // A network of no tutorial class (a softmax layer between linears) has no .pth: the panel says why.
  Model odd;
  odd.card = make_mnist_card("odd");
  odd.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(784, 32), make_simple_layer(LayerKind::softmax),
                make_linear_layer(32, 10)};
  randomize_parameters(odd, 4);
  REQUIRE(app.select_model("tiny", nullptr));
  app.weights_arrived(1, ByteSpan(write_weights(odd).value()));
  imgui.frame(app);
  imgui.click_center(app, state_of(app)["panel_state"]["model"]["pth_rect"]);
  CHECK(started.services.saved.size() == 2);
  const std::string said = state_of(app)["panel_state"]["model"]["said"];
  CHECK(said.find("only the tutorial's MLP") != std::string::npos);
}
