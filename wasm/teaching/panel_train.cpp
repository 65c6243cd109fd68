// The "train" teaching panel (panels.hpp): the tutorial's training loop run in the page with the core's
// Trainer, one to four runs side by side (the tutorial's section 7: learning rates, batch sizes, SGD against
// Adam, StepLR against none, or a custom set), each a TrainRun (train_run.hpp) on the site's full training
// set or its shipped test subset. Time-sliced: each frame runs the runs' pieces round-robin for at most
// kTrainBudgetSeconds in all (a clock decides), so the page stays responsive and needs no worker.
// Read next: teaching/train_run.hpp, shared/include/digitlab/train.hpp, docs/teaching.md ("Train a network").
//
// Sections: the choices - the data (index, subset, training set) - the runs (start, slices) - drawing
// (settings, comparison, buttons, progress, charts, legend, logs, table, results) - the state.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/i18n.hpp"
#include "digitlab/text.hpp"
#include "imgui.h"
#include "teaching/teaching_panel.hpp"
#include "teaching/test_subset.hpp"
#include "teaching/train_run.hpp"
#include "teaching/widgets.hpp"
#include "teaching/your_model.hpp"

namespace digitlab::app {

namespace {

using Clock = TrainRun::Clock;

// Training time per frame, all runs together: at 60 frames a second a frame has 16.7 ms, and ImGui needs a
// few of them. One piece always runs, so a frame takes at least the longest piece (the core cuts them at
// about 16M multiply-adds: 1-2 ms natively, a few ms in the page).
constexpr double kTrainBudgetSeconds = 0.012;
// When the browser gives fewer frames than that (software GL on a machine with a blocklisted GPU: 18-26 a
// second in headless Chromium here), training gets half the gap between frames, up to this: frames stay
// well under 50 ms, and the share of the time spent training stays about the same.
constexpr double kLongestTrainBudgetSeconds = 0.028;
constexpr std::size_t kHeldOut = 200;        // training on the subset: its last images are the live test
constexpr double kLongPieceSeconds = 0.040;  // above this the page stutters: the panel says so
constexpr std::size_t kMaxRuns = 4;

// ---- the choices ----------------------------------------------------------------------------------------------

const char* const kDatasets[] = {"mnist", "fashion-mnist"};
const char* const kDatasetNames[] = {"MNIST", "Fashion-MNIST"};
const char* const kArchitectures[] = {"mlp", "mlp-deep", "cnn"};
const char* model_label(int i) {
  return i == 0 ? tr("MLP (the tutorial's)") : i == 1 ? tr("deeper MLP") : tr("CNN");
}
// The first four come from the shipped test subset, the others from the full training set.
const int kTrainSizes[] = {100, 200, 400, 800, 6000, 60000};
constexpr int kSubsetSizes = 4;
const int kBatchSizes[] = {16, 32, 64, 128, 256};
const double kLearningRates[] = {0.1, 0.05, 0.01, 0.005, 0.001, 0.0001};
const char* optimizer_label(int i) { return i == 0 ? tr("SGD, momentum 0.9") : "Adam"; }
const char* optimizer_name(OptimizerKind kind) { return kind == OptimizerKind::sgd ? "sgd" : "adam"; }
const char* scheduler_label(int i) {
  return i == 0 ? tr("none") : i == 1 ? tr("StepLR: x0.5 every 2 epochs") : tr("cosine to 0");
}
const char* scheduler_name(Schedule::Kind kind) {
  return kind == Schedule::Kind::none ? "none" : kind == Schedule::Kind::step ? "step" : "cosine";
}
const char* rate_label(int i) {
  static char text[16];
  std::snprintf(text, sizeof text, "%g", kLearningRates[i]);
  return text;
}
const char* batch_label(int i) {
  static char text[16];
  std::snprintf(text, sizeof text, "%d", kBatchSizes[i]);
  return text;
}
const char* train_size_label(int i) {
  static std::string text;
  text = with_thousands(kTrainSizes[i]);
  if (i == int(std::size(kTrainSizes)) - 1) text += tr(" (all)");
  return text.c_str();
}

// The comparisons of the tutorial's section 7, each a set of runs that differ in one thing; custom: the
// learner's own two to four.
enum class Compare { one, learning_rates, batch_sizes, optimizers, schedulers, custom };
const char* const kCompareNames[] = {"one", "learning_rates", "batch_sizes", "sgd_adam", "steplr", "custom"};
const char* compare_label(int i) {
  return i == 0 ? tr("one run") : i == 1 ? tr("learning rates") : i == 2 ? tr("batch sizes")
         : i == 3 ? tr("SGD vs Adam") : i == 4 ? tr("StepLR vs none") : tr("custom");
}

// What the learner picks for one run (indices into the lists above).
struct Choice {
  int optimizer = 0, rate = 2, scheduler = 0, batch = 2;
};
struct Settings {
  int dataset = 0, model = 0, epochs = 5, train_size = 3;
  Choice run;  // the first run's (the only one without a comparison)
};

RunSettings run_settings(const Settings& settings, const Choice& choice) {
  RunSettings out;
  out.dataset = kDatasets[settings.dataset];
  out.architecture = kArchitectures[settings.model];
  out.epochs = settings.epochs;
  out.batch_size = kBatchSizes[choice.batch];
  out.optimizer = choice.optimizer == 0 ? OptimizerKind::sgd : OptimizerKind::adam;
  out.learning_rate = kLearningRates[choice.rate];
  out.scheduler = choice.scheduler == 0 ? Schedule::Kind::none
                  : choice.scheduler == 1 ? Schedule::Kind::step : Schedule::Kind::cosine;
  out.train_images = std::size_t(kTrainSizes[settings.train_size]);
  return out;
}

// The runs a comparison makes from the first run's choice (custom: the learner's list).
std::vector<Choice> compared_choices(Compare compare, const Choice& first, const std::vector<Choice>& custom) {
  std::vector<Choice> out;
  auto with = [&](auto change) {
    Choice c = first;
    change(c);
    out.push_back(c);
  };
  switch (compare) {
    case Compare::one: out.push_back(first); break;
    case Compare::learning_rates:  // 0.1, 0.01, 0.001
      for (int rate : {0, 2, 4}) with([&](Choice& c) { c.rate = rate; });
      break;
    case Compare::batch_sizes:  // 16, 64, 256
      for (int batch : {0, 2, 4}) with([&](Choice& c) { c.batch = batch; });
      break;
    case Compare::optimizers:  // SGD at the chosen rate, Adam at its usual 0.001
      with([](Choice& c) { c.optimizer = 0; });
      with([](Choice& c) { c.optimizer = 1, c.rate = 4; });
      break;
    case Compare::schedulers:
      for (int scheduler : {0, 1}) with([&](Choice& c) { c.scheduler = scheduler; });
      break;
    case Compare::custom:
      out.push_back(first);
      out.insert(out.end(), custom.begin(), custom.end());
      break;
  }
  return out;
}

// One colour per run, as the training panel's (blue, orange) then green and purple.
constexpr ImU32 kRunColors[kMaxRuns] = {IM_COL32(52, 120, 230, 255), IM_COL32(235, 120, 20, 255),
                                        IM_COL32(40, 160, 70, 255), IM_COL32(150, 70, 200, 255)};
ImU32 faded(ImU32 color) { return (color & 0x00FFFFFFu) | (ImU32(110) << IM_COL32_A_SHIFT); }
constexpr ImU32 kAccuracyColor = IM_COL32(235, 120, 20, 255);
// A run's colour in front of its line of settings (custom mode).
void color_chip(ImU32 color) {
  ImGui::ColorButton("##colour", ImGui::ColorConvertU32ToFloat4(color),
                     ImGuiColorEditFlags_NoTooltip | ImGuiColorEditFlags_NoDragDrop,
                     ImVec2(ImGui::GetFrameHeight(), ImGui::GetFrameHeight()));
}

std::string minutes_seconds(double seconds) {
  const long total = long(std::max(0.0, std::round(seconds)));
  return format_text("%ld:%02ld", total / 60, total % 60);
}

class Panel final : public TeachingPanel {
 public:
  void draw(PanelContext& context) override {
    update_index(context);
    // Parsing the data, creating each run's Trainer and training each take a frame of their own (none of
    // them small): a frame that parsed does not also start, one that started does not also train.
    if (status_ == Status::loading) {
      if (!update_data(context) && status_ == Status::loading && data_ready()) begin_next_run();
    } else if (status_ == Status::running) {
      run_slice();
    }
    choices_open_.clear();
    draw_settings(context);
    draw_comparison(context);
    draw_buttons(context);
    draw_progress(context);
    draw_charts(context);
    draw_table(context);
    draw_logs(context);
    if (const TrainRun* run = shown_run()) draw_results(context, *run);
  }

  bool busy() const override { return status_ == Status::running || status_ == Status::loading; }

  void write_state(JsonWriter& json) const override {
    static const char* const names[] = {"idle", "loading", "running", "paused", "done", "failed"};
    const RunSettings first = run_settings(settings_, settings_.run);
    const TrainRun* run = runs_.empty() ? nullptr : &runs_.front();
    json.begin_object();
    json.key("status").string(names[int(status_)]);
    // The first run's settings and measurements (the only run without a comparison); "runs" has them all.
    json.key("dataset").string(first.dataset).key("model").string(first.architecture);
    json.key("optimizer").string(optimizer_name(first.optimizer));
    json.key("scheduler").string(scheduler_name(first.scheduler));
    json.key("learning_rate").number(first.learning_rate);
    json.key("batch_size").integer(first.batch_size).key("epochs").integer(first.epochs);
    json.key("train_images").integer(run ? std::int64_t(run->train_count()) : 0);
    json.key("held_out_images").integer(run ? std::int64_t(run->held_out_count()) : 0);
    json.key("epoch").integer(run ? run->last_epoch() : 0).key("step").integer(run ? run->last_step() : 0);
    json.key("steps_per_epoch").integer(run ? run->steps_per_epoch() : 0);
    json.key("global_step").integer(run ? run->global_step() : 0);
    json.key("total_steps").integer(run ? run->total_steps() : 0);
    if (run) write_measurements(json, *run);
    else write_measurements(json, TrainRun{});
    json.key("per_class_accuracy").begin_array();
    if (run)
      for (double accuracy : run->per_class_accuracy()) json.number(accuracy);
    json.end_array();
    json.key("confusion").begin_array();
    if (run)
      for (const auto& row : run->final_evaluation().confusion) {
        json.begin_array();
        for (std::size_t count : row) json.integer(std::int64_t(count));
        json.end_array();
      }
    json.end_array();
    json.key("training_frames").integer(training_frames_);
    json.key("longest_slice_ms").number(1000.0 * longest_slice_);
    json.key("budget_ms").number(1000.0 * budget_);
    json.key("problem").string(problem_);
    // The comparison: every run, what its legend says, and where its numbers are.
    json.key("compare").string(kCompareNames[int(compare_)]);
    json.key("runs").begin_array();
    for (const TrainRun& r : runs_) {
      json.begin_object();
      json.key("label").string(legend_of(r));
      json.key("status").string(r.status() == TrainRun::Status::done ? "done"
                                : r.status() == TrainRun::Status::failed ? "failed"
                                : r.status() == TrainRun::Status::running ? "running" : "waiting");
      json.key("optimizer").string(optimizer_name(r.settings().optimizer));
      json.key("learning_rate").number(r.settings().learning_rate);
      json.key("batch_size").integer(r.settings().batch_size);
      json.key("scheduler").string(scheduler_name(r.settings().scheduler));
      json.key("train_images").integer(std::int64_t(r.train_count()));
      json.key("held_out_images").integer(std::int64_t(r.held_out_count()));
      json.key("global_step").integer(r.global_step()).key("total_steps").integer(r.total_steps());
      write_measurements(json, r);
      json.key("has_model").boolean(r.model() != nullptr);
      json.key("run_problem").string(r.problem());
      json.end_object();
    }
    json.end_array();
    // The data: what the site has, where this run's images come from, a download in progress.
    json.key("training_sets").begin_array();
    for (const ShippedTrainingSet& set : shipped_) json.string(set.dataset);
    json.end_array();
    json.key("index_state").string(index_state_ == IndexState::pending ? "pending"
                                   : index_state_ == IndexState::ready ? "ready" : "failed");
    json.key("data_source").string(data_source_);
    json.key("downloading").boolean(downloading_).key("parse_ms").number(1000.0 * parse_seconds_);
    json.key("train_size_choices").begin_array();
    for (int i = 0; i < offered_train_sizes(); ++i) json.integer(kTrainSizes[i]);
    json.end_array();
    // Where things are, for tests and the page: the settings' combo boxes (kSettingNames order), the
    // comparison's buttons (kCompareNames order), the lines of an open combo box, the buttons.
    json.key("setting_rects").begin_object();
    for (int i = 0; i < kSettings; ++i) json.key(kSettingNames[i]).rect(setting_rects_[i]);
    json.end_object();
    json.key("compare_rects").begin_array();
    for (const Rect& rect : compare_rects_) json.rect(rect);
    json.end_array();
    json.key("open_choices").begin_array();
    for (const Rect& rect : choices_open_) json.rect(rect);
    json.end_array();
    json.key("add_run_rect").rect(add_run_rect_);
    json.key("start_rect").rect(start_rect_).key("pause_rect").rect(pause_rect_).key("reset_rect").rect(reset_rect_);
    json.key("your_model");
    your_model_.write_state(json);
    json.end_object();
  }

 private:
  enum class Status { idle, loading, running, paused, done, failed };
  enum class IndexState { pending, ready, failed };

  static void write_measurements(JsonWriter& json, const TrainRun& r) {
    json.key("loss");
    if (r.losses().empty()) json.null();
    else json.number(double(r.losses().back().second));
    json.key("epoch_losses").begin_array();
    for (double loss : r.epoch_losses()) json.number(loss);
    json.end_array();
    json.key("accuracy");
    if (r.accuracies().empty()) json.null();
    else json.number(r.accuracies().back());
    json.key("accuracies").begin_array();
    for (double accuracy : r.accuracies()) json.number(accuracy);
    json.end_array();
    json.key("log_lines").integer(std::int64_t(r.log().size()));
    json.key("first_log_line").string(r.log().empty() ? "" : r.log().front());
    json.key("last_log_line").string(r.log().empty() ? "" : r.log().back());
    json.key("images_per_second").number(r.images_per_second());
    json.key("seconds_left").number(r.seconds_left());
    json.key("training_seconds").number(r.training_seconds());
    json.key("running_seconds").number(r.running_seconds());
    json.key("longest_piece_ms").number(1000.0 * r.longest_piece());
    json.key("longest_snapshot_ms").number(1000.0 * r.longest_snapshot());
    json.key("snapshot_ms").begin_array();
    for (double seconds : r.snapshot_seconds()) json.number(1000.0 * seconds);
    json.end_array();
  }

  // ---- the data: the site's index of training sets, the shipped subset, a full training set ---------------------

  // The index (data/training-sets.txt, a few bytes) is fetched with the panel's first frame: the "Training
  // images" choice offers 6,000 and 60,000 only for a dataset the site has the full training set of.
  void update_index(PanelContext& context) {
    if (index_state_ != IndexState::pending) return;
    const Asset& index = context.assets.request(kTrainingSetsIndexPath);
    if (index.state == Asset::State::pending) return;
    if (index.state == Asset::State::ready) shipped_ = parse_training_sets_index(index.bytes);
    index_state_ = index.state == Asset::State::ready ? IndexState::ready : IndexState::failed;
  }
  bool site_has_training_set(int dataset) const {
    for (const ShippedTrainingSet& set : shipped_)
      if (set.dataset == kDatasets[dataset]) return true;
    return false;
  }
  int offered_train_sizes() const {
    if (!site_has_training_set(settings_.dataset)) return kSubsetSizes;
    int n = kSubsetSizes;
    std::uint64_t images = 0;
    for (const ShippedTrainingSet& set : shipped_)
      if (set.dataset == kDatasets[settings_.dataset]) images = set.images;
    while (n < int(std::size(kTrainSizes)) && std::uint64_t(kTrainSizes[n]) <= images) ++n;
    return n;
  }
  bool wants_training_set() const { return settings_.train_size >= kSubsetSizes; }

  bool data_ready() const {
    const std::string dataset = kDatasets[settings_.dataset];
    return subset_ && subset_->dataset == dataset && (!wants_training_set() || (full_ && full_->dataset == dataset));
  }

  // Follows the files the Start wants (the subset always: the held-out images come from it; the training
  // set when more than 800 images are asked for); true in a frame that parsed one of them.
  bool update_data(PanelContext& context) {
    const std::string dataset = kDatasets[settings_.dataset];
    downloading_ = false;
    const bool training_set_missing = wants_training_set() && !(full_ && full_->dataset == dataset);
    if (training_set_missing) {  // both downloads start at once
      context.assets.request(training_images_path(dataset));
      context.assets.request(training_labels_path(dataset));
    }
    if (!subset_ || subset_->dataset != dataset) {
      const std::string images_path = test_subset_images_path(dataset), labels_path = test_subset_labels_path(dataset);
      const Asset* files[2] = {&context.assets.request(images_path), &context.assets.request(labels_path)};
      for (const Asset* file : files)
        if (file->state == Asset::State::failed) {
          fail(format_text(tr("The site has no test subset for %s (%s: %s): rebuild it with the wasm preset (make demo)."),
                           dataset.c_str(), (file == files[0] ? images_path : labels_path).c_str(), file->error.c_str()));
          return false;
        }
      if (files[0]->state != Asset::State::ready || files[1]->state != Asset::State::ready) return false;
      auto parsed = parse_labelled_images(dataset, files[0]->bytes, images_path, files[1]->bytes, labels_path);
      if (!parsed.ok()) {
        fail(parsed.error().to_string());
        return true;
      }
      if (parsed.value().size() <= kHeldOut) {
        fail(format_text(tr("The test subset for %s has %u images; training here needs more than %d."), dataset.c_str(),
                         unsigned(parsed.value().size()), int(kHeldOut)));
        return true;
      }
      subset_ = std::make_shared<LabelledImages>(std::move(parsed.value()));
      return true;
    }
    if (!training_set_missing) return false;
    const std::string images_path = training_images_path(dataset), labels_path = training_labels_path(dataset);
    const Asset* files[2] = {&context.assets.request(images_path), &context.assets.request(labels_path)};
    for (const Asset* file : files)
      if (file->state == Asset::State::failed) {
        fail(format_text(tr("Could not load the %s training set (%s: %s). Pick 800 images or fewer, or rebuild the site with DIGITLAB_WEB_TRAINING_SETS=ON."),
                         dataset.c_str(), (file == files[0] ? images_path : labels_path).c_str(), file->error.c_str()));
        return false;
      }
    if (files[0]->state != Asset::State::ready || files[1]->state != Asset::State::ready) {
      downloading_ = true;  // the asset store cannot say how far a download is
      reading_shown_ = false;
      return false;
    }
    // The parse takes a frame of about 0.3 s (47 MB of images): one frame says so first.
    if (!reading_shown_) {
      reading_shown_ = true;
      return false;
    }
    reading_shown_ = false;
    const Clock::time_point t0 = Clock::now();
    auto parsed = parse_labelled_images(dataset, files[0]->bytes, images_path, files[1]->bytes, labels_path);
    parse_seconds_ = std::chrono::duration<double>(Clock::now() - t0).count();
    // The parsed copy is all the runs need: the downloaded bytes (up to 26 MB) go.
    context.assets.forget(images_path);
    context.assets.forget(labels_path);
    if (!parsed.ok()) {
      fail(format_text(tr("The %s training set is damaged (%s). Rebuild the site, or pick 800 images or fewer."),
                       dataset.c_str(), parsed.error().to_string().c_str()));
      return true;
    }
    full_ = std::make_shared<LabelledImages>(std::move(parsed.value()));
    return true;
  }

  void fail(std::string why) {
    problem_ = std::move(why);
    status_ = Status::failed;
    downloading_ = false;
  }

  // ---- the runs ---------------------------------------------------------------------------------------------------

  void start(PanelContext& context) {
    if (status_ == Status::paused) {
      status_ = Status::running;
      return;
    }
    clear_runs();
    planned_ = compared_choices(compare_, settings_.run, custom_);
    // Failed fetches (the panel said so) are tried again.
    const std::string dataset = kDatasets[settings_.dataset];
    for (const std::string& path : {test_subset_images_path(dataset), test_subset_labels_path(dataset),
                                    training_images_path(dataset), training_labels_path(dataset)}) {
      const Asset* asset = context.assets.find(path);
      if (asset && asset->state == Asset::State::failed) context.assets.retry(path);
    }
    status_ = Status::loading;  // the data (when it is not there yet), then a frame per run's Trainer
    update_data(context);
  }

  void clear_runs() {
    runs_.clear();
    planned_.clear();
    problem_.clear();
    data_source_.clear();
    training_frames_ = 0, longest_slice_ = 0, budget_ = 0;
    last_slice_start_.reset();
    next_run_ = 0;
    shown_run_ = 0;
    shown_log_lines_ = 0;
    downloading_ = false;
    status_ = Status::idle;
  }

  // One run's Trainer per frame, in order; the last one begun starts the training.
  void begin_next_run() {
    const std::size_t n = runs_.size();
    if (n >= planned_.size()) return;
    ImageSet train, held_out;
    std::shared_ptr<const void> keep;
    const ImageSet tests = subset_->view();
    if (wants_training_set()) {
      // The full training set: every shipped test image is held out (none of them is trained on).
      train = full_->view().slice(0, std::size_t(kTrainSizes[settings_.train_size]));
      held_out = tests;
      keep = std::make_shared<std::pair<std::shared_ptr<LabelledImages>, std::shared_ptr<LabelledImages>>>(full_, subset_);
      data_source_ = "training_set";
    } else {
      held_out = tests.slice(tests.count - kHeldOut, kHeldOut);
      train = tests.slice(0, std::min<std::size_t>(std::size_t(kTrainSizes[settings_.train_size]), tests.count - kHeldOut));
      keep = subset_;
      data_source_ = "test_subset";
    }
    runs_.emplace_back();
    runs_.back().begin(run_settings(settings_, planned_[n]), keep, train, held_out);  // a refusal shows in its row
    if (runs_.size() == planned_.size()) {
      status_ = Status::running;
      settle();
    }
  }

  // One frame's training: the runs' pieces round-robin, each started only when what it took last time
  // still ends within the budget (the first piece of the frame always runs). The frame ends at the first run
  // whose piece does not fit, and the next frame starts with that run, so each gets its turn.
  void run_slice() {
    const Clock::time_point start = Clock::now();
    double budget = kTrainBudgetSeconds;
    if (last_slice_start_) {
      const double gap = std::chrono::duration<double>(start - *last_slice_start_).count();
      if (gap < 0.25) budget = std::clamp(0.5 * gap, kTrainBudgetSeconds, kLongestTrainBudgetSeconds);  // not a hidden tab
    }
    last_slice_start_ = start;
    budget_ = budget;
    for (TrainRun& run : runs_)
      if (run.running()) run.frame_started(start);
    const std::size_t n = runs_.size();
    std::size_t i = next_run_ % n, not_running = 0;
    int pieces = 0;
    while (not_running < n) {
      if (!runs_[i].running()) {
        ++not_running;
        i = (i + 1) % n;
        continue;
      }
      not_running = 0;
      if (!runs_[i].run_piece(start, budget, pieces)) break;
      ++pieces;
      i = (i + 1) % n;
    }
    next_run_ = i;
    ++training_frames_;
    longest_slice_ = std::max(longest_slice_, std::chrono::duration<double>(Clock::now() - start).count());
    settle();
  }

  // Done once no run is left running (failed when none finished).
  void settle() {
    bool any_running = false, any_done = false;
    for (const TrainRun& run : runs_) {
      any_running |= run.running();
      any_done |= run.status() == TrainRun::Status::done;
    }
    if (any_running) return;
    status_ = any_done ? Status::done : Status::failed;
    if (!any_done && problem_.empty() && !runs_.empty()) problem_ = runs_.front().problem();
  }

  std::vector<RunSettings> all_settings() const {
    std::vector<RunSettings> out;
    for (const TrainRun& run : runs_) out.push_back(run.settings());
    return out;
  }
  std::string legend_of(const TrainRun& run) const { return describe_difference(run.settings(), all_settings()); }
  const TrainRun* shown_run() const { return shown_run_ < runs_.size() ? &runs_[shown_run_] : nullptr; }

  // ---- drawing ----------------------------------------------------------------------------------------------------

  // A combo box of `count` choices; its rectangle (for tests and the page) goes into *rect, the rectangles of
  // its lines, while open, into choices_open_.
  bool combo(const char* label, const char* id, int* index, int count, const char* (*name)(int), float width, Rect* rect) {
    bool changed = false;
    ImGui::SetNextItemWidth(width);
    const bool open = ImGui::BeginCombo(widgets::labelled(label, id).c_str(), name(*index));
    *rect = widgets::item_rect();
    if (open) {
      for (int i = 0; i < count; ++i) {
        if (ImGui::Selectable(name(i), i == *index) && i != *index) {
          *index = i;
          changed = true;
        }
        choices_open_.push_back(widgets::item_rect());
      }
      ImGui::EndCombo();
    }
    return changed;
  }

  bool editable() const { return status_ == Status::idle || status_ == Status::done || status_ == Status::failed; }

  void draw_settings(PanelContext& context) {
    const float scale = context.ui_scale;
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    if (site_has_training_set(settings_.dataset))
      ImGui::TextWrapped(tr("Trains here in the page: up to %s images of the full training set, tested on the %s shipped test images; or the shipped test subset (first %d images to learn from, last %d to test on)."),
                         with_thousands(kTrainSizes[offered_train_sizes() - 1]).c_str(), with_thousands(kTestSubsetSize).c_str(),
                         int(kTestSubsetSize - int(kHeldOut)), int(kHeldOut));
    else
      ImGui::TextWrapped(tr("Trains here in the page on the shipped test subset (first %d images to learn from, last %d to test on): this site has no full training sets."),
                         int(kTestSubsetSize - int(kHeldOut)), int(kHeldOut));
    ImGui::PopStyleColor();
    ImGui::BeginDisabled(!editable());
    const float width = 170.f * scale, gap = 2.f * ImGui::GetStyle().ItemSpacing.x;
    // What every run shares on the first line, the first run's own choices on the second.
    combo(tr("Dataset"), "dataset", &settings_.dataset, 2, [](int i) { return kDatasetNames[i]; }, width * 0.85f,
          &setting_rects_[0]);
    ImGui::SameLine(0, gap);
    combo(tr("Model"), "model", &settings_.model, 3, model_label, width, &setting_rects_[1]);
    ImGui::SameLine(0, gap);
    settings_.train_size = std::min(settings_.train_size, offered_train_sizes() - 1);
    combo(tr("Training images"), "train-size", &settings_.train_size, offered_train_sizes(), train_size_label,
          width * 0.7f, &setting_rects_[6]);
    ImGui::SameLine(0, gap);
    ImGui::SetNextItemWidth(width * 0.7f);
    ImGui::SliderInt(widgets::labelled(tr("Epochs"), "epochs").c_str(), &settings_.epochs, 1, 20);
    if (compare_ == Compare::custom) {  // the first run's colour, as the lines of the others below
      color_chip(kRunColors[0]);
      ImGui::SameLine();
    }
    draw_choice(context, &settings_.run, &setting_rects_[2]);
    ImGui::EndDisabled();
  }

  // One run's optimizer, learning rate, scheduler and batch size, on one line; rects (when given) get the
  // four combo boxes.
  void draw_choice(PanelContext& context, Choice* choice, Rect* rects) {
    const float width = 150.f * context.ui_scale, gap = 2.f * ImGui::GetStyle().ItemSpacing.x;
    Rect ignored[4];
    Rect* at = rects ? rects : ignored;
    combo(tr("Optimizer"), "optimizer", &choice->optimizer, 2, optimizer_label, width, &at[0]);
    ImGui::SameLine(0, gap);
    combo(tr("Learning rate"), "rate", &choice->rate, 6, rate_label, width * 0.7f, &at[1]);
    ImGui::SameLine(0, gap);
    combo(tr("Scheduler"), "scheduler", &choice->scheduler, 3, scheduler_label, width, &at[2]);
    ImGui::SameLine(0, gap);
    combo(tr("Batch size"), "batch", &choice->batch, 5, batch_label, width * 0.6f, &at[3]);
  }

  // "Compare:" the tutorial's comparisons as buttons, and in custom mode a line per extra run.
  void draw_comparison(PanelContext& context) {
    ImGui::BeginDisabled(!editable());
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted(tr("Compare:"));
    for (int i = 0; i < int(std::size(kCompareNames)); ++i) {
      ImGui::SameLine();
      int value = int(compare_);
      if (ImGui::RadioButton(widgets::labelled(compare_label(i), kCompareNames[i]).c_str(), &value, i)) {
        compare_ = Compare(value);
        if (compare_ == Compare::custom && custom_.empty()) custom_.push_back(settings_.run);
      }
      compare_rects_[i] = widgets::item_rect();
    }
    add_run_rect_ = Rect{};
    if (compare_ == Compare::custom) {
      for (std::size_t r = 0; r < custom_.size(); ++r) {
        ImGui::PushID(int(r) + 1);
        color_chip(kRunColors[r + 1]);
        ImGui::SameLine();
        draw_choice(context, &custom_[r], nullptr);
        ImGui::SameLine();
        const bool remove = ImGui::SmallButton("x");
        ImGui::PopID();
        if (remove) {
          custom_.erase(custom_.begin() + std::ptrdiff_t(r));
          break;
        }
      }
      ImGui::BeginDisabled(custom_.size() + 1 >= kMaxRuns);
      if (ImGui::SmallButton(widgets::labelled(tr("+ a run"), "add-run").c_str()))
        custom_.push_back(custom_.empty() ? settings_.run : custom_.back());
      add_run_rect_ = widgets::item_rect();
      ImGui::EndDisabled();
    }
    ImGui::EndDisabled();
  }

  void draw_buttons(PanelContext& context) {
    ImGui::BeginDisabled(status_ == Status::running || status_ == Status::loading);
    if (ImGui::Button(widgets::labelled(status_ == Status::paused ? tr("Resume") : tr("Start"), "start").c_str()))
      start(context);
    start_rect_ = widgets::item_rect();
    ImGui::EndDisabled();
    ImGui::SameLine();
    ImGui::BeginDisabled(status_ != Status::running);
    if (ImGui::Button(widgets::labelled(tr("Pause"), "pause").c_str())) {
      status_ = Status::paused;
      for (TrainRun& run : runs_) run.paused();
    }
    pause_rect_ = widgets::item_rect();
    ImGui::EndDisabled();
    ImGui::SameLine();
    if (ImGui::Button(widgets::labelled(tr("Reset"), "reset").c_str())) clear_runs();
    reset_rect_ = widgets::item_rect();
  }

  std::string progress_line(const TrainRun& run) const {
    std::string line = format_text(tr("Epoch %d/%d, step %lld/%lld"), std::max(1, run.last_epoch()), run.epochs(),
                                   (long long)run.last_step(), (long long)run.steps_per_epoch());
    if (run.images_per_second() > 0)
      line += format_text(tr(", %s images/s"), with_thousands(std::int64_t(run.images_per_second())).c_str());
    if (status_ == Status::running && run.seconds_left() > 0)
      line += format_text(tr(", about %s left"), minutes_seconds(run.seconds_left()).c_str());
    if (run.status() == TrainRun::Status::done) line += tr(" (done)");
    return line;
  }

  void draw_progress(PanelContext& context) {
    ImGui::SameLine(0, 3.f * ImGui::GetStyle().ItemSpacing.x);
    switch (status_) {
      case Status::idle: ImGui::TextDisabled("%s", tr("Pick the settings and press Start.")); break;
      case Status::loading:
        ImGui::TextDisabled("%s", downloading_ ? format_text(tr("Downloading the %s training set ..."), kDatasetNames[settings_.dataset]).c_str()
                                  : subset_ && !data_ready() ? tr("Reading the training set ...")
                                  : tr("Loading the test subset ..."));
        break;
      case Status::failed: break;
      case Status::running:
      case Status::paused:
      case Status::done: {
        if (runs_.size() == 1) {
          std::string line = progress_line(runs_.front());
          if (status_ == Status::paused) line += tr(" (paused)");
          ImGui::TextUnformatted(line.c_str());
        } else {
          ImGui::TextUnformatted(status_ == Status::paused ? tr(" (paused)") : "");
        }
        break;
      }
    }
    if (!problem_.empty()) {
      ImGui::PushStyleColor(ImGuiCol_Text, widgets::error_color(context.options.theme));
      ImGui::TextWrapped("%s", problem_.c_str());
      ImGui::PopStyleColor();
    }
    double longest_piece = 0;
    for (const TrainRun& run : runs_) longest_piece = std::max(longest_piece, run.longest_piece());
    if (longest_piece > kLongPieceSeconds)
      ImGui::TextWrapped(tr("One piece of a step takes %.0f ms here, so the page stutters while it trains: a smaller batch helps."),
                         1000.0 * longest_piece);
    for (std::size_t r = 0; r < runs_.size(); ++r) {
      const TrainRun& run = runs_[r];
      if (runs_.size() > 1) {
        widgets::legend(kRunColors[r], legend_of(run).c_str());
        ImGui::SameLine();
        if (run.status() == TrainRun::Status::failed) {
          ImGui::PushStyleColor(ImGuiCol_Text, widgets::error_color(context.options.theme));
          ImGui::TextWrapped("%s", run.problem().c_str());
          ImGui::PopStyleColor();
          continue;
        }
        ImGui::TextUnformatted(progress_line(run).c_str());
      }
      if (run.total_steps() > 0) {
        ImGui::PushStyleColor(ImGuiCol_PlotHistogram, ImGui::ColorConvertU32ToFloat4(kRunColors[r]));
        ImGui::ProgressBar(float(run.global_step()) / float(std::max<std::int64_t>(run.total_steps(), 1)),
                           ImVec2(-1.f, runs_.size() > 1 ? 4.f * context.ui_scale : 0.f), runs_.size() > 1 ? "" : nullptr);
        ImGui::PopStyleColor();
      }
    }
  }

  void draw_charts(PanelContext& context) {
    bool any = false;
    float y_max = 0.f;
    int epochs = 1;
    for (const TrainRun& run : runs_) {
      any |= !run.losses().empty();
      for (const auto& point : run.losses()) y_max = std::max(y_max, point.second);
      epochs = std::max(epochs, run.epochs());
    }
    if (!any) return;
    const bool several = runs_.size() > 1;
    const float width = ImGui::GetContentRegionAvail().x;
    const float gap = ImGui::GetStyle().ItemSpacing.x * 2.f;
    const float chart_width = std::max(120.f, (width - gap) / 2.f);
    const float chart_height = 170.f * context.ui_scale;

    ImGui::BeginGroup();
    const widgets::Chart loss = widgets::begin_chart("##loss", ImVec2(chart_width, chart_height), tr("Training loss"),
                                                     tr("loss"), tr("epoch"), 0.0, double(epochs), 0.0,
                                                     y_max > 0.f ? double(y_max) * 1.05 : 1.0);
    for (std::size_t r = 0; r < runs_.size(); ++r) {
      const TrainRun& run = runs_[r];
      std::vector<ImVec2> raw, means;
      for (const auto& point : run.losses()) raw.emplace_back(point.first, point.second);
      for (std::size_t e = 0; e < run.epoch_losses().size(); ++e) means.emplace_back(float(e + 1), float(run.epoch_losses()[e]));
      widgets::polyline(loss, raw, faded(kRunColors[r]), 1.f);
      widgets::polyline(loss, means, kRunColors[r], 2.5f);
      widgets::markers(loss, means, kRunColors[r], 3.f);
    }
    if (!several) {
      widgets::legend(faded(kRunColors[0]), tr("one batch"));
      ImGui::SameLine();
      widgets::legend(kRunColors[0], tr("mean of the epoch"));
    }
    ImGui::EndGroup();

    ImGui::SameLine(0, gap);
    ImGui::BeginGroup();
    const widgets::Chart accuracy = widgets::begin_chart("##accuracy", ImVec2(chart_width, chart_height),
                                                         tr("Test accuracy"), "%", tr("epoch"), 0.5, epochs + 0.5, 0.0,
                                                         1.0, true);
    for (std::size_t r = 0; r < runs_.size(); ++r) {
      std::vector<ImVec2> points;
      for (std::size_t e = 0; e < runs_[r].accuracies().size(); ++e)
        points.emplace_back(float(e + 1), float(runs_[r].accuracies()[e]));
      const ImU32 color = several ? kRunColors[r] : kAccuracyColor;
      widgets::polyline(accuracy, points, color, 2.f);
      widgets::markers(accuracy, points, color, 3.5f);
      const int hovered = widgets::hovered_point(accuracy, points);
      if (hovered >= 0)
        ImGui::SetTooltip(tr("epoch %.0f: %.2f %%"), points[std::size_t(hovered)].x, 100.0 * points[std::size_t(hovered)].y);
    }
    if (!several) widgets::legend(kAccuracyColor, tr("held-out images, after each epoch"));
    ImGui::EndGroup();
    if (several)  // one legend for both charts: the colour of each run and what differs
      for (std::size_t r = 0; r < runs_.size(); ++r) {
        if (r > 0) ImGui::SameLine(0, 2.f * gap);
        widgets::legend(kRunColors[r], legend_of(runs_[r]).c_str());
      }
  }

  // Side by side, once any run finished: each run's final loss, held-out accuracy and own training time.
  void draw_table(PanelContext&) {
    if (runs_.size() < 2 || status_ != Status::done) return;
    if (!ImGui::BeginTable("##runs", 4, ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit)) return;
    ImGui::TableSetupColumn(tr("settings"));
    ImGui::TableSetupColumn(tr("final loss"));
    ImGui::TableSetupColumn(tr("accuracy"));
    ImGui::TableSetupColumn(tr("time"));
    ImGui::TableHeadersRow();
    for (std::size_t r = 0; r < runs_.size(); ++r) {
      const TrainRun& run = runs_[r];
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      widgets::legend(kRunColors[r], legend_of(run).c_str());
      ImGui::TableNextColumn();
      if (!run.epoch_losses().empty()) ImGui::Text("%.4f", run.epoch_losses().back());
      else ImGui::TextUnformatted("-");
      ImGui::TableNextColumn();
      if (run.status() == TrainRun::Status::done) ImGui::Text("%.2f %%", 100.0 * run.final_evaluation().accuracy);
      else ImGui::TextUnformatted("-");
      ImGui::TableNextColumn();
      ImGui::Text("%.1f s", run.training_seconds());
    }
    ImGui::EndTable();
  }

  // Each run's log; with several runs a tab per run (the tab shown also picks whose results are drawn).
  void draw_logs(PanelContext& context) {
    bool any = false;
    for (const TrainRun& run : runs_) any |= !run.log().empty();
    if (!any) return;
    if (runs_.size() == 1) return draw_log(context, runs_.front());
    if (!ImGui::BeginTabBar("##logs")) return;
    for (std::size_t r = 0; r < runs_.size(); ++r) {
      ImGui::PushID(int(r));
      if (ImGui::BeginTabItem((legend_of(runs_[r]) + "###log").c_str())) {
        if (shown_run_ != r) shown_log_lines_ = 0;
        shown_run_ = r;
        draw_log(context, runs_[r]);
        ImGui::EndTabItem();
      }
      ImGui::PopID();
    }
    ImGui::EndTabBar();
  }

  void draw_log(PanelContext& context, const TrainRun& run) {
    const std::vector<std::string>& log = run.log();
    const float line = ImGui::GetTextLineHeightWithSpacing();
    ImGui::BeginChild("##log", ImVec2(0, line * 7.f + 8.f * context.ui_scale), true);
    // Only the lines in view are laid out: a long run keeps thousands.
    ImGuiListClipper clipper;
    clipper.Begin(int(log.size()));
    while (clipper.Step())
      for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) ImGui::TextUnformatted(log[std::size_t(i)].c_str());
    if (log.size() != shown_log_lines_) ImGui::SetScrollHereY(1.f);  // follow new lines
    shown_log_lines_ = log.size();
    ImGui::EndChild();
  }

  // At the end of a run: each class's accuracy on the held-out images and their confusion matrix (counts).
  // run.model() is the trained model.
  void draw_results(PanelContext& context, const TrainRun& run) {
    const Evaluation& final = run.final_evaluation();
    if (run.status() != TrainRun::Status::done || final.confusion.empty()) return;
    const std::vector<double> per_class = run.per_class_accuracy();
    const std::vector<std::string>& class_names = run.class_names();
    const std::size_t n = final.confusion.size();
    ImGui::Text(tr("Accuracy on the %d held-out images: %.2f %%"), int(final.count), 100.0 * final.accuracy);
    const float scale = context.ui_scale;
    const float line = ImGui::GetTextLineHeight();
    float label_width = 0.f;
    for (const std::string& name : class_names) label_width = std::max(label_width, ImGui::CalcTextSize(tr(name)).x);
    label_width += 8.f * scale;

    // Per class: a bar from 0 to 100 %.
    ImGui::BeginGroup();
    ImGui::TextDisabled("%s", tr("each class"));
    ImDrawList* draw = ImGui::GetWindowDrawList();
    const float bar_width = 120.f * scale;
    for (std::size_t c = 0; c < n; ++c) {
      const ImVec2 at = ImGui::GetCursorScreenPos();
      draw->AddText(at, ImGui::GetColorU32(ImGuiCol_Text), tr(class_names[c]));
      const float value = per_class[c] < 0 ? 0.f : float(per_class[c]);
      draw->AddRectFilled(ImVec2(at.x + label_width, at.y + line * 0.15f),
                          ImVec2(at.x + label_width + value * bar_width, at.y + line * 0.85f), kAccuracyColor);
      char text[16];
      if (per_class[c] < 0) std::snprintf(text, sizeof text, "-");
      else std::snprintf(text, sizeof text, "%.0f %%", 100.0 * per_class[c]);
      draw->AddText(ImVec2(at.x + label_width + bar_width + 4.f * scale, at.y), ImGui::GetColorU32(ImGuiCol_Text), text);
      ImGui::Dummy(ImVec2(label_width + bar_width + ImGui::CalcTextSize("100 %").x + 8.f * scale, line));
    }
    ImGui::EndGroup();

    // The confusion matrix: rows the true class, columns the prediction, colour the row's share.
    ImGui::SameLine(0, 4.f * ImGui::GetStyle().ItemSpacing.x);
    ImGui::BeginGroup();
    ImGui::TextDisabled("%s", tr("Rows: the true class. Columns: what the model said."));
    const float cell = std::floor(std::max(16.f * scale, line * 1.4f));
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    const float left = std::min(label_width, 90.f * scale);
    char text[24];
    for (std::size_t t = 0; t < n; ++t) {
      std::size_t row = 0;
      for (std::size_t count : final.confusion[t]) row += count;
      const float y = origin.y + line + float(t) * cell;
      draw->PushClipRect(ImVec2(origin.x, y), ImVec2(origin.x + left - 4.f, y + cell), true);
      draw->AddText(ImVec2(origin.x, y + (cell - line) * 0.5f), ImGui::GetColorU32(ImGuiCol_Text), tr(class_names[t]));
      draw->PopClipRect();
      for (std::size_t p = 0; p < n; ++p) {
        const ImVec2 a(origin.x + left + float(p) * cell, y);
        const float share = row ? float(final.confusion[t][p]) / float(row) : 0.f;
        draw->AddRectFilled(a, ImVec2(a.x + cell, a.y + cell), widgets::heat_color(share));
        if (final.confusion[t][p] == 0) continue;
        std::snprintf(text, sizeof text, "%zu", final.confusion[t][p]);
        const ImVec2 size = ImGui::CalcTextSize(text);
        draw->AddText(ImVec2(a.x + (cell - size.x) * 0.5f, a.y + (cell - size.y) * 0.5f),
                      share > 0.55f ? IM_COL32(0, 0, 0, 255) : IM_COL32(255, 255, 255, 255), text);
      }
    }
    for (std::size_t p = 0; p < n; ++p) {
      std::snprintf(text, sizeof text, "%zu", p);
      draw->AddText(ImVec2(origin.x + left + float(p) * cell + (cell - ImGui::CalcTextSize(text).x) * 0.5f, origin.y),
                    ImGui::GetColorU32(ImGuiCol_TextDisabled), text);
    }
    ImGui::Dummy(ImVec2(left + cell * float(n), line + cell * float(n)));
    ImGui::EndGroup();
    if (const Model* model = run.model())
      your_model_.draw(context, *model, run.serial(), {run.train_count(), run.epochs(), final.accuracy, final.count});
  }

  // ---- the state ------------------------------------------------------------------------------------------------------

  Settings settings_;
  Compare compare_ = Compare::one;
  std::vector<Choice> custom_;  // custom: the runs after the first
  Status status_ = Status::idle;
  std::string problem_;  // the data's (or, when every run failed, the first run's)

  IndexState index_state_ = IndexState::pending;
  std::vector<ShippedTrainingSet> shipped_;
  std::shared_ptr<LabelledImages> subset_, full_;  // the chosen dataset's shipped subset and training set
  bool downloading_ = false;
  bool reading_shown_ = false;  // the training set is here and "Reading ..." was drawn: parse it now
  double parse_seconds_ = 0;
  std::string data_source_;  // "test_subset" or "training_set", once the runs began

  std::vector<Choice> planned_;  // the runs Start asked for
  std::vector<TrainRun> runs_;
  std::size_t next_run_ = 0;   // whose piece comes first in the next frame
  std::size_t shown_run_ = 0;  // whose log tab is open (and whose results are drawn)
  std::size_t shown_log_lines_ = 0;
  std::int64_t training_frames_ = 0;
  double longest_slice_ = 0;
  double budget_ = 0;  // the last frame's training budget (kTrainBudgetSeconds or more: see there)
  std::optional<Clock::time_point> last_slice_start_;

  Rect start_rect_, pause_rect_, reset_rect_, add_run_rect_;
  Rect compare_rects_[std::size(kCompareNames)];
  std::vector<Rect> choices_open_;
  YourModelWidget your_model_;  // use the trained model in the other panels, download it
  // The settings' combo boxes as last drawn, in kSettingNames order.
  static constexpr int kSettings = 7;
  static constexpr const char* kSettingNames[kSettings] = {"dataset", "model", "optimizer", "learning_rate",
                                                           "scheduler", "batch_size", "train_images"};
  Rect setting_rects_[kSettings];
};

}  // namespace

std::unique_ptr<TeachingPanel> make_train_panel() { return std::make_unique<Panel>(); }

}  // namespace digitlab::app
