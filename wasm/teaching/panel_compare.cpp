// The "compare" teaching panel (panels.hpp): the current drawing read by every loaded model side by side
// (name, dataset, dtype, answer, probability, the ten probabilities, time), whether models of a dataset
// agree, and why Fashion-MNIST models answer with clothes. Other models load on a button press.
// Read next: common/model_catalog.hpp (loaded models), tests/app/test_panel_compare.cpp.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "common/i18n.hpp"
#include "digitlab/text.hpp"
#include "imgui.h"
#include "teaching/teaching_panel.hpp"
#include "teaching/widgets.hpp"

namespace digitlab::app {

namespace {

// While a stroke is being drawn, read again at most this often (a finished stroke is read at once).
constexpr double kReadEverySeconds = 0.15;
// Forward passes per frame stop once this much time went (the rest follow in the next frames).
constexpr double kFrameBudgetMs = 8.0;

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

const char* short_dataset(const std::string& dataset) {
  if (dataset == "mnist") return "MNIST";
  if (dataset == "fashion-mnist") return "Fashion";
  return dataset.c_str();
}

const char* short_dtype(const std::string& dtype) {
  if (dtype == "float32") return "f32";
  if (dtype == "float16") return "f16";
  return dtype.c_str();
}

// One loaded model's reading of the drawing.
struct Row {
  int index = -1;  // catalog entry
  // Valid while the entry's load_serial() is what the rows were made from (restart_if_needed remakes them).
  const LoadedWeights* weights = nullptr;
  std::string name, dataset, architecture, dtype;
  bool done = false;
  std::string error;  // the core refused (not a 28x28 model): one sentence
  int label = -1;
  std::string class_name;
  std::vector<float> probabilities;
  double ms = 0;         // preprocessing + forward pass
  bool agrees = true;    // with the most common answer among its dataset's models
};

class ComparePanel final : public TeachingPanel {
 public:
  void draw(PanelContext& context) override;
  void write_state(JsonWriter& json) const override;

 private:
  void restart_if_needed(PanelContext& context);
  void compute_some(PanelContext& context);
  void mark_agreement();
  void draw_loading(PanelContext& context);
  void draw_summary(PanelContext& context);
  void draw_table(PanelContext& context);

  // What the rows were made from: the drawing and which models were loaded (load_serial per entry).
  std::uint64_t revision_ = ~0ull;
  std::vector<std::uint64_t> loaded_;
  double started_ = -1.0;
  bool empty_ = true;
  std::vector<Row> rows_;

  bool requested_ = false;            // "Load all models" was pressed
  std::uint64_t bytes_to_load_ = 0;   // shipped models not loaded yet
  int shipped_ = 0, loading_ = 0;
  Rect load_button_;                     // display units, for the browser test; width 0 when hidden
  std::vector<std::string> summary_;      // per dataset: do its models agree
};

void ComparePanel::restart_if_needed(PanelContext& context) {
  const ModelCatalog& catalog = context.catalog;
  std::vector<std::uint64_t> loaded(catalog.entries().size());
  for (std::size_t i = 0; i < loaded.size(); ++i) loaded[i] = catalog.load_serial(int(i));
  const bool models_changed = loaded != loaded_;
  if (!models_changed && revision_ == context.drawing.revision()) return;
  if (!models_changed && context.drawing.stroke_in_progress() && started_ >= 0 &&
      context.now - started_ < kReadEverySeconds)
    return;
  loaded_ = std::move(loaded);
  revision_ = context.drawing.revision();
  started_ = context.now;
  empty_ = context.drawing.empty();
  rows_.clear();
  for (std::size_t i = 0; i < loaded_.size(); ++i) {
    if (!loaded_[i]) continue;
    Row row;
    row.index = int(i);
    row.weights = catalog.loaded(int(i));
    row.name = catalog.entries()[i].name;
    row.dataset = row.weights->model.card.dataset;
    row.architecture = row.weights->model.card.architecture;
    row.dtype = catalog.entries()[i].dtype;
    row.done = empty_;
    rows_.push_back(std::move(row));
  }
  summary_.clear();
}

void ComparePanel::compute_some(PanelContext& context) {
  const auto frame_start = std::chrono::steady_clock::now();
  bool computed = false;
  for (Row& row : rows_) {
    if (row.done) continue;
    if (milliseconds_since(frame_start) > kFrameBudgetMs) return;  // the rest next frame
    const auto start = std::chrono::steady_clock::now();
    const Model& model = row.weights->model;
    auto input = preprocess_canvas(context.drawing.canvas(), model.card);
    if (!input.ok()) {
      row.error = input.error().message;
    } else {
      auto prediction = forward(model, input.value().input.data(), input.value().input.size());
      if (!prediction.ok()) {
        row.error = prediction.error().message;
      } else {
        row.label = prediction.value().label;
        row.probabilities = std::move(prediction.value().probabilities);
        const std::size_t label = std::size_t(row.label);
        row.class_name = label < model.card.class_names.size() ? model.card.class_names[label] : std::to_string(row.label);
      }
    }
    row.ms = milliseconds_since(start);
    row.done = true;
    computed = true;
  }
  if (computed || summary_.empty()) mark_agreement();
}

// Within each dataset, the most common answer; a row agrees when it gives it. One summary line each.
void ComparePanel::mark_agreement() {
  summary_.clear();
  std::vector<std::string> datasets;
  for (const Row& row : rows_) {
    const std::string& dataset = row.dataset;
    if (std::find(datasets.begin(), datasets.end(), dataset) == datasets.end()) datasets.push_back(dataset);
  }
  for (const std::string& dataset : datasets) {
    std::vector<Row*> group;
    for (Row& row : rows_)
      if (row.dataset == dataset && row.done && row.label >= 0) group.push_back(&row);
    if (group.empty()) continue;
    const Row* majority = group.front();
    int majority_count = 0;
    for (const Row* candidate : group) {
      int count = 0;
      for (const Row* other : group) count += other->label == candidate->label;
      if (count > majority_count) majority = candidate, majority_count = count;
    }
    // Without a strict majority (1 against 1) nobody "agrees": picking a side would be arbitrary.
    const bool has_majority = 2 * majority_count > int(group.size());
    for (Row* row : group) row->agrees = has_majority && row->label == majority->label;
    std::string line;
    const char* name = short_dataset(dataset);
    const int count = int(group.size());
    const char* answer = tr(majority->class_name);
    if (group.size() == 1) {
      line = format_text(tr("The one %s model says %s."), name, answer);
    } else if (majority_count == count) {
      line = format_text(tr("All %d %s models agree: %s."), count, name, answer);
    } else if (has_majority) {
      line = format_text(tr("The %s models disagree: %d of %d say %s."), name, majority_count, count, answer);
    } else {
      std::string answers;
      for (std::size_t i = 0; i < group.size(); ++i) answers += (i ? ", " : "") + std::string(tr(group[i]->class_name));
      line = format_text(tr("The %d %s models disagree: %s."), count, name, answers.c_str());
    }
    summary_.push_back(line);
  }
}

void ComparePanel::draw_loading(PanelContext& context) {
  const std::vector<ModelEntry>& entries = context.catalog.entries();
  shipped_ = 0;
  loading_ = 0;
  bytes_to_load_ = 0;
  int loaded = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const bool is_loaded = context.catalog.is_loaded(int(i));
    loaded += is_loaded;
    if (entries[i].user_file) continue;
    ++shipped_;
    if (!is_loaded) bytes_to_load_ += entries[i].bytes, loading_ += requested_;
  }
  load_button_.width = 0.f;
  ImGui::Text(tr("%d of %d models loaded."), loaded, int(entries.size()));
  if (bytes_to_load_ == 0 && loading_ == 0) return;
  ImGui::SameLine();
  const std::string label = format_text(requested_ ? tr("Loading... (%s)") : tr("Load all models (%s)"),
                                        format_bytes(bytes_to_load_).c_str());
  const ImVec2 at = ImGui::GetCursorScreenPos();
  if (ImGui::Button(label.c_str())) {
    requested_ = true;  // pressing again retries models whose download failed
    loading_ = 0;
    for (std::size_t i = 0; i < entries.size(); ++i)
      if (!entries[i].user_file && !context.catalog.is_loaded(int(i))) context.preload_model(int(i)), ++loading_;
  }
  const ImVec2 size = ImGui::GetItemRectSize();
  load_button_ = {at.x, at.y, size.x, size.y};
  if (!requested_)
    ImGui::TextDisabled("%s", tr("Models load on request: all of them together are a large download for a phone."));
}

void ComparePanel::draw_summary(PanelContext& context) {
  if (empty_) {
    ImGui::TextWrapped("%s", tr("Draw a digit to see how every model reads it."));
    return;
  }
  for (const std::string& line : summary_) ImGui::TextWrapped("%s", line.c_str());
  bool fashion = false;
  for (const Row& row : rows_) fashion = fashion || row.dataset == "fashion-mnist";
  if (fashion)
    ImGui::TextWrapped("%s", tr("Fashion-MNIST models only know ten kinds of clothes, so they read any digit as a garment: a model can only answer with the classes it was trained on."));
  (void)context;
}

void ComparePanel::draw_table(PanelContext& context) {
  const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingFixedFit |
                                ImGuiTableFlags_PadOuterX;
  const float scale = context.ui_scale;
  if (!ImGui::BeginTable("models", 8, flags)) return;
  ImGui::TableSetupColumn(tr("Model"));
  ImGui::TableSetupColumn(tr("Data"));
  ImGui::TableSetupColumn(tr("Type"));
  ImGui::TableSetupColumn(tr("Answer"));
  ImGui::TableSetupColumn("p");
  ImGui::TableSetupColumn("0 .. 9");
  ImGui::TableSetupColumn("ms");
  ImGui::TableSetupColumn(tr("Agrees"));
  ImGui::TableHeadersRow();
  const float bar_width = std::floor(4.f * scale), bar_gap = std::max(1.f, std::floor(scale));
  const ImU32 bar_color = ImGui::GetColorU32(ImGuiCol_PlotHistogram, 0.55f);
  const ImU32 top_color = ImGui::GetColorU32(ImGuiCol_PlotHistogram);
  const ImU32 base_color = ImGui::GetColorU32(ImGuiCol_TextDisabled);
  for (const Row& row : rows_) {
    ImGui::PushID(row.index);
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    const bool active = row.index == context.catalog.active_index();
    const std::string name = row.name + (active ? " *" : "");
    if (ImGui::Selectable(name.c_str(), active) && !active) context.select_model(row.index);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip(tr("Use %s in the other panels"), row.name.c_str());
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(short_dataset(row.dataset));
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(short_dtype(row.dtype));
    ImGui::TableNextColumn();
    if (!row.error.empty()) {
      ImGui::TextUnformatted(tr("cannot run"));
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", row.error.c_str());
    } else if (empty_ || !row.done) {
      ImGui::TextDisabled(empty_ ? "-" : "...");
    } else {
      ImGui::TextUnformatted(tr(row.class_name));
    }
    const bool has_answer = row.done && row.label >= 0 && row.error.empty() && !empty_;
    ImGui::TableNextColumn();
    if (has_answer) ImGui::Text("%d %%", int(std::lround(row.probabilities[std::size_t(row.label)] * 100.f)));
    ImGui::TableNextColumn();
    {
      // The ten probabilities as bars on a baseline, the answer's bar in full colour.
      const int count = int(std::max<std::size_t>(10, row.probabilities.size()));
      const float height = ImGui::GetTextLineHeight();
      const ImVec2 p0 = ImGui::GetCursorScreenPos();
      ImGui::Dummy(ImVec2(float(count) * (bar_width + bar_gap), height));
      ImDrawList* draw_list = ImGui::GetWindowDrawList();
      draw_list->AddLine(ImVec2(p0.x, p0.y + height), ImVec2(p0.x + float(count) * (bar_width + bar_gap), p0.y + height),
                         base_color);
      if (has_answer) {
        for (int c = 0; c < int(row.probabilities.size()); ++c) {
          const float h = std::round(std::clamp(row.probabilities[std::size_t(c)], 0.f, 1.f) * height);
          if (h <= 0.f) continue;
          const float x = p0.x + float(c) * (bar_width + bar_gap);
          draw_list->AddRectFilled(ImVec2(x, p0.y + height - h), ImVec2(x + bar_width, p0.y + height),
                                   c == row.label ? top_color : bar_color);
        }
        if (ImGui::IsItemHovered()) {
          std::string tip;
          const std::vector<std::string>& names = row.weights->model.card.class_names;
          for (std::size_t c = 0; c < row.probabilities.size(); ++c) {
            char line[64];
            std::snprintf(line, sizeof line, "%s%s %.1f %%", c ? "\n" : "",
                          c < names.size() ? tr(names[c]) : std::to_string(c).c_str(),
                          double(row.probabilities[c]) * 100.0);
            tip += line;
          }
          ImGui::SetTooltip("%s", tip.c_str());
        }
      }
    }
    ImGui::TableNextColumn();
    if (has_answer) ImGui::Text("%.1f", row.ms);
    ImGui::TableNextColumn();
    if (has_answer) {
      if (row.agrees) ImGui::TextUnformatted(tr("yes"));
      else ImGui::TextColored(ImGui::GetStyleColorVec4(ImGuiCol_PlotLinesHovered), "%s", tr("no"));
    }
    ImGui::PopID();
  }
  ImGui::EndTable();
}

void ComparePanel::draw(PanelContext& context) {
  restart_if_needed(context);
  compute_some(context);
  const ImGuiStyle& style = ImGui::GetStyle();

  // Alone, the panel brings its own drawing area; the explanation and the summary sit beside it.
  const bool own_canvas = !context.draw_panel_shown;
  if (own_canvas) {
    const ImVec2 available = ImGui::GetContentRegionAvail();
    const float side = std::floor(std::max(100.f * context.ui_scale, std::min(available.x * 0.3f, available.y * 0.4f)));
    context.draw_canvas(side);
    ImGui::SameLine(0.f, style.ItemSpacing.x * 2.f);
    ImGui::BeginGroup();
  }
  ImGui::PushTextWrapPos(0.f);
  ImGui::TextWrapped("%s", tr("Your drawing, read by every loaded model. * marks the model in use; click a name to use it."));
  draw_loading(context);
  draw_summary(context);
  ImGui::PopTextWrapPos();
  if (own_canvas) ImGui::EndGroup();
  ImGui::Spacing();
  draw_table(context);
  ImGui::PushTextWrapPos(0.f);
  ImGui::TextDisabled("%s", tr("Agrees: gives the answer most models of its dataset give. ms: preprocessing + forward pass on this device. Hover the bars for all ten probabilities."));
  ImGui::PopTextWrapPos();
}

void ComparePanel::write_state(JsonWriter& json) const {
  int pending = 0;
  for (const Row& row : rows_) pending += !row.done;
  json.begin_object();
  json.key("shipped").integer(shipped_).key("loaded").integer(std::int64_t(rows_.size()));
  json.key("loading").integer(loading_).key("bytes_to_load").integer(std::int64_t(bytes_to_load_));
  json.key("requested").boolean(requested_).key("empty").boolean(empty_).key("pending").integer(pending);
  json.key("load_button");
  if (load_button_.width > 0.f) json.rect(load_button_);
  else json.null();
  json.key("summary").begin_array();
  for (const std::string& line : summary_) json.string(line);
  json.end_array();
  json.key("rows").begin_array();
  for (const Row& row : rows_) {
    const bool has_answer = row.done && row.label >= 0 && !empty_;
    json.begin_object();
    json.key("name").string(row.name).key("dataset").string(row.dataset);
    json.key("architecture").string(row.architecture).key("dtype").string(row.dtype);
    json.key("label").integer(has_answer ? row.label : -1);
    json.key("class").string(has_answer ? row.class_name : "");
    json.key("probability").number(has_answer ? row.probabilities[std::size_t(row.label)] : 0.0);
    json.key("ms").number(has_answer ? row.ms : 0.0);
    json.key("agrees").boolean(has_answer && row.agrees);
    json.key("error").string(row.error);
    json.end_object();
  }
  json.end_array().end_object();
}

}  // namespace

std::unique_ptr<TeachingPanel> make_compare_panel() { return std::make_unique<ComparePanel>(); }

}  // namespace digitlab::app
