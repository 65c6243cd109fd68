// One training run of the train panel (panel_train.cpp) without ImGui: its settings, the core's Trainer run a
// piece at a time inside a frame's budget, the held-out evaluation after each epoch, the tutorial's log
// lines, the curves (batch losses, epoch means, held-out accuracy) and the finished model. The panel holds
// one to four of these and shares each frame's budget between them round-robin; the training data (the
// shipped test subset or a full training set, parse_training_set) is loaded by the panel and shared.
// Read next: panel_train.cpp (who draws this), shared/include/digitlab/train.hpp, tests/app/test_train_run.cpp.
//
// Sections: the data - the settings - the run (begin, pieces, epochs, evaluation) - what it measured.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "digitlab/idx.hpp"
#include "digitlab/train.hpp"

namespace digitlab::app {

// ---- the data ---------------------------------------------------------------------------------------------------

// The full training sets a site may ship next to its test subsets (wasm/CMakeLists.txt, option
// DIGITLAB_WEB_TRAINING_SETS): "data/mnist/train-images-idx3-ubyte.gz", and an index naming the datasets
// the site has them for, one "<dataset> <images>" line each (empty, or absent, when it has none).
std::string training_images_path(const std::string& dataset);
std::string training_labels_path(const std::string& dataset);
inline constexpr const char* kTrainingSetsIndexPath = "data/training-sets.txt";
// The index's datasets with their image counts; lines that do not parse are skipped.
struct ShippedTrainingSet {
  std::string dataset;
  std::uint64_t images = 0;
};
std::vector<ShippedTrainingSet> parse_training_sets_index(const std::vector<std::uint8_t>& text);

// Images and labels of one dataset as loaded by the panel: the shipped test subset, or a training set.
struct LabelledImages {
  std::string dataset;
  IdxImages images;  // (count, 28, 28)
  IdxLabels labels;  // (count)
  std::size_t size() const { return images.count; }
  ImageSet view() const {
    return ImageSet{images.pixels.data(), labels.labels.data(), images.count, 1, images.rows, images.cols};
  }
};

// Two idx files (gzipped or raw), named in the error by their paths. Errors: the idx/gzip reader's (a
// corrupt or truncated download), count_mismatch (images of another shape are refused by Trainer::create).
Result<LabelledImages> parse_labelled_images(const std::string& dataset, ByteSpan images, const std::string& images_path,
                                             ByteSpan labels, const std::string& labels_path);

// ---- the settings -------------------------------------------------------------------------------------------------

struct RunSettings {
  std::string dataset = "mnist";       // "mnist", "fashion-mnist"
  std::string architecture = "mlp";    // "mlp", "mlp-deep", "cnn" (digitlab/architectures.hpp)
  int epochs = 5;
  int batch_size = 64;
  OptimizerKind optimizer = OptimizerKind::sgd;  // sgd (momentum 0.9) or adam
  double learning_rate = 0.01;
  Schedule::Kind scheduler = Schedule::Kind::none;  // step: x0.5 every 2 epochs; cosine: to 0 over the run
  std::size_t train_images = 800;
};

// What a legend says about a run: the settings in which runs differ, e.g. "lr 0.1", "Adam, batch 16". `all`
// is every run of the comparison; a run alone (or runs identical in all) gets its full recipe.
std::string describe_difference(const RunSettings& run, const std::vector<RunSettings>& all);
// "SGD", "Adam"; "none", "StepLR", "cosine".
const char* optimizer_short_name(OptimizerKind kind);
const char* scheduler_short_name(Schedule::Kind kind);

// ---- the run --------------------------------------------------------------------------------------------------------

class TrainRun {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Status { idle, running, done, failed };

  // The trainer's options for these settings: seed 1, momentum 0.9, StepLR every 2 epochs x0.5, a 512 MB step
  // budget (a browser tab: the CNN at batch 256 is refused with a sentence).
  static TrainerOptions trainer_options(const RunSettings& settings);

  // Creates the model (PyTorch's initialisation, seed 1) and the Trainer on `train`; `held_out` is evaluated
  // after each epoch. `data` keeps the images the two views point into alive. False (status failed, problem()
  // says why) when the Trainer refuses. Takes a frame of its own in the panel (not small).
  bool begin(const RunSettings& settings, std::shared_ptr<const void> data, ImageSet train, ImageSet held_out);

  // One piece of work -- a Trainer::advance() piece, a slice of the held-out images (Trainer::evaluate, at
  // most 10 and one training piece's work), or at the end the trained model's copy -- when
  // it fits: `pieces_in_frame` pieces (of every run) already ran in the frame that began at `frame_start`,
  // and a piece is started only when what it took last time still ends within `budget_seconds` (the first
  // piece of a frame always runs; the model copy runs only as a frame's first piece). True when it ran.
  bool run_piece(Clock::time_point frame_start, double budget_seconds, int pieces_in_frame);
  // Called once per frame in which the panel trains, before the pieces: the wall time between such frames is
  // what images_per_second() divides by. paused() forgets the last frame (a pause is not counted).
  void frame_started(Clock::time_point now);
  void paused() { last_running_frame_.reset(); }

  Status status() const { return status_; }
  bool running() const { return status_ == Status::running; }
  const std::string& problem() const { return problem_; }
  const RunSettings& settings() const { return settings_; }
  // The finished run's model (its trained weights, the card's recipe and dataset filled in), for the
  // panel's "use for drawing" / download; null until done.
  const Model* model() const { return status_ == Status::done && final_model_ ? &*final_model_ : nullptr; }
  // Tells runs apart: a new number at every begin(), never reused (what the your-model widget keys on).
  std::uint64_t serial() const { return serial_; }

  // ---- what it measured ----
  int epochs() const { return settings_.epochs; }
  int last_epoch() const { return last_epoch_; }  // 1-based epoch of the last step (0 before)
  std::int64_t last_step() const { return last_step_; }
  std::int64_t global_step() const { return global_step_; }
  std::int64_t total_steps() const { return total_steps_; }
  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  std::size_t train_count() const { return train_.count; }
  std::size_t held_out_count() const { return held_out_.count; }
  const std::vector<std::string>& class_names() const { return class_names_; }
  // (epoch position, batch loss) of every step; each epoch's mean batch loss; the held-out accuracy after each.
  const std::vector<std::pair<float, float>>& losses() const { return losses_; }
  const std::vector<double>& epoch_losses() const { return epoch_losses_; }
  const std::vector<double>& accuracies() const { return accuracies_; }
  const std::vector<std::string>& log() const { return log_; }
  const Evaluation& final_evaluation() const { return final_; }  // of the last epoch
  std::vector<double> per_class_accuracy() const;                // once done; -1 for a class with no image
  double images_per_second() const;  // images trained over the wall time of the frames that trained
  double seconds_left() const;
  double training_seconds() const { return training_seconds_; }  // this run's own pieces, in all
  double running_seconds() const { return running_seconds_; }    // wall time while it trained
  std::int64_t training_frames() const { return training_frames_; }
  double longest_piece() const { return longest_piece_; }
  double longest_snapshot() const { return longest_snapshot_; }
  const std::vector<double>& snapshot_seconds() const { return snapshot_seconds_; }

 private:
  void fail(std::string why);
  void on_step(const StepReport& report);
  void finish_evaluation();

  RunSettings settings_;
  Status status_ = Status::idle;
  std::string problem_;
  std::shared_ptr<const void> data_;  // keeps train_ and held_out_ alive
  ImageSet train_, held_out_;
  std::vector<std::string> class_names_;

  std::uint64_t serial_ = 0;
  std::optional<Trainer> trainer_;
  std::optional<Model> final_model_;
  std::int64_t log_every_ = 100;
  std::vector<double> piece_seconds_;  // what each piece of a step took last time (the budget's forecast)
  std::size_t piece_index_ = 0;
  // After each epoch: the model as trained so far, evaluated on the held-out images a slice at a time.
  bool evaluating_ = false;
  bool taking_model_ = false;  // trained and evaluated: the next piece copies the model out, then done
  Evaluation evaluation_, final_;
  std::size_t evaluated_ = 0;
  double evaluation_piece_seconds_ = 0;

  int last_epoch_ = 0;
  std::int64_t last_step_ = 0, global_step_ = 0, total_steps_ = 0, steps_per_epoch_ = 0;
  std::vector<std::pair<float, float>> losses_;
  std::vector<double> epoch_losses_;
  std::vector<double> accuracies_;
  std::vector<std::string> log_;

  // Speed: images trained over the wall time of the frames that trained (gaps between frames included, so
  // it is what the learner sees; a gap over 0.25 s, a hidden tab, is not counted).
  std::uint64_t images_trained_ = 0;
  double training_seconds_ = 0, running_seconds_ = 0;
  std::optional<Clock::time_point> last_running_frame_;
  std::int64_t training_frames_ = 0;
  double longest_piece_ = 0, longest_snapshot_ = 0;
  std::vector<double> snapshot_seconds_;  // what the final Trainer::model() copy took (one entry once done)
};

}  // namespace digitlab::app
