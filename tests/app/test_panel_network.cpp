// The network teaching panel headless: the layer list (shapes, parameter counts) of a tiny CNN and of the
// tiny MLP, each layer's activations after a drawn line, clicking a layer and a feature map.
// Its layer words are the core's (digitlab/describe.hpp). Read next: wasm/teaching/panel_network.cpp,
// wasm/teaching/network_layers.hpp.
#include <catch2/catch.hpp>

#include "app_harness.hpp"
#include "teaching/network_layers.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

namespace {

std::vector<std::uint8_t> tiny_cnn_weights() {
  Model model;
  model.card = make_mnist_card("tiny-cnn");
  model.layers = {make_conv2d_layer(1, 4, 3, 1, 1), make_simple_layer(LayerKind::relu), make_max_pool2d_layer(2, 2),
                  make_simple_layer(LayerKind::flatten), make_linear_layer(4 * 14 * 14, 10)};
  randomize_parameters(model, 7);
  return write_weights(model).value();
}


}  // namespace

TEST_CASE("the panel's short layer text; the full words are the core's", "[panel][network]") {
  CHECK(layer_short_description(make_conv2d_layer(1, 32, 3, 1, 1)) == "conv2d 1 -> 32, k3 s1 p1");
  CHECK(layer_short_description(make_batch_norm_layer(32)) == "batch_norm 32");
  CHECK(layer_short_description(make_max_pool2d_layer(2, 2)) == "max_pool2d 2, s2");
  CHECK(layer_short_description(make_dropout_layer(0.4f)) == "dropout 0.4");
  CHECK(layer_short_description(make_leaky_relu_layer(0.2f)) == "leaky_relu 0.2");
  CHECK(layer_short_description(make_linear_layer(784, 512)) == layer_words(make_linear_layer(784, 512)));
}

TEST_CASE("network panel: a tiny CNN's layers, its feature maps for a drawing, clicks", "[panel][network][ui]") {
  StartedApp started({entry("cnn", true)}, "?panels=network");
  Headless& imgui = started.imgui;
  App& app = started.app;
  imgui.frame(app);
  CHECK(state_of(app)["panel_state"]["network"]["model"].is_null());
  app.weights_arrived(0, tiny_cnn_weights());
  imgui.frame(app);
  json panel = state_of(app)["panel_state"]["network"];
  INFO(panel.dump());
  REQUIRE(panel["layer_count"] == 5);
  CHECK(panel["parameters"] == 4 * 9 + 4 + 784 * 10 + 10);
  CHECK(panel["layers"][0]["shape"] == json::array({4, 28, 28}));
  CHECK(panel["layers"][2]["shape"] == json::array({4, 14, 14}));
  CHECK(panel["layers"][3]["shape"] == json::array({784}));
  CHECK(panel["layers"][4]["parameters"] == 7850);
  {
    // Each layer in the words `digitlab info` prints (tests/trainer/test_info.cpp ties info to the same).
    const Model model = load_weights(tiny_cnn_weights()).value().model;
    for (std::size_t i = 0; i < model.layers.size(); ++i)
      CHECK(panel["layers"][i]["description"] == layer_words(model.layers[i]));
  }
  CHECK(panel["has_drawing"] == false);
  CHECK(panel["selected_layer"] == 0);

  // Alone, the panel offers its own drawing area.
  draw_line(app);
  for (int i = 0; i < 3; ++i) imgui.frame(app);
  panel = state_of(app)["panel_state"]["network"];
  INFO(panel.dump());
  CHECK(panel["has_drawing"] == true);
  REQUIRE(panel["has_activations"] == true);
  for (const auto& layer : panel["layers"]) {
    std::int64_t size = 1;
    for (const auto& d : layer["shape"]) size *= d.get<std::int64_t>();
    CHECK(layer["activation_size"] == size);
  }
  CHECK(panel["view"] == "maps");
  CHECK(panel["maps_drawn"] == 4);
  CHECK(panel["range"][1].get<double>() > panel["range"][0].get<double>());

  imgui.click_center(app, panel["first_map"]);
  panel = state_of(app)["panel_state"]["network"];
  CHECK(panel["selected_channel"] == 0);

  imgui.click_center(app, panel["layers"][4]["row"]);
  imgui.mouse = ImVec2(-1000.f, -1000.f);  // away, so the hover preview does not decide what is shown
  imgui.frame(app);
  panel = state_of(app)["panel_state"]["network"];
  CHECK(panel["selected_layer"] == 4);
  CHECK(panel["shown_layer"] == 4);
  CHECK(panel["view"] == "strip");
  CHECK(panel["selected_channel"] == -1);
}

TEST_CASE("network panel: the tiny MLP shows strips; a new model resets the selection", "[panel][network][ui]") {
  StartedApp started({entry("mlp", true)}, "?panels=draw,network");
  Headless& imgui = started.imgui;
  App& app = started.app;
  app.weights_arrived(0, tiny_weights(9));
  imgui.frame(app);
  draw_line(app);
  for (int i = 0; i < 3; ++i) imgui.frame(app);
  json panel = state_of(app)["panel_state"]["network"];
  INFO(panel.dump());
  CHECK(panel["layer_count"] == 2);
  CHECK(panel["selected_layer"] == 1);  // flatten is skipped
  CHECK(panel["view"] == "strip");
  CHECK(panel["layers"][1]["activation_size"] == 10);
}
