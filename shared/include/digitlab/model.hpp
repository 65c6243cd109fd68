// The network as the core sees it: a model card and a list of layers with float32 tensors, plus the
// forward pass. Writers (the trainer) build a Model; the weights reader returns one. Read next:
// weights.hpp (the file format), preprocess.hpp (drawings to model input).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "digitlab/error.hpp"

namespace digitlab {

enum class LayerKind : std::uint16_t {
  linear = 1,       // weight (out, in), bias (out)
  conv2d = 2,       // weight (out_channels, in_channels, kernel, kernel), bias (out_channels)
  batch_norm = 3,   // gamma, beta, running_mean, running_var: each (channels); 1d or 2d by input rank
  relu = 4,
  leaky_relu = 5,   // alpha
  sigmoid = 6,
  tanh = 7,
  max_pool2d = 8,   // kernel, stride
  flatten = 9,
  dropout = 10,     // identity at inference; p kept for the printout
  softmax = 11,     // over the last dimension
};

const char* layer_kind_name(LayerKind kind);

struct Tensor {
  std::vector<std::int64_t> shape;
  std::vector<float> values;  // row-major, size = product(shape)
};

struct Layer {
  LayerKind kind = LayerKind::relu;
  // Integer parameters, meaning by kind (unused ones are 0):
  //   linear: in_features, out_features   conv2d: in_channels, out_channels, kernel, stride, padding
  //   batch_norm: channels                max_pool2d: kernel, stride
  std::int64_t in_features = 0, out_features = 0;
  std::int64_t in_channels = 0, out_channels = 0, kernel = 0, stride = 1, padding = 0;
  std::int64_t channels = 0;
  float alpha = 0.01f;    // leaky_relu slope
  float eps = 1e-5f;      // batch_norm epsilon
  float dropout_p = 0.f;  // dropout probability (printout only)
  std::vector<Tensor> tensors;  // in the order listed on LayerKind
};

struct ModelCard {
  std::string architecture;              // "mlp", "mlp-deep", "cnn", or a free name for other stacks
  std::string dataset;                   // "mnist", "fashion-mnist", ...
  std::vector<std::string> class_names;  // one per output
  std::int64_t input_channels = 1, input_height = 28, input_width = 28;
  float normalize_mean = 0.5f, normalize_std = 0.5f;  // model input = (pixel/255 - mean) / std
  std::string recipe;                    // how it was trained, human-readable ("sgd lr=0.01 ...")
  float test_accuracy = -1.f;            // fraction in [0,1] on the full test set; < 0 if unknown
  std::string trainer_version;
};

// The layers' weights packed for forward()'s kernels (kernels.hpp); built by prepare(), opaque here.
struct PreparedModel;

struct Model {
  ModelCard card;
  std::vector<Layer> layers;
  // Set by prepare(); copies share it. forward() uses it while it still matches the layers (structure
  // and a sample of the weights) and otherwise packs the weights again on every call: correct, slower.
  std::shared_ptr<const PreparedModel> prepared;
};

// Shape of one activation: (channels, height, width) for image-like, (features) for flat.
struct ActivationShape {
  std::vector<std::int64_t> dims;
  std::int64_t size() const;
};

// Checks that layers chain from the card's input shape to num_classes outputs and every tensor has the
// shape its layer needs. Returns each layer's output shape; shape_mismatch / bad_layer otherwise.
Result<std::vector<ActivationShape>> infer_shapes(const Model& model);

struct Prediction {
  std::vector<float> logits;         // (num_classes) -- the last layer before any softmax
  std::vector<float> probabilities;  // softmax(logits)
  int label = -1;                    // argmax
  // Filled only when asked: every layer's output, in layer order (the teaching panels show them).
  std::vector<std::vector<float>> activations;
};

// The forward pass (single thread, deterministic: the same bits natively and in wasm; kernels.hpp says
// how, docs/core.md why). Uses model.prepared when it matches. input is the normalised model input
// (channels*height*width floats). Errors: bad_argument on a wrong input size.
Result<Prediction> forward(const Model& model, const float* input, std::size_t input_size,
                           bool keep_activations = false);

// Checks the model (as infer_shapes does) and packs its weights once, so that forward() does not repack
// them on every call. Call it after loading or building a model, and again after editing its layers.
Status prepare(Model& model);

// Parameter count of a layer and of the model (what the trainer prints): trainable parameters as PyTorch
// counts them, so batch_norm counts gamma and beta but not its running statistics (buffers).
std::int64_t parameter_count(const Layer& layer);
std::int64_t parameter_count(const Model& model);

}  // namespace digitlab
