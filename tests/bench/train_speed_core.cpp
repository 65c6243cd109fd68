// The core's side of the training-speed benchmark: a Trainer with the tutorial's recipe run a step at a
// time for a caller that holds the clock (tests/bench/train_speed.mjs in node and Chromium, or
// train_speed_main.cpp natively). Read next: train_speed.mjs (the driver and the other engines),
// shared/include/digitlab/train.hpp (what a step does).
#include "train_speed_core.hpp"

#include <optional>
#include <string>
#include <utility>

#include "digitlab/architectures.hpp"
#include "digitlab/train.hpp"

using namespace digitlab;

namespace {

std::optional<Trainer> trainer;
std::string error;
float last_loss = 0.f;

int fail(std::string what) {
  error = std::move(what);
  return -1;
}

}  // namespace

extern "C" int digitlab_train_speed_begin(const char* model_name, const std::uint8_t* pixels,
                                          const std::uint8_t* labels, int count, int batch) {
  trainer.reset();
  auto model = make_architecture(model_name ? model_name : "", 1);
  if (!model.ok()) return fail(model.error().to_string());
  initialize_like_pytorch(model.value(), 1);
  TrainerOptions options;  // SGD lr 0.01 momentum 0.9, no schedule: the tutorial's recipe
  options.batch_size = batch;
  options.seed = 1;
  options.epochs = 1000;  // the most create() takes: a timed stretch crosses epochs (a new shuffle), never the end
  const ImageSet data{pixels, labels, static_cast<std::size_t>(count > 0 ? count : 0), 1, 28, 28};
  auto created = Trainer::create(std::move(model.value()), data, options);
  if (!created.ok()) return fail(created.error().to_string());
  trainer.emplace(std::move(created.value()));
  last_loss = 0.f;
  return 0;
}

extern "C" int digitlab_train_speed_steps(int steps) {
  if (!trainer) return fail("digitlab_train_speed_steps before digitlab_train_speed_begin");
  int images = 0;
  for (int i = 0; i < steps; ++i) {
    auto step = trainer->step();
    if (!step.ok()) return fail(step.error().to_string());
    images += step.value().batch;
    last_loss = step.value().loss;
  }
  return images;
}

extern "C" float digitlab_train_speed_last_loss() { return last_loss; }
extern "C" const char* digitlab_train_speed_error() { return error.c_str(); }
extern "C" void digitlab_train_speed_end() { trainer.reset(); }
