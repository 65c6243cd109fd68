// train.hpp checked from inside the core: every layer kind's backward pass against central finite
// differences (eval and train mode), input_gradient, the initialisation, the schedules, the Trainer (it
// learns, it refuses bad input) and the seeded run whose weights-file checksum must equal the golden value in
// tests/data/core_training_golden.txt natively and in wasm. Read next: shared/src/train.cpp,
// tests/trainer/test_core_training.cpp (the same against LibTorch).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "digitlab/architectures.hpp"
#include "digitlab/crc32.hpp"
#include "digitlab/model.hpp"
#include "digitlab/train.hpp"
#include "digitlab/weights.hpp"

using namespace digitlab;

namespace {

// Every layer kind, on a 2x7x7 input and 4 classes: conv (padding), batch_norm 2d, relu, an overlapping
// max-pool (kernel 3, stride 2), conv (stride 1, no padding), tanh, flatten, linear, batch_norm 1d,
// leaky_relu, dropout, linear, sigmoid, linear, a softmax inside the network, linear, trailing softmax.
Model every_kind_model(std::uint64_t seed) {
  Model model;
  model.card.architecture = "every-kind";
  model.card.input_channels = 2;
  model.card.input_height = 7;
  model.card.input_width = 7;
  model.card.class_names = {"a", "b", "c", "d"};
  model.layers = {make_conv2d_layer(2, 3, 3, 1, 1), make_batch_norm_layer(3),   make_simple_layer(LayerKind::relu),
                  make_max_pool2d_layer(3, 2),      make_conv2d_layer(3, 4, 2), make_simple_layer(LayerKind::tanh),
                  make_simple_layer(LayerKind::flatten), make_linear_layer(16, 8), make_batch_norm_layer(8),
                  make_leaky_relu_layer(0.1f),      make_dropout_layer(0.3f),   make_linear_layer(8, 6),
                  make_simple_layer(LayerKind::sigmoid), make_linear_layer(6, 5), make_simple_layer(LayerKind::softmax),
                  make_linear_layer(5, 4),          make_simple_layer(LayerKind::softmax)};
  randomize_parameters(model, seed);  // batch_norm with non-trivial gamma, beta and statistics
  return model;
}

std::vector<float> random_inputs(std::size_t count, std::uint64_t seed) {
  SeededRandom random(seed);
  std::vector<float> values(count);
  for (float& v : values) v = random.uniform(-1.f, 1.f);
  return values;
}

struct Largest {
  double difference = 0.0;
  std::string where;
  void note(double analytic, double numeric, const std::string& at) {
    // Absolute plus relative: the loss is float, so tiny gradients carry about 1e-4 of noise.
    const double difference_now = std::abs(analytic - numeric) / (1.0 + std::abs(numeric));
    if (difference_now > difference) {
      difference = difference_now;
      where = at + ": analytic " + std::to_string(analytic) + ", numeric " + std::to_string(numeric);
    }
  }
};

// Central differences of the batch loss for every parameter, against loss_and_gradients().
Largest check_gradients(const Model& model, const std::vector<float>& inputs, const std::vector<int>& labels,
                        const GradientOptions& options) {
  auto result = loss_and_gradients(model, inputs.data(), labels.data(), labels.size(), options);
  REQUIRE(result.ok());
  const float step = 2e-3f;
  Largest largest;
  for (std::size_t l = 0; l < model.layers.size(); ++l) {
    const std::size_t trainable = result.value().layers[l].tensors.size();
    for (std::size_t t = 0; t < trainable; ++t) {
      for (std::size_t i = 0; i < model.layers[l].tensors[t].values.size(); ++i) {
        Model plus = model, minus = model;
        plus.layers[l].tensors[t].values[i] += step;
        minus.layers[l].tensors[t].values[i] -= step;
        const double up = loss_and_gradients(plus, inputs.data(), labels.data(), labels.size(), options).value().loss;
        const double down = loss_and_gradients(minus, inputs.data(), labels.data(), labels.size(), options).value().loss;
        largest.note(result.value().layers[l].tensors[t].values[i], (up - down) / (2.0 * step),
                     "layer " + std::to_string(l) + " (" + layer_kind_name(model.layers[l].kind) + ") tensor " +
                         std::to_string(t) + " index " + std::to_string(i));
      }
    }
  }
  return largest;
}

// Synthetic 8-bit images: class k is a bright 3x3 square in one of four places, on noise.
struct SyntheticSet {
  std::vector<std::uint8_t> pixels, labels;
  std::int64_t channels = 1, side = 8;
  ImageSet view() const { return ImageSet{pixels.data(), labels.data(), labels.size(), channels, side, side}; }
};

SyntheticSet synthetic_squares(std::size_t count, int channels, int side, std::uint64_t seed) {
  SyntheticSet set;
  set.channels = channels;
  set.side = side;
  SeededRandom random(seed);
  const std::size_t size = static_cast<std::size_t>(channels) * side * side;
  set.pixels.resize(count * size);
  set.labels.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const int label = static_cast<int>(random.next_u64() % 4);
    set.labels[i] = static_cast<std::uint8_t>(label);
    std::uint8_t* image = set.pixels.data() + i * size;
    for (std::size_t p = 0; p < size; ++p) image[p] = static_cast<std::uint8_t>(random.next_u64() % 60);
    const int y0 = (label / 2) * (side - 3), x0 = (label % 2) * (side - 3);
    for (int c = 0; c < channels; ++c)
      for (int y = y0; y < y0 + 3; ++y)
        for (int x = x0; x < x0 + 3; ++x) image[(static_cast<std::size_t>(c) * side + y) * side + x] = 250;
  }
  return set;
}

// The seeded runs behind the golden checksum: the every-kind model, Adam with weight decay and a cosine
// schedule, then SGD with momentum and StepLR, batches that do not divide the data; and a small MLP whose
// first layer takes the sparse path. Returns both weights files, one after the other.
std::vector<std::vector<std::uint8_t>> golden_run_bytes() {
  const SyntheticSet data = synthetic_squares(50, 2, 7, 11);
  Model model = every_kind_model(3);
  initialize_like_pytorch(model, 5);
  TrainerOptions adam;
  adam.optimizer.kind = OptimizerKind::adam;
  adam.optimizer.learning_rate = 0.01;
  adam.optimizer.weight_decay = 1e-3;
  adam.schedule.kind = Schedule::Kind::cosine;
  adam.epochs = 2;
  adam.batch_size = 16;
  adam.seed = 7;
  auto first = Trainer::create(model, data.view(), adam);
  REQUIRE(first.ok());
  while (!first.value().finished()) REQUIRE(first.value().step().ok());
  TrainerOptions sgd;
  sgd.optimizer.learning_rate = 0.05;
  sgd.optimizer.weight_decay = 1e-4;
  sgd.schedule.kind = Schedule::Kind::step;
  sgd.schedule.step_epochs = 1;
  sgd.schedule.gamma = 0.5;
  sgd.epochs = 2;
  sgd.batch_size = 12;
  sgd.seed = 8;
  auto second = Trainer::create(first.value().model(), data.view(), sgd);
  REQUIRE(second.ok());
  while (!second.value().finished()) REQUIRE(second.value().step().ok());
  auto bytes = write_weights(second.value().model());
  REQUIRE(bytes.ok());
  // And a flatten-first MLP on blank-background squares: its first layer takes the sparse path.
  SyntheticSet squares = synthetic_squares(60, 1, 8, 12);
  for (std::uint8_t& v : squares.pixels) v = v == 250 ? 250 : 0;
  Model mlp;
  mlp.card.input_channels = 1;
  mlp.card.input_height = 8;
  mlp.card.input_width = 8;
  mlp.card.class_names = {"0", "1", "2", "3"};
  mlp.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(64, 12), make_simple_layer(LayerKind::relu),
                make_linear_layer(12, 4)};
  initialize_like_pytorch(mlp, 9);
  auto third = Trainer::create(mlp, squares.view(), sgd);
  REQUIRE(third.ok());
  while (!third.value().finished()) REQUIRE(third.value().step().ok());
  auto mlp_bytes = write_weights(third.value().model());
  REQUIRE(mlp_bytes.ok());
  return {bytes.value(), mlp_bytes.value()};
}

const std::string kGoldenPath = std::string(DIGITLAB_SOURCE_DIR) + "/tests/data/core_training_golden.txt";

// CRC-32 of the files one after the other, as 8 hex digits.
std::string crc_text(const std::vector<std::vector<std::uint8_t>>& files) {
  std::uint32_t crc = 0;
  for (const auto& bytes : files) crc = crc32(ByteSpan(bytes.data(), bytes.size()), crc);
  char text[16];
  std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(crc));
  return text;
}

}  // namespace

TEST_CASE("every layer kind's backward pass matches finite differences (eval mode)", "[train]") {
  const Model model = every_kind_model(1);
  const std::vector<int> labels = {0, 3, 1, 2, 3};
  const std::vector<float> inputs = random_inputs(labels.size() * 98, 2);
  auto result = loss_and_gradients(model, inputs.data(), labels.data(), labels.size());
  REQUIRE(result.ok());
  // The loss agrees with forward()'s probabilities.
  double loss = 0.0;
  for (std::size_t s = 0; s < labels.size(); ++s)
    loss -= std::log(forward(model, inputs.data() + s * 98, 98).value().probabilities[labels[s]]);
  CHECK(std::abs(result.value().loss - loss / labels.size()) < 1e-5);
  const Largest largest = check_gradients(model, inputs, labels, {});
  INFO("largest |analytic - numeric| / (1 + |numeric|) = " << largest.difference << " at " << largest.where);
  CHECK(largest.difference < 2e-3);
}

TEST_CASE("every layer kind's backward pass matches finite differences (train mode: batch statistics, dropout)",
          "[train]") {
  const Model model = every_kind_model(2);
  const std::vector<int> labels = {1, 0, 2, 3, 3, 0};
  const std::vector<float> inputs = random_inputs(labels.size() * 98, 4);
  GradientOptions options;
  options.mode = PassMode::train;
  options.dropout_seed = 9;  // the same masks for every evaluation of the loss
  const Largest largest = check_gradients(model, inputs, labels, options);
  INFO("largest |analytic - numeric| / (1 + |numeric|) = " << largest.difference << " at " << largest.where);
  CHECK(largest.difference < 2e-3);

  // Running statistics as PyTorch updates them: momentum 0.1, unbiased variance of the batch.
  auto result = loss_and_gradients(model, inputs.data(), labels.data(), labels.size(), options);
  REQUIRE(result.ok());
  const auto& statistics = result.value().layers[8].running_statistics;  // batch_norm 1d over 6 rows
  REQUIRE(statistics.size() == 2);
  CHECK(statistics[0].values != model.layers[8].tensors[2].values);
  CHECK(result.value().layers[0].running_statistics.empty());
}

TEST_CASE("a first linear layer on mostly blank inputs (the sparse path) matches finite differences", "[train]") {
  // flatten, linear, relu, linear on 1x6x6: blank paper is (0 - 0.5) / 0.5 = -1; a fifth of the pixels inked.
  Model model;
  model.card.input_channels = 1;
  model.card.input_height = 6;
  model.card.input_width = 6;
  model.card.class_names = {"a", "b", "c"};
  model.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(36, 9), make_simple_layer(LayerKind::relu),
                  make_linear_layer(9, 3)};
  randomize_parameters(model, 5);
  SeededRandom random(6);
  const std::vector<int> labels = {0, 2, 1, 1};
  std::vector<float> inputs(labels.size() * 36, -1.f);
  for (float& v : inputs)
    if (random.next_u64() % 5 == 0) v = random.uniform(-1.f, 1.f);
  const Largest largest = check_gradients(model, inputs, labels, {});
  INFO("largest |analytic - numeric| / (1 + |numeric|) = " << largest.difference << " at " << largest.where);
  CHECK(largest.difference < 2e-3);
  // The same gradients as the dense product to rounding: every input inked takes the dense path.
  std::vector<float> dense = inputs;
  for (float& v : dense)
    if (v == -1.f) v = -1.f + 1e-7f;
  auto sparse_result = loss_and_gradients(model, inputs.data(), labels.data(), labels.size());
  auto dense_result = loss_and_gradients(model, dense.data(), labels.data(), labels.size());
  REQUIRE(sparse_result.ok());
  REQUIRE(dense_result.ok());
  double difference = 0.0;
  for (std::size_t i = 0; i < 36 * 9; ++i)
    difference = std::max(difference, double(std::abs(sparse_result.value().layers[1].tensors[0].values[i] -
                                                      dense_result.value().layers[1].tensors[0].values[i])));
  INFO("largest |sparse - dense| weight gradient " << difference);
  CHECK(difference < 1e-5);
}

TEST_CASE("input_gradient matches finite differences of one logit", "[train]") {
  Model model = every_kind_model(4);
  const std::vector<float> input = random_inputs(98, 5);
  for (int cls = 0; cls < 4; ++cls) {
    auto gradient = input_gradient(model, input.data(), input.size(), cls);
    REQUIRE(gradient.ok());
    REQUIRE(gradient.value().size() == 98);
    Largest largest;
    for (std::size_t i = 0; i < input.size(); ++i) {
      std::vector<float> plus = input, minus = input;
      plus[i] += 2e-3f;
      minus[i] -= 2e-3f;
      const double numeric = (forward(model, plus.data(), 98).value().logits[cls] -
                              forward(model, minus.data(), 98).value().logits[cls]) / 4e-3;
      largest.note(gradient.value()[i], numeric, "class " + std::to_string(cls) + " input " + std::to_string(i));
    }
    INFO("largest difference " << largest.difference << " at " << largest.where);
    CHECK(largest.difference < 2e-3);
  }
  CHECK_FALSE(input_gradient(model, input.data(), input.size(), 4).ok());
  CHECK_FALSE(input_gradient(model, input.data(), input.size() - 1, 0).ok());
}

TEST_CASE("loss_and_gradients refuses bad batches", "[train]") {
  const Model model = every_kind_model(1);
  const std::vector<float> inputs = random_inputs(98, 1);
  const int bad_label = 4;
  CHECK(loss_and_gradients(model, inputs.data(), &bad_label, 1).error().code == ErrorCode::bad_argument);
  CHECK(loss_and_gradients(model, inputs.data(), &bad_label, 0).error().code == ErrorCode::bad_argument);
  Model broken = model;
  broken.layers[7].tensors[0].values.pop_back();
  const int label = 0;
  CHECK_FALSE(loss_and_gradients(broken, inputs.data(), &label, 1).ok());
}

TEST_CASE("initialize_like_pytorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) and the identity batch_norm", "[train]") {
  Model model = make_cnn(1);
  initialize_like_pytorch(model, 3);
  for (const Layer& layer : model.layers) {
    if (layer.kind == LayerKind::linear || layer.kind == LayerKind::conv2d) {
      const double fan_in = layer.kind == LayerKind::linear ? double(layer.in_features)
                                                            : double(layer.in_channels * layer.kernel * layer.kernel);
      const double bound = 1.0 / std::sqrt(fan_in);
      for (const Tensor& tensor : layer.tensors) {
        double largest = 0, sum = 0;
        for (float v : tensor.values) {
          largest = std::max(largest, double(std::abs(v)));
          sum += v;
        }
        CHECK(largest <= bound);
        if (tensor.values.size() > 1000) {
          CHECK(largest > 0.99 * bound);                                     // it fills the range
          CHECK(std::abs(sum / tensor.values.size()) < 0.05 * bound);          // centred
        }
      }
    }
    if (layer.kind == LayerKind::batch_norm) {
      for (std::size_t c = 0; c < std::size_t(layer.channels); ++c) {
        CHECK(layer.tensors[0].values[c] == 1.f);
        CHECK(layer.tensors[1].values[c] == 0.f);
        CHECK(layer.tensors[2].values[c] == 0.f);
        CHECK(layer.tensors[3].values[c] == 1.f);
      }
    }
  }
  Model again = make_cnn(1);
  initialize_like_pytorch(again, 3);
  CHECK(again.layers[0].tensors[0].values == model.layers[0].tensors[0].values);
}

TEST_CASE("schedules: StepLR per epoch, cosine per step", "[train]") {
  Schedule step;
  step.kind = Schedule::Kind::step;
  step.step_epochs = 2;
  step.gamma = 0.1;
  CHECK(step.learning_rate(0.5, 0, 0, 100) == 0.5);
  CHECK(step.learning_rate(0.5, 1, 50, 100) == 0.5);
  CHECK(step.learning_rate(0.5, 2, 0, 100) == Approx(0.05).epsilon(1e-12));
  CHECK(step.learning_rate(0.5, 5, 0, 100) == Approx(0.005).epsilon(1e-12));  // floor(5 / 2) = 2 steps
  Schedule cosine;
  cosine.kind = Schedule::Kind::cosine;
  for (int s = 0; s <= 100; s += 7)
    CHECK(cosine.learning_rate(0.1, 0, s, 100) == Approx(0.05 * (1 + std::cos(M_PI * s / 100.0))).margin(1e-15));
  CHECK(Schedule{}.learning_rate(0.1, 3, 10, 100) == 0.1);
}

TEST_CASE("the Trainer learns a small problem with each optimiser and reports its steps", "[train]") {
  const SyntheticSet data = synthetic_squares(200, 1, 8, 3);
  Model model;
  model.card.input_channels = 1;
  model.card.input_height = 8;
  model.card.input_width = 8;
  model.card.class_names = {"0", "1", "2", "3"};
  model.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(64, 16), make_simple_layer(LayerKind::relu),
                  make_linear_layer(16, 4)};
  initialize_like_pytorch(model, 1);
  for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::adam, OptimizerKind::adamw}) {
    TrainerOptions options;
    options.optimizer.kind = kind;
    options.optimizer.learning_rate = kind == OptimizerKind::sgd ? 0.05 : 0.005;
    options.optimizer.weight_decay = 1e-4;
    options.epochs = 3;
    options.batch_size = 32;
    auto trainer = Trainer::create(model, data.view(), options);
    REQUIRE(trainer.ok());
    CHECK(trainer.value().steps_per_epoch() == 7);  // 200 / 32, the last batch short
    CHECK(trainer.value().total_steps() == 21);
    StepReport first, last;
    while (!trainer.value().finished()) {
      auto report = trainer.value().step();
      REQUIRE(report.ok());
      if (report.value().global_step == 1) first = report.value();
      last = report.value();
    }
    CHECK(first.epoch == 1);
    CHECK(first.step == 1);
    CHECK(last.epoch == 3);
    CHECK(last.step == 7);
    CHECK(last.batch == 200 - 6 * 32);
    CHECK(last.epoch_finished);
    INFO("optimiser " << static_cast<int>(kind) << ": first loss " << first.loss << ", last " << last.loss);
    CHECK(last.loss < 0.5f * first.loss);
    const Model trained = trainer.value().model();
    auto evaluation = evaluate(trained, data.view());
    REQUIRE(evaluation.ok());
    CHECK(evaluation.value().accuracy > 0.9);
    // The same evaluation a slice at a time.
    Evaluation pieces;
    for (std::size_t first = 0; first < 200; first += 64) {
      auto part = evaluate(trained, data.view().slice(first, 64));
      REQUIRE(part.ok());
      pieces.merge(part.value());
    }
    CHECK(pieces.count == 200);
    CHECK(pieces.correct == evaluation.value().correct);
    CHECK(pieces.confusion == evaluation.value().confusion);
    // The Trainer's own evaluation (its training layers in eval mode, no copy of the model), in slices.
    Evaluation own;
    for (std::size_t first = 0; first < 200; first += 70) {
      auto part = trainer.value().evaluate(data.view().slice(first, 70));
      REQUIRE(part.ok());
      own.merge(part.value());
    }
    CHECK(own.count == 200);
    CHECK(own.correct == evaluation.value().correct);
    CHECK(own.confusion == evaluation.value().confusion);
    // The trained model as the app gets it: a weights file with a self-test input, read back and checked.
    WriteOptions write_options;
    for (std::size_t p = 0; p < 64; ++p) write_options.self_test_input.push_back((data.pixels[p] / 255.f - 0.5f) / 0.5f);
    auto bytes = write_weights(trained, write_options);
    REQUIRE(bytes.ok());
    auto loaded = load_weights(bytes.value());
    REQUIRE(loaded.ok());
    CHECK(loaded.value().has_self_test);
    CHECK(loaded.value().model.card.recipe == trained.card.recipe);
    CHECK_FALSE(trainer.value().step().ok());  // finished
  }
}

TEST_CASE("Trainer::advance() runs a step in pieces and gives step()'s bits", "[train]") {
  const SyntheticSet data = synthetic_squares(40, 2, 7, 5);
  Model model = every_kind_model(6);
  initialize_like_pytorch(model, 2);
  TrainerOptions options;
  options.epochs = 2;
  options.batch_size = 16;
  auto whole = Trainer::create(model, data.view(), options);
  auto pieces = Trainer::create(model, data.view(), options);
  REQUIRE(whole.ok());
  REQUIRE(pieces.ok());
  // At least one forward and one backward piece for each of the 16 layers that run (not the trailing
  // softmax), three forward phases for each batch_norm, and the update.
  const std::size_t pieces_per_step = pieces.value().pieces_per_step();
  CHECK(pieces_per_step >= 16 + 16 + 1);
  while (!whole.value().finished()) {
    auto expected = whole.value().step();
    REQUIRE(expected.ok());
    std::size_t count = 0;
    std::optional<StepReport> report;
    while (!report) {
      auto piece = pieces.value().advance();
      REQUIRE(piece.ok());
      report = piece.value();
      ++count;
      if (!report) CHECK(pieces.value().global_step() == expected.value().global_step - 1);  // nothing moves mid-step
    }
    CHECK(count == pieces_per_step);  // the short last batch (8 of 16) too
    CHECK(report->loss == expected.value().loss);
    CHECK(report->global_step == expected.value().global_step);
  }
  REQUIRE(pieces.value().finished());
  CHECK(write_weights(pieces.value().model()).value() == write_weights(whole.value().model()).value());
}

// Cutting the passes finer (piece_work) changes how many pieces a step has, never the bits: every layer
// kind cut into many parts -- shares of the images, tiles of a linear layer's products, batch_norm's
// phases in parts, the update in slices -- trains to the same weights as one part per pass, with a short
// last batch, Adam (the update's scalars) and the sparse first layer.
TEST_CASE("the pieces' size never changes a run's bits", "[train]") {
  const auto run = [](const Model& start, const SyntheticSet& data, double piece_work, OptimizerKind kind,
                      std::size_t* pieces) {
    TrainerOptions options;
    options.epochs = 2;
    options.batch_size = 24;  // the last batch of each epoch short
    options.optimizer.kind = kind;
    options.optimizer.learning_rate = kind == OptimizerKind::sgd ? 0.05 : 0.01;
    options.piece_work = piece_work;
    auto trainer = Trainer::create(start, data.view(), options);
    REQUIRE(trainer.ok());
    *pieces = trainer.value().pieces_per_step();
    while (!trainer.value().finished()) REQUIRE(trainer.value().advance().ok());
    return write_weights(trainer.value().model()).value();
  };
  Model every_kind = every_kind_model(4);
  initialize_like_pytorch(every_kind, 3);
  const SyntheticSet squares = synthetic_squares(60, 2, 7, 6);
  SyntheticSet blank = synthetic_squares(60, 1, 8, 12);
  for (std::uint8_t& v : blank.pixels) v = v == 250 ? 250 : 0;
  const SyntheticSet noisy = synthetic_squares(60, 1, 8, 13);  // every pixel inked a little
  Model mlp;
  mlp.card.input_channels = 1;
  mlp.card.input_height = 8;
  mlp.card.input_width = 8;
  mlp.card.class_names = {"0", "1", "2", "3"};
  mlp.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(64, 40), make_simple_layer(LayerKind::relu),
                make_linear_layer(40, 36), make_simple_layer(LayerKind::relu), make_linear_layer(36, 4)};
  initialize_like_pytorch(mlp, 9);
  for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::adam}) {
    std::size_t few = 0, many = 0;
    INFO("optimiser " << static_cast<int>(kind));
    CHECK(run(every_kind, squares, 1e12, kind, &few) == run(every_kind, squares, 1e3, kind, &many));
    INFO("every-kind model: " << few << " pieces a step in one part a pass, " << many << " cut fine");
    CHECK(many > 2 * few);
    CHECK(run(mlp, blank, 1e12, kind, &few) == run(mlp, blank, 1e4, kind, &many));  // sparse first layer
    CHECK(run(mlp, noisy, 1e12, kind, &few) == run(mlp, noisy, 1e4, kind, &many));  // dense first layer
    INFO("MLP: " << few << " pieces a step in one part a pass, " << many << " cut fine");
    CHECK(many > 2 * few);
  }
}

// The pieces follow the work: the tutorial's models cut into more pieces at larger batches, none of
// them above piece_work by much (its size is a plan, not a measurement: the panel's test times them).
TEST_CASE("the tutorial's models' steps have more pieces at larger batches", "[train]") {
  std::vector<std::uint8_t> pixels(300 * 784, 0), labels(300, 1);
  std::vector<std::size_t> evaluation_images;  // per model and batch
  for (const char* name : {"mlp", "mlp-deep", "cnn"}) {
    std::size_t previous = 0;
    for (int batch : {16, 64, 256}) {
      TrainerOptions options;
      options.batch_size = batch;
      auto trainer = Trainer::create(make_architecture(name).value(), ImageSet{pixels.data(), labels.data(), 300, 1, 28, 28},
                                     options);
      REQUIRE(trainer.ok());
      INFO(name << " at batch " << batch << ": " << trainer.value().pieces_per_step() << " pieces a step");
      CHECK(trainer.value().pieces_per_step() > previous);
      previous = trainer.value().pieces_per_step();
      evaluation_images.push_back(trainer.value().evaluation_images_per_piece());
    }
  }
  // An evaluation piece is sized like a training piece, whatever the batch: fewer images the heavier the
  // model (at the default, the MLP's 22, the deep MLP's 5, the CNN's 1).
  INFO("images per evaluation piece: mlp " << evaluation_images[0] << ", mlp-deep " << evaluation_images[3] << ", cnn "
                                           << evaluation_images[6]);
  CHECK(evaluation_images[0] == evaluation_images[2]);
  CHECK(evaluation_images[0] > evaluation_images[3]);
  CHECK(evaluation_images[3] > evaluation_images[6]);
  CHECK(evaluation_images[6] == 1);
}

TEST_CASE("a diverging run (learning rate 50) keeps stepping and reports its non-finite loss", "[train]") {
  const SyntheticSet data = synthetic_squares(64, 2, 7, 4);
  Model model = every_kind_model(5);
  initialize_like_pytorch(model, 5);
  TrainerOptions options;
  options.optimizer.learning_rate = 50;
  options.epochs = 6;
  options.batch_size = 16;
  auto trainer = Trainer::create(model, data.view(), options);
  REQUIRE(trainer.ok());
  float largest = 0.f;
  bool finite = true;
  while (!trainer.value().finished()) {
    auto report = trainer.value().step();
    REQUIRE(report.ok());
    finite = finite && std::isfinite(report.value().loss);
    if (std::isfinite(report.value().loss)) largest = std::max(largest, report.value().loss);
  }
  INFO("largest finite loss " << largest);
  CHECK((!finite || largest > 5.f));  // it diverged: the loss exploded or became NaN / inf
  CHECK(evaluate(trainer.value().model(), data.view()).ok());  // still a model the app can run
}

TEST_CASE("the Trainer refuses bad data and options", "[train]") {
  const SyntheticSet data = synthetic_squares(10, 1, 8, 3);
  Model model = make_mlp(1);
  CHECK(Trainer::create(model, data.view(), {}).error().code == ErrorCode::bad_argument);  // 8x8 images, 28x28 model
  SyntheticSet bad = data;
  bad.labels[3] = 10;
  Model small;
  small.card.input_channels = 1;
  small.card.input_height = 8;
  small.card.input_width = 8;
  small.card.class_names = {"0", "1", "2", "3"};
  small.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(64, 4)};
  CHECK(Trainer::create(small, bad.view(), {}).error().code == ErrorCode::bad_argument);
  TrainerOptions options;
  options.batch_size = 0;
  CHECK(Trainer::create(small, data.view(), options).error().code == ErrorCode::bad_argument);
  options = {};
  options.optimizer.learning_rate = -1;
  CHECK(Trainer::create(small, data.view(), options).error().code == ErrorCode::bad_argument);
  options = {};
  options.schedule.kind = Schedule::Kind::step;
  options.schedule.gamma = -0.5;
  CHECK(Trainer::create(small, data.view(), options).error().code == ErrorCode::bad_argument);
  CHECK(Trainer::create(small, ImageSet{}, {}).error().code == ErrorCode::bad_argument);
  // A batch the memory budget cannot hold is refused before anything is allocated.
  const SyntheticSet digits = synthetic_squares(10, 1, 28, 3);
  options = {};
  options.batch_size = 65536;
  auto too_big = Trainer::create(make_cnn(1), digits.view(), options);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().code == ErrorCode::over_budget);
  options.batch_size = 64;
  CHECK(Trainer::create(make_cnn(1), digits.view(), options).ok());
}

TEST_CASE("a seeded training run gives the golden weights-file bytes (native and wasm)", "[train]") {
  const auto files = golden_run_bytes();
  CHECK(golden_run_bytes() == files);  // the same runs twice in one process
  std::ifstream file(kGoldenPath);
  REQUIRE(file.good());
  std::string golden;
  file >> golden;
  INFO("crc32 of the weights files: " << crc_text(files) << ", golden (" << kGoldenPath << "): " << golden
       << ". If the training maths changed on purpose, regenerate with: build/native/tests/test_core \"[.train-golden]\"");
  CHECK(crc_text(files) == golden);
  for (const auto& bytes : files) {
    auto loaded = load_weights(bytes);
    REQUIRE(loaded.ok());  // normal weights files (the first with trained batch_norm statistics)
  }
}

TEST_CASE("regenerate tests/data/core_training_golden.txt", "[.train-golden]") {
  const std::string text = crc_text(golden_run_bytes());
  std::ofstream file(kGoldenPath);
  file << text << "\n";
  REQUIRE(file.good());
  std::printf("wrote %s: %s\n", kGoldenPath.c_str(), text.c_str());
}

// Not a test: training speed of the tutorial's MLP, the deep MLP and the CNN on synthetic 28x28 digits at
// batch 16, 64 and 256, with the longest Trainer::advance() piece (the browser panel's frame budget),
// printed (run it with build/native/tests/test_core "[.train-speed]", or the wasm build under node). A
// timing never fails it.
TEST_CASE("training speed in images per second (prints figures)", "[.train-speed]") {
  for (const char* name : {"mlp", "mlp-deep", "cnn"}) {
    for (const int batch : {16, 64, 256}) {
      const bool cnn = std::string(name) == "cnn";
      const std::size_t count = cnn ? 768 : 7680;
      SeededRandom random(1);
      std::vector<std::uint8_t> pixels(count * 784), labels(count);
      for (std::size_t i = 0; i < count; ++i) {
        labels[i] = static_cast<std::uint8_t>(random.next_u64() % 10);
        for (std::size_t p = 0; p < 784; ++p) pixels[i * 784 + p] = random.next_u64() % 5 == 0 ? 255 : 0;
      }
      Model model = make_architecture(name).value();
      initialize_like_pytorch(model, 1);
      TrainerOptions options;
      options.epochs = 1;
      options.batch_size = batch;
      auto trainer = Trainer::create(model, ImageSet{pixels.data(), labels.data(), count, 1, 28, 28}, options);
      REQUIRE(trainer.ok());
      const auto started = std::chrono::steady_clock::now();
      double longest_piece = 0.0;
      while (!trainer.value().finished()) {
        const auto piece_started = std::chrono::steady_clock::now();
        REQUIRE(trainer.value().advance().ok());
        longest_piece = std::max(
            longest_piece, std::chrono::duration<double>(std::chrono::steady_clock::now() - piece_started).count());
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::printf("%-8s batch %3d: %zu images in %.2f s: %.0f images/s (SGD, one thread); %zu pieces a step, "
                  "longest advance() piece %.1f ms\n",
                  name, batch, count, seconds, count / seconds, trainer.value().pieces_per_step(), 1e3 * longest_piece);
    }
  }
}
