// The trainer in-process on small subsets of the real data: it learns (loss falls, accuracy far above
// chance), the same seed gives the same bytes, and the exported model runs identically in LibTorch and in
// the Eigen core. Read next: tests/trainer/test_pieces.cpp, tests/trainer/cli_test.sh.
#include <cmath>
#include <cstdio>
#include <string>

#include "dataset.hpp"
#include "digitlab/architectures.hpp"
#include "digitlab/weights.hpp"
#include "export.hpp"
#include "network.hpp"
#include "trainer.hpp"

// LibTorch brings glog, whose CHECK() aborts the process; Catch's CHECK() records and carries on.
#undef CHECK
#include <catch2/catch.hpp>

using namespace digitlab;
using namespace digitlab::trainer;

namespace {

TrainOptions small_run(const std::string& model, std::int64_t train_images, int epochs) {
  TrainOptions options;
  options.dataset = "mnist";
  options.model = model;
  options.epochs = epochs;
  options.limit_train = train_images;
  options.limit_test = 500;
  options.threads = 1;
  options.device = "cpu";
  options.data_dir = std::string(DIGITLAB_DATA_DIR) + "/mnist";
  options.quiet = true;
  options.progress = "off";
  options.write_outputs = false;
  options.log_every = 5;
  return options;
}

// Largest |a - b| over two logit tables, and where.
struct Difference {
  double largest = 0;
  std::int64_t image = -1, label = -1;
};

Difference compare_logits(const torch::Tensor& a, const torch::Tensor& b) {
  Difference difference;
  const float* x = a.data_ptr<float>();
  const float* y = b.data_ptr<float>();
  const std::int64_t classes = a.size(1);
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double d = std::fabs(double(x[i]) - double(y[i]));
    if (!(d <= difference.largest)) {
      difference.largest = std::isnan(d) ? INFINITY : d;
      difference.image = i / classes;
      difference.label = i % classes;
    }
  }
  return difference;
}

// Runs the Eigen core over the first `count` test images, normalised like the trainer does.
torch::Tensor core_logits(const Model& model, const torch::Tensor& inputs) {
  const std::int64_t count = inputs.size(0), size = inputs[0].numel();
  const std::int64_t classes = static_cast<std::int64_t>(model.card.class_names.size());
  torch::Tensor logits = torch::empty({count, classes});
  for (std::int64_t i = 0; i < count; ++i) {
    auto prediction = forward(model, inputs.data_ptr<float>() + i * size, static_cast<std::size_t>(size));
    REQUIRE(prediction.ok());
    for (std::int64_t c = 0; c < classes; ++c) logits[i][c] = prediction.value().logits[c];
  }
  return logits;
}

}  // namespace

TEST_CASE("the MLP learns: loss falls and test accuracy is far above chance", "[trainer]") {
  auto result = train(small_run("mlp", 6000, 2));
  INFO((result ? "" : result.error().to_string()));
  REQUIRE(result.ok());
  const TrainResult& run = result.value();
  REQUIRE(run.losses.size() >= 4);
  const double first = run.losses.front().mean_loss, last = run.losses.back().mean_loss;
  INFO("mean loss over the first 5 steps " << first << ", over the last 5 " << last);
  CHECK(first > 1.5);          // about ln(10) = 2.30 at the start
  CHECK(last < 0.6 * first);
  REQUIRE(run.epochs.size() == 2);
  INFO("test accuracy per epoch " << run.epochs[0].test_accuracy << ", " << run.epochs[1].test_accuracy);
  CHECK(run.epochs[1].test_accuracy > 0.80);  // chance is 0.10
  CHECK(run.test.count == 500);
  // The confusion matrix accounts for every test image, and its diagonal is the accuracy.
  std::int64_t total = 0, diagonal = 0;
  for (std::size_t r = 0; r < run.test.confusion.size(); ++r)
    for (std::size_t c = 0; c < run.test.confusion.size(); ++c) {
      total += run.test.confusion[r][c];
      if (r == c) diagonal += run.test.confusion[r][c];
    }
  CHECK(total == 500);
  CHECK(diagonal == run.test.correct);
  CHECK(run.test.misclassified.size() == static_cast<std::size_t>(500 - run.test.correct));
}

TEST_CASE("the same seed gives byte-identical weights on CPU; another seed does not", "[trainer][determinism]") {
  auto first = train(small_run("mlp", 1000, 1));
  auto second = train(small_run("mlp", 1000, 1));
  TrainOptions other_seed = small_run("mlp", 1000, 1);
  other_seed.seed = 2;
  auto third = train(other_seed);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  REQUIRE(third.ok());
  const std::vector<float> input(784, 0.25f);
  auto a = weights_bytes(first.value().model, input);
  auto b = weights_bytes(second.value().model, input);
  auto c = weights_bytes(third.value().model, input);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  std::size_t first_difference = 0;
  while (first_difference < std::min(a.value().size(), b.value().size()) &&
         a.value()[first_difference] == b.value()[first_difference])
    ++first_difference;
  INFO("files of " << a.value().size() << " and " << b.value().size() << " bytes; first difference at byte "
                   << first_difference);
  CHECK(a.value() == b.value());
  CHECK(a.value() != c.value());
}

TEST_CASE("a trained CNN exports to the Eigen core with identical predictions (max |logit diff| <= 1e-4)",
          "[trainer][parity]") {
  // One short epoch: enough for batch-norm statistics and weights far from their initial values.
  auto result = train(small_run("cnn", 1280, 1));
  INFO((result ? "" : result.error().to_string()));
  REQUIRE(result.ok());
  const Model& model = result.value().model;

  // Through the weights file, as the web app gets it.
  auto bytes = weights_bytes(model, std::vector<float>(784, -1.f));
  REQUIRE(bytes.ok());
  auto loaded = load_weights(bytes.value());
  INFO((loaded ? "" : loaded.error().to_string()));
  REQUIRE(loaded.ok());
  Model& from_file = loaded.value().model;
  REQUIRE(prepare(from_file).ok());  // the core's packed weights, as the web app uses them

  // LibTorch, rebuilt from the file (what `digitlab eval` does).
  auto built = build_network(from_file);
  REQUIRE(built.ok());
  Network network = built.value();
  REQUIRE(import_model(*network, from_file).ok());
  auto test = load_split(std::string(DIGITLAB_DATA_DIR) + "/mnist", "t10k", 300, torch::kCPU);
  REQUIRE(test.ok());
  const Normalizer normalizer(0.5f, 0.5f, torch::kCPU);
  torch::Tensor torch_logits = predict_logits(*network, test.value().images, normalizer);
  torch::Tensor inputs = normalizer(test.value().images).contiguous();
  torch::Tensor eigen_logits = core_logits(from_file, inputs);

  const Difference difference = compare_logits(torch_logits, eigen_logits);
  const std::int64_t agree = torch_logits.argmax(1).eq(eigen_logits.argmax(1)).sum().item<std::int64_t>();
  std::printf("parity (cnn, 300 test images): %lld/300 identical predictions, max |logit diff| %.3g at image %lld "
              "class %lld\n",
              static_cast<long long>(agree), difference.largest, static_cast<long long>(difference.image),
              static_cast<long long>(difference.label));
  INFO("max |logit diff| " << difference.largest << " at image " << difference.image << " class " << difference.label);
  CHECK(agree == 300);
  CHECK(difference.largest <= 1e-4);
  // And the trained model is a real one, not an untrained net that trivially agrees.
  CHECK(evaluate_logits(eigen_logits, test.value().labels, 10).accuracy > 0.5);  // untrained: about 0.1
}

TEST_CASE("export then import reproduces the network exactly (channels-last and batch-norm buffers included)",
          "[trainer][export]") {
  torch::manual_seed(7);
  Model spec = make_cnn(1);
  auto built = build_network(spec);
  REQUIRE(built.ok());
  Network original = built.value();
  original->use_channels_last();
  {
    // Non-trivial running statistics: a few forward passes in training mode.
    torch::NoGradGuard no_grad;
    original->train();
    for (int i = 0; i < 3; ++i) original->forward(torch::randn({16, 1, 28, 28}));
  }
  const Model exported = export_model(*original, spec.card);
  REQUIRE(exported.layers.size() == spec.layers.size());
  const std::vector<std::int64_t> conv_shape{32, 1, 3, 3};
  CHECK(exported.layers[0].tensors[0].shape == conv_shape);
  CHECK(exported.layers[1].tensors.size() == 4);  // gamma, beta, running_mean, running_var

  auto rebuilt = build_network(exported);
  REQUIRE(rebuilt.ok());
  Network copy = rebuilt.value();
  REQUIRE(import_model(*copy, exported).ok());
  original->eval();
  copy->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor input = torch::randn({8, 1, 28, 28});
  torch::Tensor a = original->forward(input).contiguous(), b = copy->forward(input).contiguous();
  const Difference difference = compare_logits(a, b);
  INFO("max |logit diff| " << difference.largest << " at image " << difference.image << " class " << difference.label);
  CHECK(difference.largest <= 1e-5);  // NCHW vs channels-last may sum in another order; nothing more
  // A second export is the same Model, tensor for tensor.
  const Model again = export_model(*copy, spec.card);
  for (std::size_t i = 0; i < exported.layers.size(); ++i)
    for (std::size_t t = 0; t < exported.layers[i].tensors.size(); ++t)
      CHECK(exported.layers[i].tensors[t].values == again.layers[i].tensors[t].values);

  // Importing a model of another shape is refused with a message naming the layer.
  Model wrong = exported;
  wrong.layers[0].tensors[0].shape = {16, 1, 3, 3};
  auto refused = import_model(*copy, wrong);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::shape_mismatch);
  CHECK_THAT(refused.error().message, Catch::Contains("layer 0 (conv2d)"));
}
