// TrainRun and the train panel's data (train_run.hpp). Read next: panel_train.cpp, tests/app/test_train_run.cpp.
#include "teaching/train_run.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/i18n.hpp"
#include "digitlab/architectures.hpp"
#include "digitlab/text.hpp"

namespace digitlab::app {

namespace {

using Clock = TrainRun::Clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

constexpr std::size_t kEvaluationSlice = 10;  // held-out images per evaluation piece
constexpr std::uint64_t kSeed = 1;

}  // namespace

// ---- the data -----------------------------------------------------------------------------------------------------

std::string training_images_path(const std::string& dataset) { return "data/" + dataset + "/train-images-idx3-ubyte.gz"; }
std::string training_labels_path(const std::string& dataset) { return "data/" + dataset + "/train-labels-idx1-ubyte.gz"; }

std::vector<ShippedTrainingSet> parse_training_sets_index(const std::vector<std::uint8_t>& text) {
  std::vector<ShippedTrainingSet> out;
  std::string line;
  auto take = [&] {
    char name[64];
    unsigned long long images = 0;
    if (std::sscanf(line.c_str(), "%63s %llu", name, &images) == 2 && images > 0) out.push_back({name, images});
    line.clear();
  };
  for (std::uint8_t c : text) {
    if (c == '\n') take();
    else line += char(c);
  }
  take();
  return out;
}

Result<LabelledImages> parse_labelled_images(const std::string& dataset, ByteSpan images_bytes,
                                             const std::string& images_path, ByteSpan labels_bytes,
                                             const std::string& labels_path) {
  IdxLimits limits;
  limits.max_bytes = 64ull << 20;  // 60,000 images are 47 MB
  auto named = [](Error error, const std::string& path) {
    error.message = path + ": " + error.message;
    return error;
  };
  Result<IdxImages> images = parse_idx_images(images_bytes, limits);
  if (!images) return named(images.error(), images_path);
  Result<IdxLabels> labels = parse_idx_labels(labels_bytes, limits);
  if (!labels) return named(labels.error(), labels_path);
  if (std::size_t(images.value().count) != labels.value().labels.size())
    return make_error(ErrorCode::count_mismatch, "labels.count", 0,
                      format_text(tr("%s has %u images but %s has %zu labels"), images_path.c_str(),
                                  images.value().count, labels_path.c_str(), labels.value().labels.size()));
  LabelledImages out;
  out.dataset = dataset;
  out.images = std::move(images).value();
  out.labels = std::move(labels).value();
  return out;
}

// ---- the settings -------------------------------------------------------------------------------------------------

const char* optimizer_short_name(OptimizerKind kind) { return kind == OptimizerKind::sgd ? "SGD" : "Adam"; }
const char* scheduler_short_name(Schedule::Kind kind) {
  return kind == Schedule::Kind::none ? "none" : kind == Schedule::Kind::step ? "StepLR" : "cosine";
}

std::string describe_difference(const RunSettings& run, const std::vector<RunSettings>& all) {
  auto differs = [&](auto field) {
    for (const RunSettings& other : all)
      if (field(other) != field(run)) return true;
    return false;
  };
  const bool alone = all.size() < 2;
  std::vector<std::string> parts;
  if (alone || differs([](const RunSettings& s) { return s.architecture; })) parts.push_back(run.architecture);
  if (alone || differs([](const RunSettings& s) { return int(s.optimizer); })) parts.push_back(optimizer_short_name(run.optimizer));
  if (alone || differs([](const RunSettings& s) { return s.learning_rate; })) parts.push_back(format_text("lr %g", run.learning_rate));
  if (alone || differs([](const RunSettings& s) { return s.batch_size; })) parts.push_back(format_text("batch %d", run.batch_size));
  if (alone || differs([](const RunSettings& s) { return int(s.scheduler); }))
    parts.push_back(run.scheduler == Schedule::Kind::none ? std::string("no scheduler") : scheduler_short_name(run.scheduler));
  if (alone || differs([](const RunSettings& s) { return s.epochs; })) parts.push_back(format_text("%d epochs", run.epochs));
  if (differs([](const RunSettings& s) { return s.train_images; }))
    parts.push_back(format_text("%s images", with_thousands(std::int64_t(run.train_images)).c_str()));
  if (parts.empty()) return describe_difference(run, {});  // identical runs: the whole recipe
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : ", ") + part;
  return out;
}

// ---- the run ----------------------------------------------------------------------------------------------------------

TrainerOptions TrainRun::trainer_options(const RunSettings& settings) {
  TrainerOptions options;
  options.epochs = settings.epochs;
  options.batch_size = settings.batch_size;
  options.seed = kSeed;
  options.optimizer.kind = settings.optimizer;
  options.optimizer.learning_rate = settings.learning_rate;
  options.optimizer.momentum = 0.9;
  options.schedule.kind = settings.scheduler;
  options.schedule.step_epochs = 2;
  options.schedule.gamma = 0.5;
  options.memory_budget = 512ull << 20;  // a browser tab: the CNN at batch 256 is refused with a sentence
  return options;
}

bool TrainRun::begin(const RunSettings& settings, std::shared_ptr<const void> data, ImageSet train, ImageSet held_out) {
  static std::uint64_t runs_begun = 0;
  *this = TrainRun{};
  serial_ = ++runs_begun;
  settings_ = settings;
  data_ = std::move(data);
  train_ = train;
  held_out_ = held_out;
  auto built = make_architecture(settings.architecture, kSeed);
  if (!built.ok()) return fail(built.error().to_string()), false;
  Model model = std::move(built.value());
  initialize_like_pytorch(model, kSeed);
  model.card.dataset = settings.dataset;
  if (settings.dataset == "fashion-mnist")
    model.card.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  class_names_ = model.card.class_names;
  auto created = Trainer::create(std::move(model), train_, trainer_options(settings));
  if (!created.ok()) return fail(created.error().to_string()), false;
  trainer_.emplace(std::move(created.value()));
  steps_per_epoch_ = trainer_->steps_per_epoch();
  total_steps_ = trainer_->total_steps();
  // The tutorial prints every 100 steps of its 938; a small training set has a handful of steps an
  // epoch, so it prints about five times an epoch there (and always at an epoch's last step).
  log_every_ = steps_per_epoch_ >= 200 ? 100 : std::max<std::int64_t>(1, (steps_per_epoch_ + 4) / 5);
  piece_seconds_.assign(trainer_->pieces_per_step(), 0.0);
  status_ = Status::running;
  return true;
}

void TrainRun::fail(std::string why) {
  problem_ = std::move(why);
  status_ = Status::failed;
  trainer_.reset();
  evaluating_ = false;
  taking_model_ = false;
  last_running_frame_.reset();
}

void TrainRun::frame_started(Clock::time_point now) {
  if (last_running_frame_)
    running_seconds_ += std::min(0.25, std::chrono::duration<double>(now - *last_running_frame_).count());
  last_running_frame_ = now;
  ++training_frames_;
}

bool TrainRun::run_piece(Clock::time_point frame_start, double budget_seconds, int pieces_in_frame) {
  if (status_ != Status::running || !trainer_) return false;
  const double elapsed = seconds_since(frame_start);
  if (taking_model_) {
    // The trained model for "use for drawing" and the downloads (a copy, its weights packed for forward():
    // the deep MLP's takes tens of milliseconds), once, in a frame of its own.
    if (pieces_in_frame > 0) return false;
    const Clock::time_point t0 = Clock::now();
    final_model_ = trainer_->model();
    snapshot_seconds_.push_back(seconds_since(t0));
    longest_snapshot_ = std::max(longest_snapshot_, snapshot_seconds_.back());
    taking_model_ = false;
    status_ = Status::done;
    last_running_frame_.reset();
    return true;
  }
  if (evaluating_) {
    // The parameters as trained so far, evaluated in place (Trainer::evaluate: no copy of the model), a
    // slice of at most one training piece's work per piece.
    if (pieces_in_frame > 0 && elapsed + evaluation_piece_seconds_ > budget_seconds) return false;
    const Clock::time_point t0 = Clock::now();
    const std::size_t slice = std::min(kEvaluationSlice, trainer_->evaluation_images_per_piece());
    auto part = trainer_->evaluate(held_out_.slice(evaluated_, slice));
    evaluation_piece_seconds_ = seconds_since(t0);
    longest_piece_ = std::max(longest_piece_, evaluation_piece_seconds_);
    if (!part.ok()) return fail(part.error().to_string()), true;
    evaluation_.merge(part.value());
    evaluated_ += slice;
    if (evaluated_ >= held_out_.count) finish_evaluation();
    return true;
  }
  if (trainer_->finished()) return false;
  const double predicted = piece_seconds_.empty() ? 0.0 : piece_seconds_[piece_index_];
  if (pieces_in_frame > 0 && elapsed + predicted > budget_seconds) return false;
  const Clock::time_point t0 = Clock::now();
  auto advanced = trainer_->advance();
  const double took = seconds_since(t0);
  training_seconds_ += took;
  longest_piece_ = std::max(longest_piece_, took);
  if (!piece_seconds_.empty()) piece_seconds_[piece_index_] = took;
  if (!advanced.ok()) return fail(advanced.error().to_string()), true;
  if (advanced.value()) {
    piece_index_ = 0;
    on_step(*advanced.value());
  } else if (piece_index_ + 1 < piece_seconds_.size()) {
    ++piece_index_;
  }
  return true;
}

void TrainRun::on_step(const StepReport& report) {
  last_epoch_ = report.epoch;
  last_step_ = report.step;
  global_step_ = report.global_step;
  images_trained_ += std::uint64_t(report.batch);
  losses_.emplace_back(float(double(report.global_step) / double(steps_per_epoch_)), report.loss);
  if (report.step % log_every_ == 0 || report.epoch_finished)
    log_.push_back(format_text(tr("Epoch [%d/%d], Step [%lld/%lld], Loss: %.4f"), report.epoch, settings_.epochs,
                               (long long)report.step, (long long)steps_per_epoch_, double(report.loss)));
  if (report.epoch_finished) {
    epoch_losses_.push_back(trainer_->epoch_mean_loss());
    evaluation_ = Evaluation{};
    evaluated_ = 0;
    evaluating_ = true;
  }
}

void TrainRun::finish_evaluation() {
  evaluating_ = false;
  accuracies_.push_back(evaluation_.accuracy);
  log_.push_back(format_text(tr("Epoch [%d/%d]: mean loss %.4f, accuracy on the %d held-out images: %.2f %%"),
                             last_epoch_, settings_.epochs, epoch_losses_.back(), int(held_out_.count),
                             100.0 * evaluation_.accuracy));
  final_ = evaluation_;
  if (trainer_->finished()) taking_model_ = true;  // the next piece: the trained model, then done
}

std::vector<double> TrainRun::per_class_accuracy() const {
  std::vector<double> out;
  if (status_ != Status::done) return out;
  for (std::size_t t = 0; t < final_.confusion.size(); ++t) {
    std::size_t row = 0;
    for (std::size_t count : final_.confusion[t]) row += count;
    out.push_back(row ? double(final_.confusion[t][t]) / double(row) : -1.0);
  }
  return out;
}

double TrainRun::images_per_second() const {
  return running_seconds_ > 0 ? double(images_trained_) / running_seconds_ : 0.0;
}

double TrainRun::seconds_left() const {
  const double rate = images_per_second();
  if (status_ != Status::running || rate <= 0) return 0.0;
  const double images_left = double(train_.count) * settings_.epochs - double(images_trained_);
  return std::max(0.0, images_left) / rate;
}

}  // namespace digitlab::app
