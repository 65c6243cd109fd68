// A PyTorch state_dict (named tensors, read by read_state_dict) becomes a digitlab Model: the tutorial's
// MLP, deep MLP and CNN are recognised from their names and shapes. Read next: pytorch_export.cpp.
//
// What a state_dict cannot say is assumed as the tutorial does it and written on the card: the input
// normalisation (Normalize((0.5,), (0.5,))), the activation between layers (ReLU), BatchNorm's eps (1e-5),
// a 'same' padding for each convolution and a MaxPool2d(2) after each convolution block.
//
// Sections: names and shapes in messages | the two families (linear stack, CNN) | the card | entry points.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "digitlab/architectures.hpp"
#include "digitlab/pytorch.hpp"

namespace digitlab::pytorch {

namespace {

// ---- names and shapes in messages -----------------------------------------------------------------------

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) text += ",";
  return text + ")";
}

// What was seen, for unknown_architecture: the first tensors with their shapes.
std::string seen_text(const StateDict& state) {
  std::string text = std::to_string(state.tensors.size()) + " tensor" + (state.tensors.size() == 1 ? "" : "s");
  if (state.tensors.empty()) return text;
  text += ": ";
  const std::size_t shown = std::min<std::size_t>(state.tensors.size(), 8);
  for (std::size_t i = 0; i < shown; ++i)
    text += (i ? ", " : "") + state.tensors[i].name + " " + shape_text(state.tensors[i].shape);
  if (shown < state.tensors.size()) text += ", ...";
  return text;
}

constexpr const char* kExpected =
    "digitlab recognises the tutorial's networks: NeuralNetwork / NeuralNetwork_v1 (Linear layers in an "
    "nn.Sequential: linear_relu_stack.0.weight, linear_relu_stack.0.bias, linear_relu_stack.2.weight, ...; "
    "also a bare nn.Sequential: 0.weight, 2.weight, ...) and its CNN (conv1..3, batch_norm1..3, fc1..3, "
    "batch_norm_fc1..2), in other widths and depths too. Save the model with "
    "torch.save(model.state_dict(), \"model.pth\").";

Error unknown(const StateDict& state, const std::string& why) {
  return make_error(ErrorCode::unknown_architecture, "state_dict", 0,
                    why + " Seen: " + seen_text(state) + ". " + kExpected);
}

Error wrong_shape(const std::string& name, const std::string& expected, const std::vector<std::int64_t>& found,
               const std::string& why) {
  return make_error(ErrorCode::shape_mismatch, name, 0,
                    "tensor '" + name + "' has shape " + shape_text(found) + ", expected " + expected + ": " + why);
}

Error missing_tensor(const std::string& name, const std::string& expected, const std::string& why) {
  return make_error(ErrorCode::shape_mismatch, name, 0,
                    "tensor '" + name + "' is missing (expected shape " + expected + "): " + why);
}

// The state_dict's tensors by name; remembers which ones an architecture used, so that leftovers
// (a layer digitlab would otherwise silently drop) are reported.
class Tensors {
 public:
  explicit Tensors(const StateDict& state) : state_(state) {
    for (const NamedTensor& tensor : state.tensors) by_name_[tensor.name] = &tensor;
  }
  bool has(const std::string& name) const { return by_name_.count(name) != 0; }
  const NamedTensor* find(const std::string& name) const {
    auto at = by_name_.find(name);
    return at == by_name_.end() ? nullptr : at->second;
  }

  // A float tensor of exactly `expected` shape, as a digitlab Tensor.
  Result<Tensor> take(const std::string& name, const std::vector<std::int64_t>& expected, const std::string& why) {
    const NamedTensor* tensor = find(name);
    if (!tensor) return missing_tensor(name, shape_text(expected), why);
    if (tensor->shape != expected) return wrong_shape(name, shape_text(expected), tensor->shape, why);
    if (tensor->dtype == TensorDType::int64)
      return make_error(ErrorCode::bad_dtype, name, 0,
                        "tensor '" + name + "' holds integers (int64); a weight must be a float tensor");
    std::uint64_t count = 1;
    for (std::int64_t d : expected) count *= static_cast<std::uint64_t>(d);
    if (tensor->values.size() != count)
      return make_error(ErrorCode::shape_mismatch, name, 0,
                        "tensor '" + name + "' has " + std::to_string(tensor->values.size()) +
                            " values for shape " + shape_text(expected));
    for (std::size_t i = 0; i < tensor->values.size(); ++i) {
      if (!std::isfinite(tensor->values[i]))
        return make_error(ErrorCode::bad_value, name, 0,
                          "tensor '" + name + "' holds a non-finite value (NaN or infinity) at element " +
                              std::to_string(i) + ": the model diverged in training; save a checkpoint from before");
    }
    used_.insert(name);
    return Tensor{expected, tensor->values};
  }

  // BatchNorm's counter: used if present (an int64 scalar), never needed at inference.
  void take_optional(const std::string& name) {
    if (has(name)) used_.insert(name);
  }

  // The first tensor no architecture step used, or nullptr.
  const NamedTensor* leftover() const {
    for (const NamedTensor& tensor : state_.tensors)
      if (!used_.count(tensor.name)) return &tensor;
    return nullptr;
  }

 private:
  const StateDict& state_;
  std::map<std::string, const NamedTensor*> by_name_;
  std::set<std::string> used_;
};

// A BatchNorm's four tensors (`norm`.weight, .bias, .running_mean, .running_var, each (channels)) as a layer;
// its num_batches_tracked counter is taken too when present.
Result<Layer> take_batch_norm(Tensors& tensors, const std::string& norm, std::int64_t channels,
                              const std::string& why) {
  Layer bn = make_batch_norm_layer(channels, 1e-5f);
  bn.tensors.clear();
  for (const char* param : {".weight", ".bias", ".running_mean", ".running_var"}) {
    auto t = tensors.take(norm + param, {channels}, why);
    if (!t) return t.error();
    bn.tensors.push_back(std::move(t.value()));
  }
  tensors.take_optional(norm + ".num_batches_tracked");
  return bn;
}

bool parse_index(const std::string& text, std::int64_t* out) {
  if (text.empty() || text.size() > 6) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  *out = std::strtol(text.c_str(), nullptr, 10);
  return true;
}

// ---- the chosen options -----------------------------------------------------------------------------------

struct Assumptions {
  LayerKind activation = LayerKind::relu;
  std::string activation_text = "ReLU";
  std::string dataset;                    // the card's name: "mnist" or "fashion-mnist"
  std::vector<std::string> class_names;
};

Result<Assumptions> check_options(const ImportOptions& options) {
  Assumptions assumed;
  if (!std::isfinite(options.normalize_mean))
    return make_error(ErrorCode::bad_argument, "normalize_mean", 0, "the normalisation mean must be a finite number");
  if (!(std::isfinite(options.normalize_std) && options.normalize_std > 0.f))
    return make_error(ErrorCode::bad_argument, "normalize_std", 0,
                      "the normalisation std must be a positive number (the tutorial's Normalize((0.5,), (0.5,)) "
                      "has std 0.5)");
  if (options.activation == "relu") assumed = {LayerKind::relu, "ReLU", {}, {}};
  else if (options.activation == "sigmoid") assumed = {LayerKind::sigmoid, "Sigmoid", {}, {}};
  else if (options.activation == "tanh") assumed = {LayerKind::tanh, "Tanh", {}, {}};
  else if (options.activation == "leaky_relu" || options.activation == "leaky-relu")
    assumed = {LayerKind::leaky_relu, "LeakyReLU(0.01)", {}, {}};
  else
    return make_error(ErrorCode::bad_argument, "activation", 0,
                      "unknown activation '" + options.activation + "': choose relu, sigmoid, tanh or leaky_relu");
  if (options.dataset == "mnist") {
    assumed.dataset = "mnist";
    assumed.class_names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  } else if (options.dataset == "fashion-mnist" || options.dataset == "fashion") {
    assumed.dataset = "fashion-mnist";
    assumed.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                           "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  } else {
    return make_error(ErrorCode::bad_argument, "dataset", 0,
                      "unknown dataset '" + options.dataset + "': choose mnist or fashion-mnist");
  }
  const std::string& arch = options.architecture;
  if (arch != "auto" && arch != "mlp" && arch != "deep-mlp" && arch != "mlp-deep" && arch != "cnn")
    return make_error(ErrorCode::bad_argument, "architecture", 0,
                      "unknown architecture '" + arch + "': choose auto, mlp, deep-mlp or cnn");
  return assumed;
}

Layer activation_layer(const Assumptions& assumed) {
  if (assumed.activation == LayerKind::leaky_relu) return make_leaky_relu_layer(0.01f);
  return make_simple_layer(assumed.activation);
}

constexpr std::int64_t kInputChannels = 1, kInputSize = 28;  // the tutorial's 1x28x28 images

// ---- the linear stack: NeuralNetwork (3 linears), NeuralNetwork_v1 (5), or any depth -------------------------

struct LinearStack {
  std::string prefix;                // "linear_relu_stack." or "" (a bare nn.Sequential)
  std::vector<std::int64_t> indices;  // the Sequential positions of the Linear layers, ascending
};

// Every tensor is <prefix><index>.weight or .bias, with one prefix: the tutorial's linear_relu_stack.
bool find_linear_stack(const StateDict& state, LinearStack* stack) {
  if (state.tensors.empty()) return false;
  std::set<std::int64_t> indices;
  for (const NamedTensor& tensor : state.tensors) {
    const std::string& name = tensor.name;
    const auto dot = name.rfind('.');
    if (dot == std::string::npos) return false;
    const std::string param = name.substr(dot + 1);
    if (param != "weight" && param != "bias") return false;
    const std::string module = name.substr(0, dot);
    const auto inner = module.rfind('.');
    const std::string prefix = inner == std::string::npos ? "" : module.substr(0, inner + 1);
    std::int64_t index = 0;
    if (!parse_index(inner == std::string::npos ? module : module.substr(inner + 1), &index)) return false;
    if (indices.empty()) stack->prefix = prefix;
    else if (prefix != stack->prefix) return false;
    indices.insert(index);
  }
  stack->indices.assign(indices.begin(), indices.end());
  return true;
}

Result<Model> import_linear_stack(const StateDict& state, const LinearStack& stack, const ImportOptions& options,
                                  const Assumptions& assumed) {
  const std::size_t count = stack.indices.size();
  if (options.architecture == "mlp" && count != 3)
    return unknown(state, "--arch mlp is the tutorial's NeuralNetwork with 3 Linear layers; this file has " +
                              std::to_string(count) + " (use --arch auto, or deep-mlp for 5).");
  if ((options.architecture == "deep-mlp" || options.architecture == "mlp-deep") && count != 5)
    return unknown(state, "--arch deep-mlp is the tutorial's NeuralNetwork_v1 with 5 Linear layers; this file has " +
                              std::to_string(count) + " (use --arch auto, or mlp for 3).");

  Tensors tensors(state);
  Model model;
  model.layers.push_back(make_simple_layer(LayerKind::flatten));
  std::int64_t features = kInputChannels * kInputSize * kInputSize;
  std::string previous;
  std::vector<std::int64_t> widths{features};
  for (std::size_t i = 0; i < count; ++i) {
    const std::string name = stack.prefix + std::to_string(stack.indices[i]);
    const NamedTensor* weight = tensors.find(name + ".weight");
    if (!weight) return missing_tensor(name + ".weight", "(out_features, " + std::to_string(features) + ")",
                                "every Linear layer has a weight");
    if (weight->shape.size() != 2 || weight->shape[0] < 1)
      return wrong_shape(name + ".weight", "(out_features, " + std::to_string(features) + ")", weight->shape,
                      "a Linear weight is a 2-D matrix");
    const bool last = i + 1 == count;
    const std::int64_t classes = static_cast<std::int64_t>(assumed.class_names.size());
    const std::int64_t out = last ? classes : weight->shape[0];
    const std::string why =
        i == 0 ? "the first Linear layer takes the flattened 1x28x28 image (784 inputs)"
               : "its inputs must be the " + std::to_string(features) + " outputs of " + previous;
    auto w = tensors.take(name + ".weight", {out, features},
                          last && weight->shape[0] != classes
                              ? "the last Linear layer gives one logit per class (" + std::to_string(classes) +
                                    " classes of " + assumed.dataset + ")"
                              : why);
    if (!w) return w.error();
    auto b = tensors.take(name + ".bias", {out}, "one bias per output of " + name +
                                                     " (a Linear layer saved without bias is not supported)");
    if (!b) return b.error();
    if (i > 0) model.layers.push_back(activation_layer(assumed));
    Layer linear = make_linear_layer(features, out);
    linear.tensors = {std::move(w.value()), std::move(b.value())};
    model.layers.push_back(std::move(linear));
    features = out;
    previous = name;
    widths.push_back(out);
  }
  if (const NamedTensor* extra = tensors.leftover())
    return unknown(state, "tensor '" + extra->name + "' " + shape_text(extra->shape) +
                              " belongs to no Linear layer of the stack.");

  const std::vector<std::int64_t> tutorial{784, 512, 512, 10}, tutorial_deep{784, 1024, 1024, 512, 512, 10};
  if (widths == tutorial) model.card.architecture = "mlp";
  else if (widths == tutorial_deep) model.card.architecture = "mlp-deep";
  else {
    model.card.architecture = "mlp";
    for (std::size_t i = 0; i < widths.size(); ++i) model.card.architecture += (i ? "-" : " ") + std::to_string(widths[i]);
  }
  return model;
}

// ---- the CNN: conv1..N with batch_norm1..N, then fc1..M with batch_norm_fc1..M-1 -----------------------------

Result<Model> import_cnn(const StateDict& state, const Assumptions& assumed, std::string* layout) {
  Tensors tensors(state);
  Model model;
  std::int64_t channels = kInputChannels, size = kInputSize;
  std::vector<std::string> conv_widths, fc_widths;
  bool tutorial_shape = true;
  int blocks = 0;
  for (int i = 1; tensors.has("conv" + std::to_string(i) + ".weight"); ++i) {
    const std::string conv = "conv" + std::to_string(i), norm = "batch_norm" + std::to_string(i);
    const NamedTensor* weight = tensors.find(conv + ".weight");
    const std::string expected = "(out_channels, " + std::to_string(channels) + ", k, k)";
    if (weight->shape.size() != 4 || weight->shape[0] < 1 || weight->shape[2] < 1 || weight->shape[2] % 2 == 0 ||
        weight->shape[2] != weight->shape[3])
      return wrong_shape(conv + ".weight", expected + " with an odd square kernel k", weight->shape,
                      "a Conv2d weight of the tutorial's CNN (3x3 kernels, padding 1)");
    const std::int64_t out = weight->shape[0], kernel = weight->shape[2];
    auto w = tensors.take(conv + ".weight", {out, channels, kernel, kernel},
                          i == 1 ? "the first convolution reads the 1-channel 28x28 image"
                                 : "its input channels must be the " + std::to_string(channels) +
                                       " output channels of conv" + std::to_string(i - 1));
    if (!w) return w.error();
    auto b = tensors.take(conv + ".bias", {out}, "one bias per output channel of " + conv);
    if (!b) return b.error();
    Layer layer = make_conv2d_layer(channels, out, kernel, 1, kernel / 2);
    layer.tensors = {std::move(w.value()), std::move(b.value())};
    model.layers.push_back(std::move(layer));
    if (tensors.has(norm + ".weight") || tensors.has(norm + ".running_mean")) {
      auto bn = take_batch_norm(tensors, norm, out,
                                norm + " normalises the " + std::to_string(out) + " channels of " + conv);
      if (!bn) return bn.error();
      model.layers.push_back(std::move(bn.value()));
    } else {
      tutorial_shape = false;
    }
    model.layers.push_back(activation_layer(assumed));
    if (size / 2 < 1)
      return make_error(ErrorCode::shape_mismatch, conv + ".weight", 0,
                        "conv" + std::to_string(i) + " is one block too many: the 28x28 image is " +
                            std::to_string(size) + "x" + std::to_string(size) +
                            " before it and a 2x2 max-pool cannot halve it again");
    model.layers.push_back(make_max_pool2d_layer(2, 2));
    size /= 2;
    channels = out;
    conv_widths.push_back(std::to_string(out) + (kernel != 3 ? "k" + std::to_string(kernel) : ""));
    tutorial_shape = tutorial_shape && kernel == 3;
    ++blocks;
  }
  model.layers.push_back(make_simple_layer(LayerKind::flatten));
  std::int64_t features = channels * size * size;
  int linears = 0;
  for (int j = 1; tensors.has("fc" + std::to_string(j) + ".weight"); ++j) linears = j;
  if (linears == 0)
    return unknown(state, "conv1..conv" + std::to_string(blocks) + " were found but no fc1.weight after them.");
  const std::int64_t classes = static_cast<std::int64_t>(assumed.class_names.size());
  for (int j = 1; j <= linears; ++j) {
    const std::string fc = "fc" + std::to_string(j), norm = "batch_norm_fc" + std::to_string(j);
    const NamedTensor* weight = tensors.find(fc + ".weight");
    const bool last = j == linears;
    if (weight->shape.size() != 2 || weight->shape[0] < 1)
      return wrong_shape(fc + ".weight", "(out_features, " + std::to_string(features) + ")", weight->shape,
                      "a Linear weight is a 2-D matrix");
    const std::int64_t out = last ? classes : weight->shape[0];
    std::string why = j == 1 ? "fc1 takes the flattened " + std::to_string(channels) + "x" + std::to_string(size) +
                                   "x" + std::to_string(size) + " output of conv" + std::to_string(blocks) +
                                   " after its 2x2 max-pool (" + std::to_string(features) + " features)"
                             : "its inputs must be the " + std::to_string(features) + " outputs of fc" +
                                   std::to_string(j - 1);
    if (last && weight->shape[0] != classes)
      why = "the last Linear layer gives one logit per class (" + std::to_string(classes) + " classes of " +
            assumed.dataset + ")";
    auto w = tensors.take(fc + ".weight", {out, features}, why);
    if (!w) return w.error();
    auto b = tensors.take(fc + ".bias", {out}, "one bias per output of " + fc);
    if (!b) return b.error();
    Layer linear = make_linear_layer(features, out);
    linear.tensors = {std::move(w.value()), std::move(b.value())};
    model.layers.push_back(std::move(linear));
    fc_widths.push_back(std::to_string(out));
    if (last) break;
    if (tensors.has(norm + ".weight") || tensors.has(norm + ".running_mean")) {
      auto bn = take_batch_norm(tensors, norm, out,
                                norm + " normalises the " + std::to_string(out) + " outputs of " + fc);
      if (!bn) return bn.error();
      model.layers.push_back(std::move(bn.value()));
    } else {
      tutorial_shape = false;
    }
    model.layers.push_back(activation_layer(assumed));
    model.layers.push_back(make_dropout_layer(0.4f));
    features = out;
  }
  if (const NamedTensor* extra = tensors.leftover())
    return unknown(state, "tensor '" + extra->name + "' " + shape_text(extra->shape) +
                              " belongs to none of conv1..conv" + std::to_string(blocks) + ", batch_norm1..batch_norm" +
                              std::to_string(blocks) + ", fc1..fc" + std::to_string(linears) +
                              ", batch_norm_fc1..batch_norm_fc" + std::to_string(linears - 1) + ".");
  std::string widths;
  for (const auto& w : conv_widths) widths += (widths.empty() ? "" : "-") + w;
  widths += "/";
  for (std::size_t i = 0; i < fc_widths.size(); ++i) widths += (i ? "-" : "") + fc_widths[i];
  tutorial_shape = tutorial_shape && widths == "32-64-128/512-512-10";
  model.card.architecture = tutorial_shape ? "cnn" : "cnn " + widths;
  *layout = "padding k/2 (1 for 3x3) and " + assumed.activation_text +
            " then MaxPool2d(2) after each convolution, Dropout(0.4) after each hidden fc (identity at inference)";
  return model;
}

std::string number_text(float value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(value));
  return text;
}

}  // namespace

// ---- entry points -------------------------------------------------------------------------------------------

Result<Model> import_state_dict(const StateDict& state, const ImportOptions& options) {
  auto checked = check_options(options);
  if (!checked) return checked.error();
  const Assumptions& assumed = checked.value();

  const bool has_cnn = Tensors(state).has("conv1.weight");
  LinearStack stack;
  const bool has_stack = !has_cnn && find_linear_stack(state, &stack);
  std::string layout;
  Result<Model> built = Error{};
  if (options.architecture == "cnn") {
    if (!has_cnn) return unknown(state, "--arch cnn: there is no conv1.weight, so this is not the tutorial's CNN.");
    built = import_cnn(state, assumed, &layout);
  } else if (options.architecture != "auto") {
    if (!has_stack)
      return unknown(state, "--arch " + options.architecture + ": the tensors are not one stack of Linear layers "
                            "(linear_relu_stack.<i>.weight / .bias).");
    built = import_linear_stack(state, stack, options, assumed);
  } else if (has_cnn) {
    built = import_cnn(state, assumed, &layout);
  } else if (has_stack) {
    built = import_linear_stack(state, stack, options, assumed);
  } else {
    return unknown(state, state.tensors.empty() ? "The file holds no tensors."
                                                : "These names and shapes match none of the tutorial's networks.");
  }
  if (!built) return built.error();
  Model model = std::move(built.value());

  ModelCard& card = model.card;
  card.dataset = assumed.dataset;
  card.class_names = assumed.class_names;
  card.input_channels = kInputChannels;
  card.input_height = kInputSize;
  card.input_width = kInputSize;
  card.normalize_mean = options.normalize_mean;
  card.normalize_std = options.normalize_std;
  card.test_accuracy = -1.f;
  card.trainer_version = kImportedTrainer;  // the app shows (and lets one change) the assumptions
  const std::string source = options.source.empty() ? "a PyTorch file" : options.source;
  std::string container = state.container.empty() ? "" : state.container;
  if (!state.unwrapped.empty()) container += (container.empty() ? "" : ", ") + state.unwrapped;
  card.recipe = "imported from " + source + ", a PyTorch state_dict" + (container.empty() ? "" : " (" + container + ")") +
                ". Assumed, as the file does not say: input Normalize((" + number_text(options.normalize_mean) +
                ",), (" + number_text(options.normalize_std) + ",)), " + assumed.activation_text +
                " between layers" + (layout.empty() ? "" : ", BatchNorm eps 1e-5, " + layout) +
                "; dataset " + assumed.dataset + ". Change with digitlab import --normalize, --activation, --dataset.";

  if (auto shapes = infer_shapes(model); !shapes) return shapes.error();
  return model;
}

Result<LoadedWeights> load_pytorch(ByteSpan file, const ImportOptions& options) {
  auto state = read_state_dict(file);
  if (!state) return state.error();
  auto model = import_state_dict(state.value(), options);
  if (!model) return model.error();
  // Through the weights format and back, so the caller gets exactly what a .dlw file of this model gives
  // (the same checks, budgets and packed weights).
  auto bytes = write_weights(model.value());
  if (!bytes) return bytes.error();
  return load_weights(ByteSpan(bytes.value()));
}

}  // namespace digitlab::pytorch
