// Training in the core: batched forward and backward passes for every layer kind, softmax cross-entropy,
// PyTorch's default initialisation, SGD (momentum) / Adam / AdamW with weight decay, StepLR and cosine
// schedules, and a Trainer that runs one step at a time (a browser panel calls it time-sliced). Fixed-order
// loops only: the same seed gives the same bits natively and in wasm. Read next: shared/src/train.cpp,
// docs/core.md ("Training": the API, how it matches PyTorch, the tolerances it is checked to).
//
// Sections: 1. gradients of one batch  2. initialisation  3. optimiser and schedule  4. the Trainer
//           5. evaluation
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "digitlab/error.hpp"
#include "digitlab/model.hpp"

namespace digitlab {

// ---- 1. Gradients of one batch ---------------------------------------------------------------------

// eval: batch_norm uses its running statistics and dropout is the identity (model.eval() in PyTorch).
// train: batch_norm normalises with the batch's own statistics (biased variance) and dropout zeroes each
// value with probability p and scales the others by 1 / (1 - p) (model.train()).
enum class PassMode { eval, train };

struct GradientOptions {
  PassMode mode = PassMode::eval;
  std::uint64_t dropout_seed = 1;  // train mode: where the dropout masks come from
  std::uint64_t memory_budget = 1ull << 30;  // bytes the pass may hold (over_budget beyond: a browser tab survives)
};

// One gradient tensor per trainable tensor of the layer, in the layer's tensor order: linear and conv2d
// weight, bias; batch_norm gamma, beta (not the running statistics, which are buffers). Empty otherwise.
struct LayerGradients {
  std::vector<Tensor> tensors;
  // train mode, batch_norm only: running_mean and running_var as PyTorch leaves them after this batch
  // (momentum 0.1, unbiased batch variance). Empty otherwise.
  std::vector<Tensor> running_statistics;
};

struct BatchGradients {
  float loss = 0.f;                    // mean softmax cross-entropy over the batch (nn.CrossEntropyLoss)
  int correct = 0;                     // samples whose largest logit is their label
  std::vector<LayerGradients> layers;  // one per model layer
};

// Loss and the gradients of every layer's parameters for a batch: inputs holds `batch` normalised model
// inputs (channels, height, width) one after another, labels one class each. Trailing softmax layers are
// skipped (the loss takes logits, as nn.CrossEntropyLoss does); a softmax elsewhere is differentiated.
// Errors: bad_argument (empty batch, label out of range), over_budget, the model's own shape errors.
Result<BatchGradients> loss_and_gradients(const Model& model, const float* inputs, const int* labels,
                                          std::size_t batch, const GradientOptions& options = {});

// Gradient of one class's logit with respect to the input (eval mode), for a saliency panel; the result
// is shaped like the input (channels, height, width). Errors: bad_argument, the model's shape errors.
Result<std::vector<float>> input_gradient(const Model& model, const float* input, std::size_t input_size,
                                          int class_index);

// ---- 2. Initialisation -------------------------------------------------------------------------------

// PyTorch's defaults, from the project's SeededRandom (the same numbers on every platform; not torch's
// random stream): Linear and Conv2d weights kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)), biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)); batch_norm gamma 1, beta 0, running_mean
// 0, running_var 1. Tensors are filled in layer order, weight before bias.
void initialize_like_pytorch(Model& model, std::uint64_t seed);

// ---- 3. Optimiser and schedule -----------------------------------------------------------------------

enum class OptimizerKind { sgd, adam, adamw };

// The torch.optim update rules (SGD without dampening or Nesterov; Adam without amsgrad).
struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::sgd;
  double learning_rate = 0.01;
  double momentum = 0.9;       // sgd
  double weight_decay = 0.0;   // sgd, adam: added to the gradient (L2); adamw: decoupled
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  // adam, adamw
};

// none; step (StepLR, per epoch: lr = base * gamma^floor(epoch / step_epochs)); cosine
// (CosineAnnealingLR to 0 over the whole run, per step: lr = base * (1 + cos(pi * step / total)) / 2),
// as `digitlab train --scheduler` does.
struct Schedule {
  enum class Kind { none, step, cosine } kind = Kind::none;
  int step_epochs = 1;
  double gamma = 0.1;
  // epoch counted from 0; global_step of total_steps. Deterministic (no libm cos).
  double learning_rate(double base, int epoch, std::int64_t global_step, std::int64_t total_steps) const;
};

// ---- 4. The Trainer ----------------------------------------------------------------------------------

// Images as 8-bit pixels (0 = background), (count, channels, height, width) one after another, and one
// label each. A view: the caller keeps the memory alive while a Trainer uses it. The shape must be the
// model card's input shape.
struct ImageSet {
  const std::uint8_t* pixels = nullptr;
  const std::uint8_t* labels = nullptr;
  std::size_t count = 0;
  std::int64_t channels = 1, height = 28, width = 28;

  // Images [first, first + n) (clamped to the set): a training-set size, or a test set evaluated a slice
  // per frame.
  ImageSet slice(std::size_t first, std::size_t n) const {
    const std::size_t start = first < count ? first : count;
    const std::size_t size = static_cast<std::size_t>(channels * height * width);
    ImageSet part = *this;
    part.pixels = pixels ? pixels + start * size : nullptr;
    part.labels = labels ? labels + start : nullptr;
    part.count = n < count - start ? n : count - start;
    return part;
  }
};

struct TrainerOptions {
  OptimizerOptions optimizer;
  Schedule schedule;
  int epochs = 5;
  int batch_size = 64;      // the last batch of an epoch may be shorter, as PyTorch's DataLoader
  std::uint64_t seed = 1;   // the shuffles (one permutation per epoch) and the dropout masks
  // Bytes a step may hold (activations kept for the backward pass, gradients, optimiser state), estimated
  // from the model and the batch size; over_budget beyond. At batch 64: MLP 11 MB, deep MLP 42 MB, CNN
  // 102 MB (the CNN training process peaked at 110 MB resident).
  std::uint64_t memory_budget = 1ull << 30;
  // Multiply-adds per advance() piece (about): 16 million is about 1.5 ms natively on the 2-core reference
  // machine and a few ms in wasm, so a page that runs a piece per frame stays far under 50 ms. Larger
  // means fewer, longer pieces; the bits of a run do not depend on it.
  double piece_work = 16e6;
};

// Accuracy and confusion counts over a set of images (evaluate() below, Trainer::evaluate()).
struct Evaluation {
  std::size_t count = 0, correct = 0;
  double accuracy = 0.0;                           // fraction
  std::vector<std::vector<std::size_t>> confusion;  // [true][predicted]
  // Adds another slice's evaluation (of the same model), so a page can evaluate a test set piecewise.
  void merge(const Evaluation& other);
};

// What the last step did, for the tutorial's log line "Epoch [e/E], Step [s/S], Loss: x".
struct StepReport {
  int epoch = 0;                 // 1-based, as printed
  std::int64_t step = 0;         // 1-based within the epoch
  std::int64_t global_step = 0;  // steps done in all
  float loss = 0.f;              // the batch's mean loss
  double learning_rate = 0.0;    // the rate this step used
  int batch = 0, correct = 0;    // images in the batch, and how many it had right before the update
  bool epoch_finished = false;   // this was the epoch's last step
};

// Trains a model in train mode, one batch per step(): images are normalised with the card's mean and std
// as torchvision's ToTensor + Normalize do, shuffled by a seeded permutation per epoch, and the optimiser
// and schedule update the parameters after each batch. Deterministic: the same model, data and options
// give the same bits everywhere.
class Trainer {
 public:
  // Checks the model and the data (bad_argument: empty data, images not shaped like the card's input, a
  // label outside the classes, bad options; over_budget: a batch too large for memory_budget).
  static Result<Trainer> create(Model model, ImageSet data, TrainerOptions options);
  Trainer(Trainer&&) noexcept;
  Trainer& operator=(Trainer&&) noexcept;
  ~Trainer();

  // One batch: forward, backward, update. Errors: bad_argument once finished().
  Result<StepReport> step();
  // The same step in pieces, for a page that must hand control back to the browser between frames: each
  // call runs one piece and returns the step's report with the last piece (std::nullopt before). A piece
  // is a part of one phase of one layer's pass -- a share of the batch's images, or for a linear layer's
  // product a tile of its output -- or a part of the update, each of about 16 million multiply-adds
  // (about 1.5 ms natively, a few ms in wasm: docs/core.md "Training"), so no piece of any model at batch
  // sizes up to 256 holds a browser frame long. batch_norm's phases (batch mean, variance, normalisation;
  // backward: its sums, then the input gradient) follow each other because each needs the whole batch's
  // previous one. step() is advance() until it reports: the same operations in the same order, so the
  // same bits. The parameters change in the update pieces (the step's last), the counters with the last.
  Result<std::optional<StepReport>> advance();
  // The same for every step of a run (a shorter last batch shares the same pieces out).
  std::size_t pieces_per_step() const;
  bool finished() const;

  int epoch() const;                   // 0-based epoch in progress (epochs() once finished)
  int epochs() const;
  std::int64_t step_in_epoch() const;  // 0-based next step within the epoch
  std::int64_t steps_per_epoch() const;
  std::int64_t global_step() const;
  std::int64_t total_steps() const;
  double learning_rate() const;        // what the next step will use
  float last_loss() const;             // of the last step (0 before the first)
  double epoch_mean_loss() const;      // mean batch loss of the epoch so far (of the last one when it ends)
  // The epoch's order: step s takes images order[s * batch_size ...] (a reference run can follow it).
  const std::vector<std::uint32_t>& epoch_order() const;

  // The model as trained so far (batch_norm running statistics included), prepared for forward(), with
  // the card's recipe filled in: write it with write_weights() like any other model. A copy whose weights
  // are packed for forward(): the deep MLP's takes tens of milliseconds in wasm.
  Model model() const;

  // The parameters as trained so far, evaluated in eval mode (batch_norm's running statistics, no
  // dropout) on `data`, normalised with the card as the training images are, without copying or packing
  // the model: the training layers' batched forward pass (the first linear layer always dense), 64
  // images at a time, on buffers of its own. A page evaluates a held-out set a slice per piece this way
  // between steps, evaluation_images_per_piece() images a slice (a piece's work, as advance()'s). The
  // prediction is the largest logit; the logits are the training pass's, equal to forward()'s up to
  // rounding, so a rare near-tie may be decided otherwise than by digitlab::evaluate(model(), data).
  // Errors: bad_argument between two update pieces of a step (the parameters half updated), for
  // mis-shaped data or a label outside the classes.
  Result<Evaluation> evaluate(ImageSet data);
  // Images whose evaluation is about options.piece_work multiply-adds (at least 1): MLP 22, deep MLP 5,
  // CNN 1 at the default.
  std::size_t evaluation_images_per_piece() const;

 private:
  struct State;
  explicit Trainer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// "sgd lr=0.01 momentum=0.9 batch=64 epochs=5 ..." for the model card, as `digitlab train` writes it.
std::string describe_recipe(const TrainerOptions& options);

// ---- 5. Evaluation -----------------------------------------------------------------------------------

// (struct Evaluation is declared before the Trainer.)
// forward() (eval mode) over every image of `data`, normalised with the card as the Trainer does. An
// unprepared model is prepared on a copy first. Errors: the model's, bad_argument for mis-shaped data.
Result<Evaluation> evaluate(const Model& model, ImageSet data);

}  // namespace digitlab
