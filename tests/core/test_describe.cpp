// The words the core gives layers (describe.hpp), which `digitlab info` and the network panel both print:
// each kind, shapes, counts, and a whole table row as the terminal shows it.
// Read next: shared/src/describe.cpp; tests/trainer/test_info.cpp (info prints exactly these rows).
#include <catch2/catch.hpp>

#include "digitlab/architectures.hpp"
#include "digitlab/describe.hpp"

using namespace digitlab;

TEST_CASE("every layer kind is worded as digitlab info prints it", "[describe]") {
  CHECK(layer_words(make_conv2d_layer(1, 32, 3, 1, 1)) == "conv2d 1 -> 32, kernel 3, stride 1, padding 1");
  CHECK(layer_words(make_linear_layer(784, 512)) == "linear 784 -> 512");
  CHECK(layer_words(make_batch_norm_layer(32)) == "batch_norm 32 channels, eps 1e-05");
  CHECK(layer_words(make_leaky_relu_layer(0.2f)) == "leaky_relu alpha 0.2");
  CHECK(layer_words(make_max_pool2d_layer(2, 2)) == "max_pool2d kernel 2, stride 2");
  CHECK(layer_words(make_dropout_layer(0.4f)) == "dropout p 0.4 (identity at inference)");
  for (LayerKind kind : {LayerKind::relu, LayerKind::sigmoid, LayerKind::tanh, LayerKind::flatten, LayerKind::softmax})
    CHECK(layer_words(make_simple_layer(kind)) == layer_kind_name(kind));
  CHECK(shape_text({32, 28, 28}) == "(32, 28, 28)");
  CHECK(shape_text({10}) == "(10)");
}

TEST_CASE("the CNN's layer table: shapes from infer_shapes, counts with separators, rows in columns", "[describe]") {
  const Model cnn = make_cnn(1);
  const std::vector<LayerDescription> rows = describe_layers(cnn);
  REQUIRE(rows.size() == cnn.layers.size());
  CHECK(rows[0].words == "conv2d 1 -> 32, kernel 3, stride 1, padding 1");
  CHECK(rows[0].output_shape == "(32, 28, 28)");
  CHECK(rows[0].parameters == "320");
  CHECK(rows[2].parameters == "-");  // relu
  CHECK(rows[12].output_shape == "(1152)");
  CHECK(rows[13].parameters == "590,336");
  CHECK(layer_table_row(0, rows[0]) ==
        "   0  conv2d 1 -> 32, kernel 3, stride 1, padding 1    (32, 28, 28)         320");
  CHECK(layer_table_row(13, rows[13]) ==
        "  13  linear 1152 -> 512                                      (512)     590,336");
  // A model whose shapes cannot be inferred still gets its words, with "?" for the shapes.
  Model broken = cnn;
  broken.layers[0].tensors[0].shape = {3, 3, 1, 32};
  const std::vector<LayerDescription> unknown = describe_layers(broken);
  REQUIRE(unknown.size() == broken.layers.size());
  for (const LayerDescription& row : unknown) CHECK(row.output_shape == "?");
  CHECK(unknown[0].words == rows[0].words);
}
