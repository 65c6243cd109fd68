// The "train" teaching panel (panels.hpp): the tutorial's training loop run in the page with the core's
// Trainer (shared/include/digitlab/train.hpp) on the site's shipped test subset, time-sliced: each frame
// runs Trainer::advance() pieces for at most kTrainBudgetSeconds (a clock decides), so the page stays
// responsive and needs no worker or COOP/COEP headers.
// Read next: shared/include/digitlab/train.hpp, docs/core.md ("Training").
//
// Sections: the choices - the data (the shipped subset, split) - the run (start, slices, epochs, held-out
// evaluation) - drawing (settings, buttons, progress, charts, log, results) - the state.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "common/i18n.hpp"
#include "digitlab/architectures.hpp"
#include "digitlab/text.hpp"
#include "digitlab/train.hpp"
#include "imgui.h"
#include "teaching/teaching_panel.hpp"
#include "teaching/test_subset.hpp"
#include "teaching/widgets.hpp"

namespace digitlab::app {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Training time per frame: at 60 frames a second a frame has 16.7 ms, and ImGui needs a few of them. One
// piece always runs, so a frame takes at least the longest piece (the CNN's at batch 64: about 36 ms).
constexpr double kTrainBudgetSeconds = 0.012;
constexpr std::size_t kHeldOut = 200;        // the subset's last images: the live test accuracy
constexpr std::size_t kEvaluationSlice = 10;  // held-out images per evaluation piece
constexpr std::uint64_t kSeed = 1;
constexpr double kLongPieceSeconds = 0.040;   // above this the page stutters: the panel says so

// ---- the choices ----------------------------------------------------------------------------------------------

const char* const kDatasets[] = {"mnist", "fashion-mnist"};
const char* const kDatasetNames[] = {"MNIST", "Fashion-MNIST"};
const char* const kArchitectures[] = {"mlp", "mlp-deep", "cnn"};
const char* model_label(int i) {
  return i == 0 ? tr("MLP (the tutorial's)") : i == 1 ? tr("deeper MLP") : tr("CNN");
}
const int kTrainSizes[] = {100, 200, 400, 800};
const int kBatchSizes[] = {16, 32, 64, 128, 256};
const double kLearningRates[] = {0.1, 0.05, 0.01, 0.005, 0.001, 0.0001};
const char* optimizer_label(int i) { return i == 0 ? tr("SGD, momentum 0.9") : "Adam"; }
const char* optimizer_name(int i) { return i == 0 ? "sgd" : "adam"; }
const char* scheduler_label(int i) {
  return i == 0 ? tr("none") : i == 1 ? tr("StepLR: x0.5 every 2 epochs") : tr("cosine to 0");
}
const char* scheduler_name(int i) { return i == 0 ? "none" : i == 1 ? "step" : "cosine"; }

struct Settings {
  int dataset = 0, model = 0, epochs = 5, batch = 2, rate = 2, optimizer = 0, scheduler = 0, train_size = 3;
};

constexpr ImU32 kLossColor = IM_COL32(52, 120, 230, 255);     // as the training panel
constexpr ImU32 kRawLossColor = IM_COL32(52, 120, 230, 110);
constexpr ImU32 kAccuracyColor = IM_COL32(235, 120, 20, 255);

std::string minutes_seconds(double seconds) {
  const long total = long(std::max(0.0, std::round(seconds)));
  return format_text("%ld:%02ld", total / 60, total % 60);
}

// A combo box of `count` choices; its rectangle (for tests and the page) goes into *rect.
bool combo(const char* label, const char* id, int* index, int count, const char* (*name)(int), float width, Rect* rect) {
  bool changed = false;
  ImGui::SetNextItemWidth(width);
  const bool open = ImGui::BeginCombo(widgets::labelled(label, id).c_str(), name(*index));
  *rect = widgets::item_rect();
  if (open) {
    for (int i = 0; i < count; ++i)
      if (ImGui::Selectable(name(i), i == *index) && i != *index) {
        *index = i;
        changed = true;
      }
    ImGui::EndCombo();
  }
  return changed;
}

class Panel final : public TeachingPanel {
 public:
  void draw(PanelContext& context) override {
    // Parsing the subset, creating the Trainer and training each take a frame of their own (none of them
    // small): a frame that parsed does not also start, one that started does not also train.
    const bool parsed = update_data(context);
    if (status_ == Status::loading && !parsed && subset_ && subset_->dataset == kDatasets[settings_.dataset])
      begin_run();
    else if (status_ == Status::running)
      run_slice();
    draw_settings(context);
    draw_buttons(context);
    draw_progress(context);
    draw_charts(context);
    draw_log(context);
    draw_results(context);
  }

  bool busy() const override { return status_ == Status::running || status_ == Status::loading; }

  void write_state(JsonWriter& json) const override {
    static const char* const names[] = {"idle", "loading", "running", "paused", "done", "failed"};
    json.begin_object();
    json.key("status").string(names[int(status_)]);
    json.key("dataset").string(kDatasets[settings_.dataset]).key("model").string(kArchitectures[settings_.model]);
    json.key("optimizer").string(optimizer_name(settings_.optimizer));
    json.key("scheduler").string(scheduler_name(settings_.scheduler));
    json.key("learning_rate").number(kLearningRates[settings_.rate]);
    json.key("batch_size").integer(kBatchSizes[settings_.batch]).key("epochs").integer(settings_.epochs);
    json.key("train_images").integer(std::int64_t(train_count_)).key("held_out_images").integer(std::int64_t(held_out_count_));
    json.key("epoch").integer(last_epoch_).key("step").integer(last_step_);
    json.key("steps_per_epoch").integer(steps_per_epoch_).key("global_step").integer(global_step_);
    json.key("total_steps").integer(total_steps_);
    json.key("loss");
    if (losses_.empty()) json.null();
    else json.number(double(losses_.back().y));
    json.key("epoch_losses").begin_array();
    for (double loss : epoch_losses_) json.number(loss);
    json.end_array();
    json.key("accuracy");
    if (accuracies_.empty()) json.null();
    else json.number(accuracies_.back());
    json.key("accuracies").begin_array();
    for (double accuracy : accuracies_) json.number(accuracy);
    json.end_array();
    json.key("log_lines").integer(std::int64_t(log_.size()));
    json.key("first_log_line").string(log_.empty() ? "" : log_.front());
    json.key("last_log_line").string(log_.empty() ? "" : log_.back());
    json.key("images_per_second").number(images_per_second());
    json.key("seconds_left").number(seconds_left());
    json.key("training_frames").integer(training_frames_).key("training_seconds").number(training_seconds_);
    json.key("longest_slice_ms").number(1000.0 * longest_slice_);
    json.key("longest_piece_ms").number(1000.0 * longest_piece_);
    json.key("longest_snapshot_ms").number(1000.0 * longest_snapshot_);
    json.key("snapshot_ms").begin_array();
    for (double seconds : snapshot_seconds_) json.number(1000.0 * seconds);
    json.end_array();
    json.key("per_class_accuracy").begin_array();
    for (double accuracy : per_class_accuracy()) json.number(accuracy);
    json.end_array();
    json.key("confusion").begin_array();
    for (const auto& row : final_.confusion) {
      json.begin_array();
      for (std::size_t count : row) json.integer(std::int64_t(count));
      json.end_array();
    }
    json.end_array();
    json.key("problem").string(problem_);
    json.key("setting_rects").begin_object();
    for (int i = 0; i < 7; ++i) json.key(kSettingNames[i]).rect(setting_rects_[i]);
    json.end_object();
    json.key("start_rect").rect(start_rect_).key("pause_rect").rect(pause_rect_).key("reset_rect").rect(reset_rect_);
    json.end_object();
  }

 private:
  enum class Status { idle, loading, running, paused, done, failed };

  // ---- the data: the shipped subset, split into a training part and a held-out part ---------------------------

  // Follows the chosen dataset's subset files once Start wants them; true in the frame that parsed them.
  bool update_data(PanelContext& context) {
    const std::string dataset = kDatasets[settings_.dataset];
    if (subset_ && subset_->dataset == dataset) return false;
    if (status_ != Status::loading && !data_wanted_) return false;  // nothing fetched until Start
    const Asset& images = context.assets.request(test_subset_images_path(dataset));
    const Asset& labels = context.assets.request(test_subset_labels_path(dataset));
    const std::string paths[2] = {test_subset_images_path(dataset), test_subset_labels_path(dataset)};
    const Asset* files[2] = {&images, &labels};
    for (int f = 0; f < 2; ++f) {
      if (files[f]->state == Asset::State::failed) {
        fail(format_text(tr("The site has no test subset for %s (%s: %s): rebuild it with the wasm preset (make demo)."),
                         dataset.c_str(), paths[f].c_str(), files[f]->error.c_str()));
        data_wanted_ = false;
        return false;
      }
    }
    if (images.state != Asset::State::ready || labels.state != Asset::State::ready) return false;
    auto parsed = parse_test_subset(dataset, ByteSpan(images.bytes), ByteSpan(labels.bytes));
    data_wanted_ = false;
    if (!parsed.ok()) {
      fail(parsed.error().to_string());
      return true;
    }
    if (parsed.value().size() <= kHeldOut || parsed.value().images.rows != 28 || parsed.value().images.cols != 28) {
      fail(format_text(tr("The test subset for %s has %u images; training here needs more than %d."), dataset.c_str(),
                       parsed.value().size(), int(kHeldOut)));
      return true;
    }
    subset_ = std::make_unique<TestSubset>(std::move(parsed.value()));
    return true;
  }

  void fail(std::string why) {
    problem_ = std::move(why);
    status_ = Status::failed;
    trainer_.reset();
    evaluating_ = false;
    evaluation_model_.reset();
  }

  // ---- the run --------------------------------------------------------------------------------------------------

  void start(PanelContext& context) {
    if (status_ == Status::paused) {
      status_ = Status::running;
      last_running_frame_.reset();
      return;
    }
    clear_run();
    if (!subset_ || subset_->dataset != kDatasets[settings_.dataset]) {
      // A fetch that failed before (the panel said so) is tried again.
      for (const std::string& path : {test_subset_images_path(kDatasets[settings_.dataset]),
                                      test_subset_labels_path(kDatasets[settings_.dataset])}) {
        const Asset* asset = context.assets.find(path);
        if (asset && asset->state == Asset::State::failed) context.assets.retry(path);
      }
      status_ = Status::loading;
      data_wanted_ = true;
      update_data(context);
      return;
    }
    status_ = Status::loading;  // the next frame creates the Trainer
  }

  void clear_run() {
    trainer_.reset();
    evaluating_ = false;
    evaluation_model_.reset();  // a Reset during an evaluation must not hand the old model to the next run
    problem_.clear();
    losses_.clear();
    epoch_losses_.clear();
    accuracies_.clear();
    log_.clear();
    final_ = Evaluation{};
    last_epoch_ = 0, run_epochs_ = 0, last_step_ = 0, global_step_ = 0, total_steps_ = 0, steps_per_epoch_ = 0;
    images_trained_ = 0, training_seconds_ = 0, running_seconds_ = 0;
    training_frames_ = 0, longest_slice_ = 0, longest_piece_ = 0, longest_snapshot_ = 0;
    piece_seconds_.clear();
    snapshot_seconds_.clear();
    piece_index_ = 0;
    train_count_ = held_out_count_ = 0;
    last_running_frame_.reset();
    status_ = Status::idle;
  }

  void begin_run() {
    auto built = make_architecture(kArchitectures[settings_.model], kSeed);
    if (!built.ok()) return fail(built.error().to_string());
    Model model = std::move(built.value());
    initialize_like_pytorch(model, kSeed);
    model.card.dataset = kDatasets[settings_.dataset];
    if (settings_.dataset == 1)
      model.card.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    class_names_ = model.card.class_names;

    const TestSubset& subset = *subset_;
    const ImageSet all{subset.images.pixels.data(), subset.labels.labels.data(), subset.size(), 1, 28, 28};
    held_out_ = all.slice(subset.size() - kHeldOut, kHeldOut);
    train_ = all.slice(0, std::min<std::size_t>(std::size_t(kTrainSizes[settings_.train_size]), subset.size() - kHeldOut));
    train_count_ = train_.count;
    held_out_count_ = held_out_.count;

    TrainerOptions options;
    run_epochs_ = settings_.epochs;
    options.epochs = run_epochs_;
    options.batch_size = kBatchSizes[settings_.batch];
    options.seed = kSeed;
    options.optimizer.kind = settings_.optimizer == 0 ? OptimizerKind::sgd : OptimizerKind::adam;
    options.optimizer.learning_rate = kLearningRates[settings_.rate];
    options.optimizer.momentum = 0.9;
    options.schedule.kind = settings_.scheduler == 0 ? Schedule::Kind::none
                            : settings_.scheduler == 1 ? Schedule::Kind::step : Schedule::Kind::cosine;
    options.schedule.step_epochs = 2;
    options.schedule.gamma = 0.5;
    options.memory_budget = 512ull << 20;  // a browser tab: the CNN at batch 256 is refused with a sentence
    auto created = Trainer::create(std::move(model), train_, options);
    if (!created.ok()) return fail(created.error().to_string());
    trainer_.emplace(std::move(created.value()));
    steps_per_epoch_ = trainer_->steps_per_epoch();
    total_steps_ = trainer_->total_steps();
    // The tutorial prints every 100 steps of its 938; a small training set has a handful of steps an
    // epoch, so it prints about five times an epoch there (and always at an epoch's last step).
    log_every_ = steps_per_epoch_ >= 200 ? 100 : std::max<std::int64_t>(1, (steps_per_epoch_ + 4) / 5);
    piece_seconds_.assign(trainer_->pieces_per_step(), 0.0);
    status_ = Status::running;
  }

  // One frame's training: advance() pieces (and held-out evaluation pieces after an epoch) until the next
  // would end past the budget, judged by what the same piece took last time. At least one piece runs.
  void run_slice() {
    if (!trainer_) return;
    const Clock::time_point start = Clock::now();
    if (last_running_frame_) running_seconds_ += std::min(0.25, std::chrono::duration<double>(start - *last_running_frame_).count());
    last_running_frame_ = start;
    int pieces = 0;
    while (status_ == Status::running) {
      const double elapsed = seconds_since(start);
      if (evaluating_) {
        // The parameters as trained so far, evaluated in place (Trainer::evaluate: no copy of the model,
        // so no long piece for the deep MLP's), a slice per piece.
        if (pieces > 0 && elapsed + evaluation_piece_seconds_ > kTrainBudgetSeconds) break;
        const Clock::time_point t0 = Clock::now();
        const std::size_t slice = std::min(kEvaluationSlice, trainer_->evaluation_images_per_piece());
        auto part = trainer_->evaluate(held_out_.slice(evaluated_, slice));
        evaluation_piece_seconds_ = seconds_since(t0);
        longest_piece_ = std::max(longest_piece_, evaluation_piece_seconds_);
        ++pieces;
        if (!part.ok()) return fail(part.error().to_string());
        evaluation_.merge(part.value());
        evaluated_ += slice;
        if (evaluated_ >= held_out_.count) finish_evaluation();
        continue;
      }
      if (trainer_->finished()) break;
      const double predicted = piece_seconds_.empty() ? 0.0 : piece_seconds_[piece_index_];
      if (pieces > 0 && elapsed + predicted > kTrainBudgetSeconds) break;
      const Clock::time_point t0 = Clock::now();
      auto advanced = trainer_->advance();
      const double took = seconds_since(t0);
      ++pieces;
      training_seconds_ += took;
      longest_piece_ = std::max(longest_piece_, took);
      if (!piece_seconds_.empty()) piece_seconds_[piece_index_] = took;
      if (!advanced.ok()) return fail(advanced.error().to_string());
      if (advanced.value()) {
        piece_index_ = 0;
        on_step(*advanced.value());
      } else if (piece_index_ + 1 < piece_seconds_.size()) {
        ++piece_index_;
      }
    }
    ++training_frames_;
    longest_slice_ = std::max(longest_slice_, seconds_since(start));
  }

  void on_step(const StepReport& report) {
    last_epoch_ = report.epoch;
    last_step_ = report.step;
    global_step_ = report.global_step;
    images_trained_ += std::uint64_t(report.batch);
    losses_.emplace_back(float(double(report.global_step) / double(steps_per_epoch_)), report.loss);
    if (report.step % log_every_ == 0 || report.epoch_finished)
      log_.push_back(format_text(tr("Epoch [%d/%d], Step [%lld/%lld], Loss: %.4f"), report.epoch, run_epochs_,
                                 (long long)report.step, (long long)steps_per_epoch_, double(report.loss)));
    if (report.epoch_finished) {
      epoch_losses_.push_back(trainer_->epoch_mean_loss());
      evaluation_ = Evaluation{};
      evaluated_ = 0;
      evaluating_ = true;
    }
  }

  void finish_evaluation() {
    evaluating_ = false;
    accuracies_.push_back(evaluation_.accuracy);
    log_.push_back(format_text(tr("Epoch [%d/%d]: mean loss %.4f, accuracy on the %d held-out images: %.2f %%"),
                               last_epoch_, run_epochs_, epoch_losses_.back(), int(held_out_.count),
                               100.0 * evaluation_.accuracy));
    final_ = evaluation_;
    if (trainer_->finished()) {
      status_ = Status::done;
      last_running_frame_.reset();
    }
  }

  double images_per_second() const { return running_seconds_ > 0 ? double(images_trained_) / running_seconds_ : 0.0; }
  double seconds_left() const {
    const double rate = images_per_second();
    if (!trainer_ || rate <= 0 || status_ == Status::done) return 0.0;
    const double images_left = double(train_count_) * run_epochs_ - double(images_trained_);
    return std::max(0.0, images_left) / rate;
  }
  std::vector<double> per_class_accuracy() const {
    std::vector<double> out;
    if (status_ != Status::done) return out;
    for (std::size_t t = 0; t < final_.confusion.size(); ++t) {
      std::size_t row = 0;
      for (std::size_t count : final_.confusion[t]) row += count;
      out.push_back(row ? double(final_.confusion[t][t]) / double(row) : -1.0);
    }
    return out;
  }

  // ---- drawing ----------------------------------------------------------------------------------------------------

  void draw_settings(PanelContext& context) {
    const float scale = context.ui_scale;
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped(tr("Trains a network here in the page, on the site's shipped test subset: up to its first %d images to learn from, its last %d held out to test on. The full training sets are not on the site yet."),
                       int(kTestSubsetSize - int(kHeldOut)), int(kHeldOut));
    ImGui::PopStyleColor();
    const bool editable = status_ == Status::idle || status_ == Status::done || status_ == Status::failed;
    ImGui::BeginDisabled(!editable);
    const float width = 170.f * scale, gap = 2.f * ImGui::GetStyle().ItemSpacing.x;
    combo(tr("Dataset"), "dataset", &settings_.dataset, 2, [](int i) { return kDatasetNames[i]; }, width,
          &setting_rects_[0]);
    ImGui::SameLine(0, gap);
    combo(tr("Model"), "model", &settings_.model, 3, model_label, width, &setting_rects_[1]);
    ImGui::SameLine(0, gap);
    ImGui::SetNextItemWidth(width);
    ImGui::SliderInt(widgets::labelled(tr("Epochs"), "epochs").c_str(), &settings_.epochs, 1, 20);
    combo(tr("Optimizer"), "optimizer", &settings_.optimizer, 2, optimizer_label, width, &setting_rects_[2]);
    ImGui::SameLine(0, gap);
    combo(tr("Learning rate"), "rate", &settings_.rate, 6,
          [](int i) { static char text[16]; std::snprintf(text, sizeof text, "%g", kLearningRates[i]); return (const char*)text; },
          width, &setting_rects_[3]);
    ImGui::SameLine(0, gap);
    combo(tr("Scheduler"), "scheduler", &settings_.scheduler, 3, scheduler_label, width, &setting_rects_[4]);
    combo(tr("Batch size"), "batch", &settings_.batch, 5,
          [](int i) { static char text[16]; std::snprintf(text, sizeof text, "%d", kBatchSizes[i]); return (const char*)text; },
          width, &setting_rects_[5]);
    ImGui::SameLine(0, gap);
    combo(tr("Training images"), "train-size", &settings_.train_size, 4,
          [](int i) { static char text[16]; std::snprintf(text, sizeof text, "%d", kTrainSizes[i]); return (const char*)text; },
          width, &setting_rects_[6]);
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
      last_running_frame_.reset();
    }
    pause_rect_ = widgets::item_rect();
    ImGui::EndDisabled();
    ImGui::SameLine();
    if (ImGui::Button(widgets::labelled(tr("Reset"), "reset").c_str())) clear_run();
    reset_rect_ = widgets::item_rect();
  }

  void draw_progress(PanelContext& context) {
    ImGui::SameLine(0, 3.f * ImGui::GetStyle().ItemSpacing.x);
    switch (status_) {
      case Status::idle: ImGui::TextDisabled("%s", tr("Pick the settings and press Start.")); break;
      case Status::loading: ImGui::TextDisabled("%s", tr("Loading the test subset ...")); break;
      case Status::failed: break;
      case Status::running:
      case Status::paused:
      case Status::done: {
        std::string line = format_text(tr("Epoch %d/%d, step %lld/%lld"), std::max(1, last_epoch_), run_epochs_,
                                       (long long)last_step_, (long long)steps_per_epoch_);
        if (images_per_second() > 0)
          line += format_text(tr(", %s images/s"), with_thousands(std::int64_t(images_per_second())).c_str());
        if (status_ == Status::running && seconds_left() > 0)
          line += format_text(tr(", about %s left"), minutes_seconds(seconds_left()).c_str());
        if (status_ == Status::paused) line += tr(" (paused)");
        if (status_ == Status::done) line += tr(" (done)");
        ImGui::TextUnformatted(line.c_str());
        break;
      }
    }
    if (!problem_.empty()) {
      ImGui::PushStyleColor(ImGuiCol_Text, widgets::error_color(context.options.theme));
      ImGui::TextWrapped("%s", problem_.c_str());
      ImGui::PopStyleColor();
    }
    if (longest_piece_ > kLongPieceSeconds)
      ImGui::TextWrapped(tr("One piece of a step takes %.0f ms here, so the page stutters while it trains: a smaller batch helps."),
                         1000.0 * longest_piece_);
    if (total_steps_ > 0)
      ImGui::ProgressBar(float(global_step_) / float(std::max<std::int64_t>(total_steps_, 1)), ImVec2(-1.f, 0.f));
  }

  void draw_charts(PanelContext& context) {
    if (losses_.empty()) return;
    const float width = ImGui::GetContentRegionAvail().x;
    const float gap = ImGui::GetStyle().ItemSpacing.x * 2.f;
    const float chart_width = std::max(120.f, (width - gap) / 2.f);
    const float chart_height = 170.f * context.ui_scale;
    const double epochs = double(std::max(1, run_epochs_));

    ImGui::BeginGroup();
    float y_max = 0.f;
    for (const ImVec2& point : losses_) y_max = std::max(y_max, point.y);
    const widgets::Chart loss = widgets::begin_chart("##loss", ImVec2(chart_width, chart_height), tr("Training loss"),
                                                     tr("loss"), tr("epoch"), 0.0, epochs, 0.0,
                                                     y_max > 0.f ? double(y_max) * 1.05 : 1.0);
    widgets::polyline(loss, losses_, kRawLossColor, 1.f);
    std::vector<ImVec2> means;
    for (std::size_t e = 0; e < epoch_losses_.size(); ++e) means.emplace_back(float(e + 1), float(epoch_losses_[e]));
    widgets::polyline(loss, means, kLossColor, 2.5f);
    widgets::markers(loss, means, kLossColor, 3.f);
    widgets::legend(kRawLossColor, tr("one batch"));
    ImGui::SameLine();
    widgets::legend(kLossColor, tr("mean of the epoch"));
    ImGui::EndGroup();

    ImGui::SameLine(0, gap);
    ImGui::BeginGroup();
    std::vector<ImVec2> points;
    for (std::size_t e = 0; e < accuracies_.size(); ++e) points.emplace_back(float(e + 1), float(accuracies_[e]));
    const widgets::Chart accuracy = widgets::begin_chart("##accuracy", ImVec2(chart_width, chart_height),
                                                         tr("Test accuracy"), "%", tr("epoch"), 0.5, epochs + 0.5, 0.0,
                                                         1.0, true);
    widgets::polyline(accuracy, points, kAccuracyColor, 2.f);
    widgets::markers(accuracy, points, kAccuracyColor, 3.5f);
    const int hovered = widgets::hovered_point(accuracy, points);
    if (hovered >= 0)
      ImGui::SetTooltip(tr("epoch %.0f: %.2f %%"), points[std::size_t(hovered)].x, 100.0 * points[std::size_t(hovered)].y);
    widgets::legend(kAccuracyColor, tr("held-out images, after each epoch"));
    ImGui::EndGroup();
  }

  void draw_log(PanelContext& context) {
    if (log_.empty()) return;
    const float line = ImGui::GetTextLineHeightWithSpacing();
    ImGui::BeginChild("##log", ImVec2(0, line * 7.f + 8.f * context.ui_scale), true);
    // Only the lines in view are laid out: a long run keeps thousands.
    ImGuiListClipper clipper;
    clipper.Begin(int(log_.size()));
    while (clipper.Step())
      for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) ImGui::TextUnformatted(log_[std::size_t(i)].c_str());
    if (log_.size() != shown_log_lines_) ImGui::SetScrollHereY(1.f);  // follow new lines
    shown_log_lines_ = log_.size();
    ImGui::EndChild();
  }

  // At the end: each class's accuracy on the held-out images and their confusion matrix (counts).
  void draw_results(PanelContext& context) {
    if (status_ != Status::done || final_.confusion.empty()) return;
    const std::vector<double> per_class = per_class_accuracy();
    const std::size_t n = final_.confusion.size();
    ImGui::Text(tr("Accuracy on the %d held-out images: %.2f %%"), int(final_.count), 100.0 * final_.accuracy);
    const float scale = context.ui_scale;
    const float line = ImGui::GetTextLineHeight();
    float label_width = 0.f;
    for (const std::string& name : class_names_) label_width = std::max(label_width, ImGui::CalcTextSize(tr(name)).x);
    label_width += 8.f * scale;

    // Per class: a bar from 0 to 100 %.
    ImGui::BeginGroup();
    ImGui::TextDisabled("%s", tr("each class"));
    ImDrawList* draw = ImGui::GetWindowDrawList();
    const float bar_width = 120.f * scale;
    for (std::size_t c = 0; c < n; ++c) {
      const ImVec2 at = ImGui::GetCursorScreenPos();
      draw->AddText(at, ImGui::GetColorU32(ImGuiCol_Text), tr(class_names_[c]));
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
      for (std::size_t count : final_.confusion[t]) row += count;
      const float y = origin.y + line + float(t) * cell;
      draw->PushClipRect(ImVec2(origin.x, y), ImVec2(origin.x + left - 4.f, y + cell), true);
      draw->AddText(ImVec2(origin.x, y + (cell - line) * 0.5f), ImGui::GetColorU32(ImGuiCol_Text), tr(class_names_[t]));
      draw->PopClipRect();
      for (std::size_t p = 0; p < n; ++p) {
        const ImVec2 a(origin.x + left + float(p) * cell, y);
        const float share = row ? float(final_.confusion[t][p]) / float(row) : 0.f;
        draw->AddRectFilled(a, ImVec2(a.x + cell, a.y + cell), widgets::heat_color(share));
        if (final_.confusion[t][p] == 0) continue;
        std::snprintf(text, sizeof text, "%zu", final_.confusion[t][p]);
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
  }

  Settings settings_;
  Status status_ = Status::idle;
  std::string problem_;

  bool data_wanted_ = false;
  std::unique_ptr<TestSubset> subset_;
  ImageSet train_, held_out_;
  std::size_t train_count_ = 0, held_out_count_ = 0;
  std::vector<std::string> class_names_;

  std::optional<Trainer> trainer_;
  int run_epochs_ = 0;  // the run's (the settings can change once it is done)
  std::int64_t log_every_ = 100;
  std::vector<double> piece_seconds_;  // what each piece of a step took last time (the budget's forecast)
  std::size_t piece_index_ = 0;
  // After each epoch: the model as trained so far, evaluated on the held-out images a slice at a time.
  bool evaluating_ = false;
  std::optional<Model> evaluation_model_;
  Evaluation evaluation_, final_;
  std::size_t evaluated_ = 0;
  double evaluation_piece_seconds_ = 0;

  int last_epoch_ = 0;
  std::int64_t last_step_ = 0, global_step_ = 0, total_steps_ = 0, steps_per_epoch_ = 0;
  std::vector<ImVec2> losses_;        // (epoch position, batch loss) per step
  std::vector<double> epoch_losses_;  // mean batch loss of each epoch
  std::vector<double> accuracies_;    // held-out accuracy after each epoch
  std::vector<std::string> log_;
  std::size_t shown_log_lines_ = 0;

  // Speed: images trained over the wall time of the frames that trained (gaps between frames included,
  // so it is what the learner sees; a gap over 0.25 s, a hidden tab, is not counted).
  std::uint64_t images_trained_ = 0;
  double training_seconds_ = 0, running_seconds_ = 0;
  std::optional<Clock::time_point> last_running_frame_;
  std::int64_t training_frames_ = 0;
  double longest_slice_ = 0, longest_piece_ = 0, longest_snapshot_ = 0;
  std::vector<double> snapshot_seconds_;  // what each epoch's Trainer::model() took

  Rect start_rect_, pause_rect_, reset_rect_;
  // The settings' combo boxes as last drawn, in kSettingNames order.
  static constexpr const char* kSettingNames[] = {"dataset", "model", "optimizer", "learning_rate", "scheduler",
                                                  "batch_size", "train_images"};
  Rect setting_rects_[7];
};

}  // namespace

std::unique_ptr<TeachingPanel> make_train_panel() { return std::make_unique<Panel>(); }

}  // namespace digitlab::app
