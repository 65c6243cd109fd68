// The "training" teaching panel (panels.hpp): how the active model was trained, from its run record
// (weights/runs/<model>.json: loss every 100 steps, test accuracy and learning rate per epoch, recipe,
// timings), and the sweep tables the manifest lists (sortable, best run marked, accuracy bars).
// The files are read by training_record.cpp. Read next: training_record.hpp, scripts/train-zoo.mjs.
//
// Sections: the three charts (drawn with widgets.hpp's chart helpers) - the sweep table - the panel and its state.
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

#include "common/i18n.hpp"
#include "digitlab/text.hpp"
#include "imgui.h"
#include "teaching/teaching_panel.hpp"
#include "teaching/widgets.hpp"
#include "teaching/training_record.hpp"

namespace digitlab::app {

namespace {

constexpr ImU32 kLossColor = IM_COL32(52, 120, 230, 255);      // blue, readable on light and dark
constexpr ImU32 kRawLossColor = IM_COL32(52, 120, 230, 120);   // the same, faint: the noisy batch losses
constexpr ImU32 kAccuracyColor = IM_COL32(235, 120, 20, 255);  // orange
constexpr ImU32 kRateColor = IM_COL32(40, 160, 90, 255);       // green


std::string with_commas(long long n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

using widgets::Chart;
using widgets::begin_chart;
using widgets::hovered_point;
using widgets::legend;
using widgets::markers;
using widgets::polyline;
using widgets::style_color;

// ---- the panel -------------------------------------------------------------------------------------------------

struct LoadedRecord {
  std::string path;  // the asset it was read from ("" once dropped for a retry)
  bool ok = false;
  RunRecord record;
  std::string error;  // when !ok: the reader's error, one line
};

struct LoadedSweep {
  std::string path;
  bool ok = false, failed = false;
  SweepTable table;
  std::string error;
};

class Panel final : public TeachingPanel {
 public:
  void draw(PanelContext& context) override {
    update(context);
    const float scale = context.ui_scale;
    if (const RunRecord* record = loaded_record()) {
      draw_record(*record, scale);
    } else {
      ImGui::TextWrapped("%s", message_.c_str());
      if (status_ == Status::failed && ImGui::SmallButton(widgets::labelled(tr("Try again"), "retry").c_str())) {
        context.assets.retry(record_path_);
        const int stale = parsed_index(record_path_);
        if (stale >= 0) parsed_[std::size_t(stale)].path.clear();  // read again when it comes back
        key_valid_ = false;
      }
    }
    ImGui::Spacing();
    draw_sweeps(context, scale);
  }

  void write_state(JsonWriter& json) const override {
    static const char* const status_names[] = {"none", "loading", "loaded", "failed"};
    const RunRecord* record = loaded_record();
    const LoadedSweep* sweep = selected_sweep();
    auto run_at = [sweep](int index) { return sweep && index >= 0 ? sweep->table.runs[std::size_t(index)].run : 0; };
    json.begin_object();
    json.key("model").string(model_name_).key("record").string(status_names[int(status_)]);
    json.key("record_loaded").boolean(record).key("record_path").string(record_path_).key("message").string(message_);
    json.key("loss_points").integer(record ? std::int64_t(record->losses.size()) : 0);
    json.key("epochs").integer(record ? std::int64_t(record->epochs.size()) : 0);
    json.key("final_accuracy").number(record ? double(record->test_accuracy) : -1.0);
    json.key("scheduler").string(record ? record->scheduler : "");
    json.key("sweeps").integer(std::int64_t(sweeps_.size())).key("sweep").string(sweep ? sweep->table.name : "");
    json.key("sweep_rows").integer(sweep ? std::int64_t(sweep->table.runs.size()) : 0);
    json.key("sort_column").string(sweep_column_name(sort_column_)).key("sort_descending").boolean(sort_descending_);
    json.key("first_row_run").integer(run_at(order_.empty() ? -1 : order_[0]));
    json.key("best_run").integer(run_at(sweep ? sweep->table.best : -1));
    json.key("learning_rates").begin_array();
    for (std::size_t i = 0; record && i < record->epochs.size(); ++i) json.number(record->epochs[i].learning_rate);
    json.end_array();
    json.key("columns").begin_array();
    for (std::size_t i = 0; i < header_boxes_.size(); ++i)
      json.begin_object().key("name").string(sweep_column_name(SweepColumn(i))).key("rect").rect(header_boxes_[i]).end_object();
    json.end_array().end_object();
  }

 private:
  enum class Status { none, loading, loaded, failed };

  // Follows the active model and the assets: which record to show, and the sweeps' files.
  void update(PanelContext& context) {
    const std::size_t sweep_count = context.catalog.sweeps().size();
    if (key_valid_ && context.model_generation == generation_ && context.assets.revision() == revision_ &&
        sweep_count == sweeps_.size())
      return;
    key_valid_ = true;
    generation_ = context.model_generation;

    const ModelEntry* entry = context.catalog.active_entry();
    model_name_ = entry ? entry->name : "";
    record_path_.clear();
    if (!entry) {
      status_ = Status::none;
      message_ = tr("No model is loaded yet: pick one in the Model panel, and its training curves appear here.");
    } else if (entry->record.empty()) {
      status_ = Status::none;
      message_ = format_text(entry->user_file ? tr("%s was opened from a file, so there is no training record to show. Pick a shipped model in the Model panel to see how it was trained.")
                                         : tr("The manifest lists no training record for %s (its \"record\" in weights/manifest.json), so there are no curves to show."),
                        entry->name.c_str());
    } else {
      record_path_ = "weights/" + entry->record;
      const Asset& asset = context.assets.request(record_path_);
      if (asset.state == Asset::State::pending) {
        status_ = Status::loading;
        message_ = format_text(tr("Loading the training record %s ..."), record_path_.c_str());
      } else if (asset.state == Asset::State::failed) {
        status_ = Status::failed;
        message_ = format_text(tr("Could not load the training record %s (%s). Check that the site has weights/runs/ (rebuilding copies it) and try again."),
                               record_path_.c_str(), asset.error.c_str());
      } else {
        int index = parsed_index(record_path_);
        if (index < 0) {
          index = int(parsed_.size());
          parsed_.emplace_back();
          LoadedRecord& loaded = parsed_.back();
          loaded.path = record_path_;
          auto read = read_run_record(
              std::string_view(reinterpret_cast<const char*>(asset.bytes.data()), asset.bytes.size()));
          loaded.ok = read.ok();
          if (read.ok())
            loaded.record = std::move(read.value());
          else
            loaded.error = read.error().to_string();
        }
        const LoadedRecord& found = parsed_[std::size_t(index)];
        status_ = found.ok ? Status::loaded : Status::failed;
        message_ = found.ok ? std::string()
                            : format_text(tr("%s is not a training record this app can read (%s). Rebuild the site from the repository's weights/."),
                                          record_path_.c_str(), found.error.c_str());
      }
    }

    if (sweeps_.size() != sweep_count) {
      sweeps_.clear();
      sweeps_.resize(sweep_count);
    }
    for (std::size_t i = 0; i < sweep_count; ++i) {
      LoadedSweep& sweep = sweeps_[i];
      sweep.path = "weights/" + context.catalog.sweeps()[i].file;
      if (sweep.ok || sweep.failed) continue;
      const Asset& asset = context.assets.request(sweep.path);
      if (asset.state == Asset::State::failed) {
        sweep.failed = true;
        sweep.error = asset.error;
      } else if (asset.state == Asset::State::ready) {
        auto read = read_sweep(std::string_view(reinterpret_cast<const char*>(asset.bytes.data()), asset.bytes.size()));
        sweep.ok = read.ok();
        sweep.failed = !read.ok();
        if (read.ok())
          sweep.table = std::move(read.value());
        else
          sweep.error = read.error().to_string();
        if (int(i) == selected_) resort();
      }
    }
    revision_ = context.assets.revision();  // after the requests above (a request may answer at once)
  }

  const LoadedSweep* selected_sweep() const {
    if (selected_ < 0 || selected_ >= int(sweeps_.size()) || !sweeps_[std::size_t(selected_)].ok) return nullptr;
    return &sweeps_[std::size_t(selected_)];
  }

  void resort() {
    const LoadedSweep* sweep = selected_sweep();
    order_ = sweep ? sorted_sweep_rows(sweep->table, sort_column_, sort_descending_) : std::vector<int>();
  }

  const RunRecord* loaded_record() const {
    if (status_ != Status::loaded) return nullptr;
    const int index = parsed_index(record_path_);
    return index >= 0 && parsed_[std::size_t(index)].ok ? &parsed_[std::size_t(index)].record : nullptr;
  }

  int parsed_index(const std::string& path) const {
    for (std::size_t i = 0; i < parsed_.size(); ++i)
      if (!path.empty() && parsed_[i].path == path) return int(i);
    return -1;
  }

  void draw_record(const RunRecord& record, float scale) {
    ImGui::Text(tr("%s: how it was trained"), model_name_.c_str());
    ImGui::TextWrapped(tr("Recipe: %s"), record.recipe.c_str());
    // One sentence from parts (each translated as a clause that follows the one before).
    std::string summary = format_text(tr("%d epochs"), int(record.epochs.size()));
    if (record.steps_per_epoch > 0)
      summary += format_text(tr(" of %s steps (batch %d, %s training images)"), with_commas(record.steps_per_epoch).c_str(),
                             record.batch_size, with_commas(record.train_images).c_str());
    summary += format_text(tr(", %.1f s per epoch, %.0f s in all"), record.seconds_per_epoch, record.total_seconds);
    if (record.threads > 0)
      summary += format_text(record.threads == 1 ? tr(" on %d CPU thread") : tr(" on %d CPU threads"), record.threads);
    if (!record.libtorch.empty()) summary += format_text(tr(" (LibTorch %s, %s)"), record.libtorch.c_str(), record.device.c_str());
    ImGui::TextWrapped(tr("%s."), summary.c_str());
    summary = format_text(tr("Final test accuracy: %.2f %%"), 100.0 * record.test_accuracy);
    if (record.test_count > 0)
      summary += format_text(tr(" (%s of %s test images)"), with_commas(record.test_correct).c_str(),
                             with_commas(record.test_count).c_str());
    ImGui::TextWrapped(tr("%s."), summary.c_str());
    ImGui::Spacing();

    // Three charts side by side when there is room, else the loss on its own line and the other two below.
    const float width = ImGui::GetContentRegionAvail().x;
    const float gap = ImGui::GetStyle().ItemSpacing.x * 2.f;
    const bool one_row = width >= 660.f * scale;
    const float chart_width = one_row ? (width - 2.f * gap) / 3.f : std::max(120.f, (width - gap) / 2.f);
    const float chart_height = std::clamp(ImGui::GetContentRegionAvail().y * 0.36f, 130.f * scale, 210.f * scale);
    draw_loss_chart(record, ImVec2(one_row ? chart_width : width, chart_height));
    if (one_row) ImGui::SameLine(0, gap);
    draw_accuracy_chart(record, ImVec2(chart_width, chart_height));
    ImGui::SameLine(0, gap);
    draw_rate_chart(record, ImVec2(chart_width, chart_height));
  }

  void draw_loss_chart(const RunRecord& record, ImVec2 size) {
    ImGui::BeginGroup();
    const double epochs = double(record.epochs.size());
    float y_max = 0.f;
    std::vector<ImVec2> raw, mean;
    for (const LossPoint& point : record.losses) {
      raw.emplace_back(point.epoch_position, point.loss);
      mean.emplace_back(point.epoch_position, point.mean_loss);
      y_max = std::max({y_max, point.loss, point.mean_loss});
    }
    const Chart chart = begin_chart("##loss", size, tr("Training loss"), tr("loss"), tr("epoch"), 0.0, epochs, 0.0,
                                    y_max > 0.f ? double(y_max) * 1.05 : 1.0);
    polyline(chart, raw, kRawLossColor, 1.f);
    polyline(chart, mean, kLossColor, 2.5f);
    const int hovered = hovered_point(chart, mean);
    if (hovered >= 0) {
      const LossPoint& point = record.losses[std::size_t(hovered)];
      ImGui::SetTooltip(tr("epoch %.2f\nbatch loss %.4f\nmean of the last 100 steps %.4f"), point.epoch_position,
                        point.loss, point.mean_loss);
    }
    if (record.losses.empty()) ImGui::TextDisabled("%s", tr("This record has no loss points."));
    legend(kLossColor, tr("mean of 100 steps"));
    ImGui::SameLine();
    legend(kRawLossColor, tr("one batch"));
    ImGui::EndGroup();
  }

  void draw_accuracy_chart(const RunRecord& record, ImVec2 size) {
    ImGui::BeginGroup();
    std::vector<ImVec2> points;
    float low = 1.f;
    for (const EpochPoint& epoch : record.epochs) {
      if (epoch.test_accuracy < 0.f) continue;
      points.emplace_back(float(epoch.epoch), epoch.test_accuracy);
      low = std::min(low, epoch.test_accuracy);
    }
    // From a whole percent below the worst epoch to 100 %: the differences that matter stay visible.
    const double y_min = std::max(0.0, std::floor(double(low) * 100.0 - 0.5) / 100.0);
    const Chart chart = begin_chart("##accuracy", size, tr("Test accuracy"), "%", tr("epoch"), 0.5,
                                    double(record.epochs.size()) + 0.5, y_min, 1.0, true);
    polyline(chart, points, kAccuracyColor, 2.f);
    markers(chart, points, kAccuracyColor, 3.5f);
    const int hovered = hovered_point(chart, points);
    if (hovered >= 0) ImGui::SetTooltip(tr("epoch %.0f: %.2f %%"), points[std::size_t(hovered)].x, 100.0 * points[std::size_t(hovered)].y);
    legend(kAccuracyColor, tr("after each epoch"));
    ImGui::EndGroup();
  }

  void draw_rate_chart(const RunRecord& record, ImVec2 size) {
    ImGui::BeginGroup();
    // Each epoch trains at one rate: a step from (epoch - 1) to epoch.
    std::vector<ImVec2> steps, centres;
    float high = 0.f;
    for (const EpochPoint& epoch : record.epochs) {
      steps.emplace_back(float(epoch.epoch - 1), epoch.learning_rate);
      steps.emplace_back(float(epoch.epoch), epoch.learning_rate);
      centres.emplace_back(float(epoch.epoch) - 0.5f, epoch.learning_rate);
      high = std::max(high, epoch.learning_rate);
    }
    const std::string title = format_text(tr("Learning rate (%s)"), record.scheduler.empty() ? "?" : record.scheduler.c_str());
    const Chart chart = begin_chart("##rate", size, title.c_str(), "lr", tr("epoch"), 0.0, double(record.epochs.size()), 0.0,
                                    high > 0.f ? double(high) * 1.1 : 1.0);
    polyline(chart, steps, kRateColor, 2.f);
    const int hovered = hovered_point(chart, centres);
    if (hovered >= 0) ImGui::SetTooltip(tr("epoch %d: lr %.5g"), record.epochs[std::size_t(hovered)].epoch,
                                        double(record.epochs[std::size_t(hovered)].learning_rate));
    legend(kRateColor, tr("rate during each epoch"));
    ImGui::EndGroup();
  }

  // ---- the sweep table ----------------------------------------------------------------------------------------

  void draw_sweeps(PanelContext& context, float scale) {
    header_boxes_.clear();
    if (sweeps_.empty() || selected_ >= int(sweeps_.size())) return;
    ImGui::Separator();
    const std::vector<SweepEntry>& entries = context.catalog.sweeps();
    if (sweeps_.size() > 1) {
      ImGui::SetNextItemWidth(260.f * scale);
      if (ImGui::BeginCombo(widgets::labelled(tr("Sweep"), "sweep").c_str(), entries[std::size_t(selected_)].name.c_str())) {
        for (std::size_t i = 0; i < entries.size(); ++i)
          if (ImGui::Selectable(entries[i].name.c_str(), int(i) == selected_)) {
            selected_ = int(i);
            resort();
          }
        ImGui::EndCombo();
      }
    }
    const LoadedSweep& sweep = sweeps_[std::size_t(selected_)];
    const SweepEntry& entry = entries[std::size_t(selected_)];
    if (!sweep.ok) {
      if (sweep.failed)
        ImGui::TextWrapped(tr("Could not read the sweep %s (%s). Rebuild the site from the repository's weights/."),
                           sweep.path.c_str(), sweep.error.c_str());
      else
        ImGui::TextWrapped(tr("Loading the sweep %s ..."), sweep.path.c_str());
      return;
    }
    const SweepTable& table = sweep.table;
    ImGui::TextWrapped(tr("Sweep %s: %s"), entry.name.c_str(), !entry.about.empty() ? entry.about.c_str() : table.about.c_str());
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    // The plurals ("1 epoch", "2 epochs") as whole sentences: a translation has its own words for them.
    const char* about = table.epochs == 1 ? (table.threads == 1 ? tr("%d runs of %s on %s, %d epoch each, %s training images, seed %d, %d CPU thread. Click a column to sort. Command: %s")
                                                                : tr("%d runs of %s on %s, %d epoch each, %s training images, seed %d, %d CPU threads. Click a column to sort. Command: %s"))
                                          : (table.threads == 1 ? tr("%d runs of %s on %s, %d epochs each, %s training images, seed %d, %d CPU thread. Click a column to sort. Command: %s")
                                                                : tr("%d runs of %s on %s, %d epochs each, %s training images, seed %d, %d CPU threads. Click a column to sort. Command: %s"));
    ImGui::TextWrapped(about, int(table.runs.size()), table.model.c_str(), table.dataset.c_str(), table.epochs,
                       with_commas(table.train_images).c_str(), table.seed, table.threads, table.command.c_str());
    ImGui::PopStyleColor();
    draw_sweep_table(table, scale);
  }

  void draw_sweep_table(const SweepTable& table, float scale) {
    // Column widths from the widest text each can hold.
    const float pad = 12.f * scale;
    float widths[kSweepColumnCount];
    const char* samples[kSweepColumnCount] = {"run 00 *", "optimizer", "0.0001", "batch", "step:1:0.5", "test acc %",
                                              "train loss", "s/epoch"};
    // The column headers as shown (sweep_column_name() is the state's identifier, in English).
    const char* headers[kSweepColumnCount] = {tr("run"), tr("optimizer"), "lr", tr("batch"), tr("scheduler"),
                                              tr("test acc %"), tr("train loss"), tr("s/epoch")};
    for (int c = 0; c < kSweepColumnCount; ++c)
      widths[c] = std::max(ImGui::CalcTextSize(samples[c]).x, ImGui::CalcTextSize(headers[c]).x) +
                  ImGui::CalcTextSize(" v").x + pad;
    const float bar_width = 140.f * scale;
    float total = bar_width;
    for (float w : widths) total += w;

    const float row_height = ImGui::GetTextLineHeightWithSpacing();
    const float height = std::max(ImGui::GetContentRegionAvail().y, row_height * 6.f);
    ImGui::BeginChild("##sweep-table", ImVec2(0, height), false, ImGuiWindowFlags_HorizontalScrollbar);
    ImDrawList* draw = ImGui::GetWindowDrawList();
    const ImVec2 origin = ImGui::GetCursorScreenPos();

    // The header: one selectable per column; clicking sorts (again: reverses).
    float x = origin.x;
    for (int c = 0; c < kSweepColumnCount; ++c) {
      const SweepColumn column = SweepColumn(c);
      std::string label = headers[c];
      if (column == sort_column_) label += sort_descending_ ? " v" : " ^";
      label += "##sort" + std::to_string(c);
      ImGui::SetCursorScreenPos(ImVec2(x, origin.y));
      if (ImGui::Selectable(label.c_str(), column == sort_column_, 0, ImVec2(widths[c] - 4.f * scale, 0))) {
        if (column == sort_column_) {
          sort_descending_ = !sort_descending_;
        } else {
          sort_column_ = column;
          // Higher accuracy first; everything else smallest first.
          sort_descending_ = column == SweepColumn::test_accuracy;
        }
        resort();
      }
      header_boxes_.push_back(widgets::item_rect());
      x += widths[c];
    }
    ImGui::SetCursorScreenPos(ImVec2(x, origin.y));
    ImGui::TextDisabled("%s", tr("test accuracy"));
    const float header_bottom = origin.y + row_height;
    draw->AddLine(ImVec2(origin.x, header_bottom - 1.f), ImVec2(origin.x + total, header_bottom - 1.f),
                  style_color(ImGuiCol_Separator));

    const ImU32 best_fill = style_color(ImGuiCol_PlotHistogram, 0.28f);
    for (std::size_t r = 0; r < order_.size(); ++r) {
      const int index = order_[r];
      const SweepRun& run = table.runs[std::size_t(index)];
      const float y = header_bottom + float(r) * row_height;
      const bool best = index == table.best;
      if (best) draw->AddRectFilled(ImVec2(origin.x, y), ImVec2(origin.x + total, y + row_height), best_fill);
      char cells[kSweepColumnCount][32];
      std::snprintf(cells[0], 32, best ? "%d *" : "%d", run.run);
      std::snprintf(cells[1], 32, "%s", run.optimizer.c_str());
      std::snprintf(cells[2], 32, "%g", run.learning_rate);
      std::snprintf(cells[3], 32, "%d", run.batch_size);
      std::snprintf(cells[4], 32, "%s", run.scheduler.c_str());
      std::snprintf(cells[5], 32, "%.2f", 100.0 * run.test_accuracy);
      std::snprintf(cells[6], 32, "%.4f", run.train_loss);
      std::snprintf(cells[7], 32, "%.2f", run.seconds_per_epoch);
      float cell_x = origin.x;
      for (int c = 0; c < kSweepColumnCount; ++c) {
        ImGui::SetCursorScreenPos(ImVec2(cell_x + ImGui::GetStyle().FramePadding.x, y));
        ImGui::TextUnformatted(cells[c]);
        cell_x += widths[c];
      }
      // Accuracy as a bar from 0 to 100 %.
      const float bar = float(std::clamp(run.test_accuracy, 0.0, 1.0)) * (bar_width - 8.f * scale);
      draw->AddRectFilled(ImVec2(cell_x, y + row_height * 0.2f), ImVec2(cell_x + bar, y + row_height * 0.8f),
                          best ? kAccuracyColor : style_color(ImGuiCol_PlotLines, 0.8f));
    }
    ImGui::SetCursorScreenPos(ImVec2(origin.x, header_bottom + float(order_.size()) * row_height));
    ImGui::Dummy(ImVec2(total, 1.f));
    if (table.best >= 0)
      ImGui::TextDisabled(tr("* the best run: %.2f %% test accuracy."), 100.0 * table.runs[std::size_t(table.best)].test_accuracy);
    ImGui::EndChild();
  }

  // What the record part shows.
  Status status_ = Status::none;
  std::string model_name_, record_path_, message_ = tr("Starting ...");
  std::vector<LoadedRecord> parsed_;  // one per asset path: switching back to a model reads nothing again

  std::vector<LoadedSweep> sweeps_;  // parallel to catalog.sweeps()
  int selected_ = 0;
  SweepColumn sort_column_ = SweepColumn::test_accuracy;
  bool sort_descending_ = true;
  std::vector<int> order_;        // the selected sweep's rows in display order
  std::vector<Rect> header_boxes_;  // last frame's column headers, display units (for tests and the page)

  bool key_valid_ = false;
  std::uint64_t generation_ = 0, revision_ = 0;
};

}  // namespace

std::unique_ptr<TeachingPanel> make_training_panel() { return std::make_unique<Panel>(); }

}  // namespace digitlab::app
