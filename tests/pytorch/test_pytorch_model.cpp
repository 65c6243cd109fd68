// The architecture import and the export, without Python: state_dicts named as the tutorial's classes name
// them are built from the core's own seeded models, recognised, checked shape by shape, and written back.
// Read next: run_tests.sh (the same against real PyTorch files), shared/src/pytorch_import.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "digitlab/architectures.hpp"
#include "digitlab/bytes.hpp"
#include "digitlab/pytorch.hpp"
#include "digitlab/zip.hpp"

using namespace digitlab;
using pytorch::NamedTensor;
using pytorch::StateDict;

namespace {

NamedTensor named(const std::string& name, const Tensor& tensor) {
  NamedTensor out;
  out.name = name;
  out.shape = tensor.shape;
  out.values = tensor.values;
  return out;
}

NamedTensor counter(const std::string& name) {
  NamedTensor out;
  out.name = name;
  out.dtype = pytorch::TensorDType::int64;
  out.integers = {4690};
  return out;
}

void add_batch_norm(StateDict* state, const std::string& module, const Layer& layer) {
  const char* params[] = {".weight", ".bias", ".running_mean", ".running_var"};
  for (int t = 0; t < 4; ++t) state->tensors.push_back(named(module + params[t], layer.tensors[t]));
  state->tensors.push_back(counter(module + ".num_batches_tracked"));
}

// What model.state_dict() of the tutorial's NeuralNetwork / NeuralNetwork_v1 holds for this layer list.
StateDict mlp_state(const Model& model, const std::string& prefix = "linear_relu_stack.") {
  StateDict state;
  int position = 0;
  for (std::size_t i = 1; i < model.layers.size(); ++i, ++position) {
    if (model.layers[i].kind != LayerKind::linear) continue;
    state.tensors.push_back(named(prefix + std::to_string(position) + ".weight", model.layers[i].tensors[0]));
    state.tensors.push_back(named(prefix + std::to_string(position) + ".bias", model.layers[i].tensors[1]));
  }
  return state;
}

// ... and of its ConvNeuralNetwork, in its registration order (convs, fcs, then the batch norms).
StateDict cnn_state(const Model& model) {
  StateDict state, norms;
  int conv = 0, fc = 0;
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    if (layer.kind == LayerKind::conv2d) {
      const std::string name = "conv" + std::to_string(++conv);
      state.tensors.push_back(named(name + ".weight", layer.tensors[0]));
      state.tensors.push_back(named(name + ".bias", layer.tensors[1]));
    } else if (layer.kind == LayerKind::linear) {
      const std::string name = "fc" + std::to_string(++fc);
      state.tensors.push_back(named(name + ".weight", layer.tensors[0]));
      state.tensors.push_back(named(name + ".bias", layer.tensors[1]));
    } else if (layer.kind == LayerKind::batch_norm) {
      add_batch_norm(&norms, fc == 0 ? "batch_norm" + std::to_string(conv) : "batch_norm_fc" + std::to_string(fc),
                     layer);
    }
  }
  state.tensors.insert(state.tensors.end(), norms.tensors.begin(), norms.tensors.end());
  return state;
}

NamedTensor* find(StateDict& state, const std::string& name) {
  for (NamedTensor& tensor : state.tensors)
    if (tensor.name == name) return &tensor;
  FAIL("no tensor " << name);
  return nullptr;
}

Model import_or_fail(const StateDict& state, const pytorch::ImportOptions& options = {}) {
  Result<Model> model = pytorch::import_state_dict(state, options);
  if (!model) FAIL(model.error().to_string());
  return model.value();
}

Error import_error(const StateDict& state, const pytorch::ImportOptions& options = {}) {
  Result<Model> model = pytorch::import_state_dict(state, options);
  REQUIRE_FALSE(model.ok());
  INFO(model.error().to_string());
  return model.error();
}

std::vector<float> seeded_input(std::uint64_t seed) {
  SeededRandom random(seed);
  std::vector<float> input(28 * 28);
  for (float& v : input) v = random.uniform(-1.f, 1.f);
  return input;
}

// The same layers (kinds, parameters, tensors bit for bit) and the same logits bit for bit.
void require_same_network(const Model& imported, const Model& original) {
  REQUIRE(imported.layers.size() == original.layers.size());
  for (std::size_t i = 0; i < original.layers.size(); ++i) {
    INFO("layer " << i << " " << layer_kind_name(original.layers[i].kind));
    const Layer& a = imported.layers[i];
    const Layer& b = original.layers[i];
    REQUIRE(a.kind == b.kind);
    REQUIRE(a.in_features == b.in_features);
    REQUIRE(a.out_features == b.out_features);
    REQUIRE(a.in_channels == b.in_channels);
    REQUIRE(a.out_channels == b.out_channels);
    REQUIRE(a.kernel == b.kernel);
    REQUIRE(a.padding == b.padding);
    REQUIRE(a.stride == b.stride);
    REQUIRE(a.channels == b.channels);
    REQUIRE(a.eps == b.eps);
    REQUIRE(a.tensors.size() == b.tensors.size());
    for (std::size_t t = 0; t < a.tensors.size(); ++t) {
      REQUIRE(a.tensors[t].shape == b.tensors[t].shape);
      REQUIRE(std::memcmp(a.tensors[t].values.data(), b.tensors[t].values.data(), 4 * a.tensors[t].values.size()) == 0);
    }
  }
  const std::vector<float> input = seeded_input(7);
  auto x = forward(imported, input.data(), input.size());
  auto y = forward(original, input.data(), input.size());
  REQUIRE(x.ok());
  REQUIRE(y.ok());
  REQUIRE(x.value().logits == y.value().logits);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

// ---- recognised ----------------------------------------------------------------------------------------------

TEST_CASE("the tutorial's MLP, deep MLP and CNN are recognised by names and shapes", "[pytorch]") {
  const Model mlp = make_mlp(3), deep = make_mlp_deep(4), cnn = make_cnn(5);
  Model a = import_or_fail(mlp_state(mlp));
  CHECK(a.card.architecture == "mlp");
  require_same_network(a, mlp);
  Model b = import_or_fail(mlp_state(deep));
  CHECK(b.card.architecture == "mlp-deep");
  require_same_network(b, deep);
  Model c = import_or_fail(cnn_state(cnn));
  CHECK(c.card.architecture == "cnn");
  require_same_network(c, cnn);
  for (const char* arch : {"mlp", "deep-mlp", "cnn"}) {  // forced, when it fits
    pytorch::ImportOptions options;
    options.architecture = arch;
    const std::string name = arch;
    const StateDict state = name == "cnn" ? cnn_state(cnn) : mlp_state(name == "mlp" ? mlp : deep);
    CHECK(pytorch::import_state_dict(state, options).ok());
  }
}

TEST_CASE("other widths and depths of the same shapes, and a bare nn.Sequential", "[pytorch]") {
  Model narrow;
  narrow.card = make_mnist_card("x");
  narrow.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(784, 100), make_simple_layer(LayerKind::relu),
                   make_linear_layer(100, 30), make_simple_layer(LayerKind::relu), make_linear_layer(30, 10)};
  randomize_parameters(narrow, 9);
  Model stack = import_or_fail(mlp_state(narrow));
  CHECK(stack.card.architecture == "mlp 784-100-30-10");
  require_same_network(stack, narrow);
  Model bare = import_or_fail(mlp_state(narrow, ""));  // nn.Sequential saved directly: 0.weight, 2.weight, ...
  require_same_network(bare, narrow);

  Model cnn;
  cnn.card = make_mnist_card("x");
  const std::int64_t channels[] = {1, 4, 8};
  for (int block = 0; block < 2; ++block) {
    cnn.layers.push_back(make_conv2d_layer(channels[block], channels[block + 1], 5, 1, 2));
    cnn.layers.push_back(make_batch_norm_layer(channels[block + 1]));
    cnn.layers.push_back(make_simple_layer(LayerKind::relu));
    cnn.layers.push_back(make_max_pool2d_layer(2, 2));
  }
  cnn.layers.push_back(make_simple_layer(LayerKind::flatten));
  cnn.layers.push_back(make_linear_layer(8 * 7 * 7, 20));
  cnn.layers.push_back(make_batch_norm_layer(20));
  cnn.layers.push_back(make_simple_layer(LayerKind::relu));
  cnn.layers.push_back(make_dropout_layer(0.4f));
  cnn.layers.push_back(make_linear_layer(20, 10));
  randomize_parameters(cnn, 10);
  Model small = import_or_fail(cnn_state(cnn));
  CHECK(small.card.architecture == "cnn 4k5-8k5/20-10");
  require_same_network(small, cnn);
}

TEST_CASE("the card says where the model came from and what was assumed; options change it", "[pytorch]") {
  StateDict state = mlp_state(make_mlp(1));
  state.container = "torch.save zip";
  pytorch::ImportOptions options;
  options.source = "model.pth";
  Model model = import_or_fail(state, options);
  CHECK(model.card.dataset == "mnist");
  CHECK(model.card.class_names.size() == 10);
  CHECK(model.card.normalize_mean == 0.5f);
  CHECK(model.card.normalize_std == 0.5f);
  CHECK(model.card.test_accuracy < 0);
  INFO(model.card.recipe);
  CHECK(contains(model.card.recipe, "imported from model.pth, a PyTorch state_dict (torch.save zip)"));
  CHECK(contains(model.card.recipe, "Normalize((0.5,), (0.5,))"));
  CHECK(contains(model.card.recipe, "ReLU between layers"));

  options.normalize_mean = 0.1307f;
  options.normalize_std = 0.3081f;
  options.activation = "tanh";
  options.dataset = "fashion-mnist";
  Model changed = import_or_fail(state, options);
  CHECK(changed.card.normalize_mean == 0.1307f);
  CHECK(changed.card.normalize_std == 0.3081f);
  CHECK(changed.card.dataset == "fashion-mnist");
  CHECK(changed.card.class_names.back() == "Ankle boot");
  CHECK(changed.layers[2].kind == LayerKind::tanh);
  CHECK(changed.layers[4].kind == LayerKind::tanh);
  CHECK(contains(changed.card.recipe, "Normalize((0.1307,), (0.3081,))"));
  CHECK(contains(changed.card.recipe, "Tanh between layers"));

  Model cnn = import_or_fail(cnn_state(make_cnn(2)));
  INFO(cnn.card.recipe);
  CHECK(contains(cnn.card.recipe, "BatchNorm eps 1e-5"));
  CHECK(cnn.layers[1].eps == 1e-5f);
}

// ---- refused, each with its own message -------------------------------------------------------------------------

TEST_CASE("a wrong shape in a recognised network names the tensor, the expected and the found shape", "[pytorch]") {
  const Model mlp = make_mlp(1), cnn = make_cnn(1);
  {
    StateDict state = mlp_state(mlp);
    NamedTensor* w = find(state, "linear_relu_stack.2.weight");
    w->shape = {512, 300};
    w->values.resize(512 * 300);
    const Error error = import_error(state);
    CHECK(error.code == ErrorCode::shape_mismatch);
    CHECK(error.field == "linear_relu_stack.2.weight");
    CHECK(contains(error.message, "(512, 300)"));
    CHECK(contains(error.message, "expected (512, 512)"));
    CHECK(contains(error.message, "512 outputs of linear_relu_stack.0"));
  }
  {
    StateDict state = mlp_state(mlp);
    NamedTensor* w = find(state, "linear_relu_stack.0.weight");
    w->shape = {512, 1024};
    w->values.resize(512 * 1024);
    const Error error = import_error(state);
    CHECK(error.code == ErrorCode::shape_mismatch);
    CHECK(contains(error.message, "expected (512, 784)"));
    CHECK(contains(error.message, "1x28x28"));
  }
  {
    StateDict state = mlp_state(mlp);
    NamedTensor* w = find(state, "linear_relu_stack.4.weight");
    w->shape = {11, 512};
    w->values.resize(11 * 512);
    const Error error = import_error(state);
    CHECK(error.code == ErrorCode::shape_mismatch);
    CHECK(contains(error.message, "expected (10, 512)"));
    CHECK(contains(error.message, "10 classes of mnist"));
  }
  {
    StateDict state = mlp_state(mlp);
    state.tensors.erase(state.tensors.begin() + 1);  // linear_relu_stack.0.bias
    const Error error = import_error(state);
    CHECK(error.code == ErrorCode::shape_mismatch);
    CHECK(error.field == "linear_relu_stack.0.bias");
    CHECK(contains(error.message, "missing"));
  }
  {
    StateDict state = cnn_state(cnn);
    NamedTensor* w = find(state, "conv2.weight");
    w->shape = {64, 16, 3, 3};
    w->values.resize(64 * 16 * 9);
    const Error error = import_error(state);
    CHECK(error.code == ErrorCode::shape_mismatch);
    CHECK(error.field == "conv2.weight");
    CHECK(contains(error.message, "(64, 16, 3, 3)"));
    CHECK(contains(error.message, "expected (64, 32, 3, 3)"));
  }
  {
    StateDict state = cnn_state(cnn);
    NamedTensor* v = find(state, "batch_norm_fc2.running_var");
    v->shape = {256};
    v->values.resize(256);
    const Error error = import_error(state);
    CHECK(error.code == ErrorCode::shape_mismatch);
    CHECK(error.field == "batch_norm_fc2.running_var");
    CHECK(contains(error.message, "(256,)"));
    CHECK(contains(error.message, "expected (512,)"));
  }
  {
    StateDict state = cnn_state(cnn);
    NamedTensor* w = find(state, "fc1.weight");
    w->shape = {512, 2048};
    w->values.resize(512 * 2048);
    const Error error = import_error(state);
    CHECK(error.code == ErrorCode::shape_mismatch);
    CHECK(contains(error.message, "expected (512, 1152)"));
    CHECK(contains(error.message, "128x3x3"));
  }
}

TEST_CASE("names and shapes of no known network: unknown_architecture lists what was seen and what is expected",
          "[pytorch]") {
  StateDict state;
  Tensor matrix{{3, 4}, std::vector<float>(12, 0.f)};
  state.tensors.push_back(named("encoder.layers.0.attn.weight", matrix));
  Error error = import_error(state);
  CHECK(error.code == ErrorCode::unknown_architecture);
  CHECK(contains(error.message, "encoder.layers.0.attn.weight (3, 4)"));
  CHECK(contains(error.message, "linear_relu_stack.0.weight"));
  CHECK(contains(error.message, "conv1..3"));
  CHECK(contains(error.message, "torch.save(model.state_dict()"));

  CHECK(import_error(StateDict{}).code == ErrorCode::unknown_architecture);

  StateDict extra = cnn_state(make_cnn(1));
  extra.tensors.push_back(named("attention.weight", matrix));
  error = import_error(extra);
  CHECK(error.code == ErrorCode::unknown_architecture);
  CHECK(contains(error.message, "attention.weight"));

  pytorch::ImportOptions forced;
  forced.architecture = "mlp";
  error = import_error(mlp_state(make_mlp_deep(1)), forced);
  CHECK(error.code == ErrorCode::unknown_architecture);
  CHECK(contains(error.message, "this file has 5"));
  forced.architecture = "cnn";
  error = import_error(mlp_state(make_mlp(1)), forced);
  CHECK(error.code == ErrorCode::unknown_architecture);
  CHECK(contains(error.message, "no conv1.weight"));
}

TEST_CASE("bad options and bad values are refused with what to do", "[pytorch]") {
  const StateDict state = mlp_state(make_mlp(1));
  pytorch::ImportOptions options;
  options.normalize_std = 0.f;
  CHECK(import_error(state, options).code == ErrorCode::bad_argument);
  options = {};
  options.normalize_mean = NAN;
  CHECK(import_error(state, options).code == ErrorCode::bad_argument);
  options = {};
  options.activation = "gelu";
  CHECK(contains(import_error(state, options).message, "relu, sigmoid, tanh or leaky_relu"));
  options = {};
  options.dataset = "cifar10";
  CHECK(import_error(state, options).code == ErrorCode::bad_argument);
  options = {};
  options.architecture = "resnet";
  CHECK(import_error(state, options).code == ErrorCode::bad_argument);

  StateDict integers = state;
  NamedTensor* w = find(integers, "linear_relu_stack.2.bias");
  w->dtype = pytorch::TensorDType::int64;
  w->integers.assign(w->values.size(), 0);
  w->values.clear();
  CHECK(import_error(integers).code == ErrorCode::bad_dtype);

  StateDict diverged = state;
  find(diverged, "linear_relu_stack.4.weight")->values[17] = NAN;
  const Error error = import_error(diverged);
  CHECK(error.code == ErrorCode::bad_value);
  CHECK(contains(error.message, "element 17"));
}

// ---- export, and back ---------------------------------------------------------------------------------------------

TEST_CASE("export writes the tutorial's state_dict: stored, 64-byte aligned entries that read back identically",
          "[pytorch]") {
  for (const Model& original : {make_mlp(11), make_mlp_deep(12), make_cnn(13)}) {
    INFO(original.card.architecture);
    auto bytes = pytorch::export_state_dict(original);
    REQUIRE(bytes.ok());
    const std::vector<std::uint8_t>& file = bytes.value();
    // Every entry stored (the ZIP reader refuses any other method), its data at a multiple of 64 (as
    // torch.save aligns it), and the central directory's CRCs right (the reader checks them).
    auto archive = zip::read_archive(ByteSpan(file));
    REQUIRE(archive.ok());
    std::size_t entries = 0;
    for (const zip::Entry& entry : archive.value().entries) {
      INFO(entry.name);
      CHECK(entry.data_offset % 64 == 0);
      CHECK(load_u16_le(&file[std::size_t(entry.header_offset) + 8]) == 0);  // method: stored
      ++entries;
    }
    const bool is_cnn = original.card.architecture == "cnn";
    const StateDict expected = is_cnn ? cnn_state(original) : mlp_state(original);
    CHECK(entries == 3 + expected.tensors.size());  // data.pkl, byteorder, version and one storage per tensor

    auto state = pytorch::read_state_dict(ByteSpan(file));
    if (!state) FAIL(state.error().to_string());
    REQUIRE(state.value().tensors.size() == expected.tensors.size());
    for (std::size_t t = 0; t < expected.tensors.size(); ++t) {
      const NamedTensor& a = state.value().tensors[t];
      const NamedTensor& b = expected.tensors[t];
      INFO(b.name);
      CHECK(a.name == b.name);
      CHECK(a.shape == b.shape);
      CHECK(a.values == b.values);
      if (b.dtype == pytorch::TensorDType::int64) CHECK(a.dtype == pytorch::TensorDType::int64);
    }
    require_same_network(import_or_fail(state.value()), original);

    auto loaded = pytorch::load_pytorch(ByteSpan(file));
    if (!loaded) FAIL(loaded.error().to_string());
    require_same_network(loaded.value().model, original);
  }
}

TEST_CASE("export refuses a layer list no tutorial class can load", "[pytorch]") {
  Model model = make_mlp(1);
  model.layers.push_back(make_simple_layer(LayerKind::softmax));
  auto bytes = pytorch::export_state_dict(model);
  REQUIRE_FALSE(bytes.ok());
  CHECK(bytes.error().code == ErrorCode::unknown_architecture);
  CHECK(contains(bytes.error().message, "softmax"));

  Model cnn = make_cnn(1);
  cnn.layers.erase(cnn.layers.begin() + 3);  // the first max-pool
  auto refused = pytorch::export_state_dict(cnn);
  REQUIRE_FALSE(refused.ok());
  INFO(refused.error().to_string());
}
