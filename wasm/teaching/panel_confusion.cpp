// The "confusion" teaching panel (panels.hpp): the active model's normalised confusion matrix over the
// shipped test subset (rows = true class, columns = predicted, each row sums to 1), computed in the page
// a few images per frame; clicking a cell shows its images. Read next: test_subset.hpp (the evaluation it
// shares with the explorer panel), panel_explorer.cpp.
//
// Sections: helpers (colours, vertical text) - the header (dataset, model, progress) - the matrix - the
// selected cell's images - the panel and its state.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/i18n.hpp"
#include "imgui.h"
#include "teaching/teaching_panel.hpp"
#include "teaching/widgets.hpp"
#include "teaching/test_subset.hpp"

namespace digitlab::app {

namespace {

using widgets::error_color;

// As the model card spells it (the state's identifiers), and as shown (translated).
const char* class_name_of(const ModelCard* card, int c) {
  if (card && c >= 0 && std::size_t(c) < card->class_names.size()) return card->class_names[std::size_t(c)].c_str();
  return "?";
}
const char* class_label(const ModelCard* card, int c) { return tr(class_name_of(card, c)); }

// Text read bottom to top, its first letter at `bottom_left`: laid out horizontally at the clip rectangle's
// corner (where ImGui does not cull it), then its vertices turned a quarter turn and moved into place
// (ImGui draws no rotated text itself). The window still clips the result.
void vertical_text(ImDrawList* draw_list, ImVec2 bottom_left, ImU32 color, const char* text) {
  const ImVec2 source = draw_list->GetClipRectMin();
  const int first = draw_list->VtxBuffer.Size;
  draw_list->AddText(source, color, text);
  for (int i = first; i < draw_list->VtxBuffer.Size; ++i) {
    ImVec2& p = draw_list->VtxBuffer[i].pos;
    const float along = p.x - source.x, across = p.y - source.y;
    p = ImVec2(bottom_left.x + across, bottom_left.y - along);
  }
}

}  // namespace

// ---- the header: dataset, model, progress (shared with the explorer) -----------------------------------------

bool SubsetHeader::draw(PanelContext& context, SubsetEvaluator& evaluator, const SubsetView& view, const char* id) {
  ImGui::PushID(id);
  const float scale = context.ui_scale;
  ImGui::SetNextItemWidth(130.f * scale);
  if (ImGui::BeginCombo(widgets::labelled(tr("Dataset"), "dataset").c_str(), view.dataset.empty() ? tr("none") : view.dataset.c_str())) {
    for (const char* name : kSubsetDatasets) {
      if (ImGui::Selectable(name, view.dataset == name) && view.dataset != name) {
        const int best = best_model_for_dataset(context.catalog, name);
        no_model.clear();
        if (best < 0) {
          no_model = format_text(tr("weights/manifest.json lists no %s model: add one (docs/embedding.md) to see %s here."),
                                 name, name);
        } else {
          requested = best;
          context.select_model(best);
        }
      }
    }
    ImGui::EndCombo();
  }
  picker_rect = widgets::item_rect();
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr("Switches to that dataset's most accurate shipped model."));
  if (!view.model_name.empty()) {
    ImGui::SameLine(0.f, 3.f * ImGui::GetStyle().ItemSpacing.x);
    ImGui::Text(tr("Model: %s"), view.model_name.c_str());
  }
  const SubsetEvaluation* evaluation = view.evaluation;
  if (evaluation && evaluation->done > 0) {
    ImGui::Text(evaluation->complete() ? tr("Accuracy on the %s test images: %.1f %% (%s wrong)")
                                       : tr("Accuracy on the first %s test images: %.1f %% (%s wrong)"),
                with_thousands(evaluation->done).c_str(), double(evaluation->accuracy()) * 100.0,
                with_thousands(evaluation->misclassified()).c_str());
  }
  if (requested >= 0 && context.catalog.active_index() != requested && !context.catalog.is_loaded(requested)) {
    ImGui::TextDisabled(tr("Loading %s ..."), context.catalog.entries()[std::size_t(requested)].name.c_str());
  } else {
    requested = -1;
  }
  if (!view.problem.empty() && view.loading) ImGui::TextDisabled("%s", view.problem.c_str());
  if (!no_model.empty() || (!view.problem.empty() && !view.loading)) {
    ImGui::PushStyleColor(ImGuiCol_Text, error_color(context.options.theme));
    if (!no_model.empty()) ImGui::TextWrapped("%s", no_model.c_str());
    if (!view.problem.empty() && !view.loading) {
      ImGui::TextWrapped("%s", view.problem.c_str());
    }
    ImGui::PopStyleColor();
    if (!view.problem.empty() && !view.loading && !view.subset && !view.dataset.empty() &&
        ImGui::Button(widgets::labelled(tr("Try again"), "retry").c_str()))
      evaluator.retry(context.assets, view.dataset);
  }
  ImGui::PopID();
  if (!evaluation || evaluation->done == 0) return false;
  if (!evaluation->finished()) {
    const std::string overlay = format_text(tr("classifying the test images: %s / %s"), with_thousands(evaluation->done).c_str(),
                                            with_thousands(evaluation->total).c_str());
    ImGui::ProgressBar(float(evaluation->done) / float(std::max<std::uint32_t>(evaluation->total, 1)),
                       ImVec2(-1.f, 0.f), overlay.c_str());
  }
  return true;
}

// ---- the state both panels report ------------------------------------------------------------------------------

void SubsetState::remember(const SubsetView& view) {
  dataset = view.dataset;
  model = view.model_name;
  problem = view.problem;
  images_loaded = view.subset ? view.subset->size() : 0;
  const SubsetEvaluation* e = view.evaluation;
  evaluated = e ? e->done : 0;
  total = e ? e->total : 0;
  accuracy = e ? e->accuracy() : 0.f;
  misclassified = e ? e->misclassified() : 0;
  seconds = e ? e->seconds : 0.0;
}

void SubsetState::write(JsonWriter& json) const {
  json.key("dataset").string(dataset).key("model").string(model);
  json.key("images_loaded").integer(images_loaded).key("evaluated").integer(evaluated).key("total").integer(total);
  json.key("accuracy");
  if (evaluated) json.number(accuracy);
  else json.null();
  json.key("misclassified").integer(misclassified).key("evaluation_seconds").number(seconds);
  json.key("problem").string(problem);
}

namespace {

// ---- the panel ------------------------------------------------------------------------------------------------

class ConfusionPanel final : public TeachingPanel {
 public:
  void draw(PanelContext& context) override {
    if (!evaluator_) evaluator_ = shared_subset_evaluator(context.assets);
    const SubsetView view = evaluator_->update(context.catalog, context.assets, std::uint64_t(ImGui::GetFrameCount()));
    remember(view);
    if (!header_.draw(context, *evaluator_, view, "confusion")) return;
    const SubsetEvaluation& evaluation = *view.evaluation;
    if (selected_true_ >= evaluation.num_classes || selected_predicted_ >= evaluation.num_classes)
      selected_true_ = selected_predicted_ = -1;

    const ImVec2 available = ImGui::GetContentRegionAvail();
    const float side_width = 250.f * context.ui_scale;
    const bool images_alongside = available.x >= 560.f * context.ui_scale;
    const float matrix_width = images_alongside ? available.x - side_width : available.x;
    const float matrix_height = images_alongside ? available.y : std::max(120.f, available.y * 0.62f);
    ImGui::BeginGroup();
    draw_matrix(context, view, evaluation, matrix_width, matrix_height);
    ImGui::EndGroup();
    if (images_alongside) ImGui::SameLine();
    draw_cell_images(context, view, evaluation);
  }

  bool busy() const override { return subset_state_.in_progress(); }
  void write_state(JsonWriter& json) const override {
    json.begin_object();
    subset_state_.write(json);
    json.key("class_names").begin_array();
    for (const std::string& name : class_names_) json.string(name);
    json.end_array();
    json.key("confusion").begin_array();
    const std::size_t n = class_names_.size();
    for (std::size_t t = 0; t < n && confusion_.size() == n * n; ++t) {
      json.begin_array();
      for (std::size_t p = 0; p < n; ++p) json.integer(confusion_[t * n + p]);
      json.end_array();
    }
    json.end_array();
    json.key("selected_cell");
    if (selected_true_ >= 0) json.begin_array().integer(selected_true_).integer(selected_predicted_).end_array();
    else json.null();
    json.key("cell_images").integer(std::int64_t(cell_images_));
    json.key("cell_size").number(cell_size_);
    json.key("matrix_rect").rect(matrix_rect_);
    json.key("dataset_rect").rect(header_.picker_rect);
    json.end_object();
  }

 private:
  // What write_state() reports, copied each frame (the view's pointers do not outlive the frame).
  void remember(const SubsetView& view) {
    subset_state_.remember(view);
    const SubsetEvaluation* e = view.evaluation;
    class_names_.clear();
    if (view.card && e)
      for (int c = 0; c < e->num_classes; ++c) class_names_.push_back(class_name_of(view.card, c));
    confusion_ = e ? e->confusion : std::vector<std::uint32_t>();
    if (!e) matrix_rect_.width = matrix_rect_.height = 0.f;
    cell_images_ = 0;
  }

  // ---- the matrix ------------------------------------------------------------------------------------------

  void draw_matrix(PanelContext& context, const SubsetView& view, const SubsetEvaluation& evaluation, float width,
                   float height) {
    const int n = evaluation.num_classes;
    const ImGuiStyle& style = ImGui::GetStyle();
    const float line = ImGui::GetTextLineHeight();
    const float text_top = ImGui::GetCursorPosY();
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + width);
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped("%s", tr("Rows: the true class. Columns: what the model said. Each row adds up to 1."));
    ImGui::PopStyleColor();
    ImGui::PopTextWrapPos();
    height -= ImGui::GetCursorPosY() - text_top;

    float label_width = 0.f;
    for (int c = 0; c < n; ++c)
      label_width = std::max(label_width, ImGui::CalcTextSize(class_label(view.card, c)).x);
    label_width += style.ItemSpacing.x;
    // Column labels go upright when the names are wider than a cell.
    float cell = std::floor(std::min((width - label_width - style.ItemSpacing.x) / float(n),
                                     (height - line - 4.f) / float(n)));
    const bool upright = label_width - style.ItemSpacing.x > cell - 4.f;
    const float header = upright ? label_width : line + 4.f;
    cell = std::floor(std::min((width - label_width - style.ItemSpacing.x) / float(n), (height - header) / float(n)));
    cell = std::clamp(cell, 16.f * context.ui_scale, 56.f * context.ui_scale);
    cell_size_ = cell;

    const ImVec2 origin = ImGui::GetCursorScreenPos();
    const ImVec2 grid(origin.x + label_width, origin.y + header);
    ImDrawList* draw_list = ImGui::GetWindowDrawList();
    const ImU32 text_color = ImGui::GetColorU32(ImGuiCol_Text);
    for (int c = 0; c < n; ++c) {
      const char* name = class_label(view.card, c);
      const ImVec2 size = ImGui::CalcTextSize(name);
      // Row label, right-aligned and centred on its row.
      draw_list->AddText(ImVec2(grid.x - style.ItemSpacing.x - size.x, grid.y + cell * float(c) + (cell - line) * 0.5f),
                         text_color, name);
      const float column_x = grid.x + cell * float(c);
      if (upright)
        vertical_text(draw_list, ImVec2(column_x + (cell - line) * 0.5f, grid.y - 4.f), text_color, name);
      else
        draw_list->AddText(ImVec2(column_x + (cell - size.x) * 0.5f, origin.y), text_color, name);
    }

    ImGui::SetCursorScreenPos(grid);
    ImGui::InvisibleButton("##matrix", ImVec2(cell * float(n), cell * float(n)));
    matrix_rect_ = {grid.x, grid.y, cell * float(n), cell * float(n)};
    int hovered_true = -1, hovered_predicted = -1;
    if (ImGui::IsItemHovered()) {
      const ImVec2 mouse = ImGui::GetIO().MousePos;
      hovered_predicted = std::clamp(int((mouse.x - grid.x) / cell), 0, n - 1);
      hovered_true = std::clamp(int((mouse.y - grid.y) / cell), 0, n - 1);
    }
    if (ImGui::IsItemClicked() && hovered_true >= 0) {
      const bool same = hovered_true == selected_true_ && hovered_predicted == selected_predicted_;
      selected_true_ = same ? -1 : hovered_true;  // a second click on the selected cell clears it
      selected_predicted_ = same ? -1 : hovered_predicted;
    }

    char number[16];
    for (int t = 0; t < n; ++t) {
      for (int p = 0; p < n; ++p) {
        const float value = evaluation.normalized(t, p);
        const ImVec2 a(grid.x + cell * float(p), grid.y + cell * float(t));
        const ImVec2 b(a.x + cell, a.y + cell);
        draw_list->AddRectFilled(a, b, widgets::heat_color(value));
        if (evaluation.count(t, p) == 0) continue;
        if (cell >= 34.f)
          std::snprintf(number, sizeof number, "%.2f", double(value));
        else
          std::snprintf(number, sizeof number, "%.0f", double(value) * 100.0);  // percent when cells are small
        const ImVec2 size = ImGui::CalcTextSize(number);
        draw_list->AddText(ImVec2(a.x + (cell - size.x) * 0.5f, a.y + (cell - size.y) * 0.5f),
                           value > 0.55f ? IM_COL32(0, 0, 0, 255) : IM_COL32(255, 255, 255, 255), number);
      }
    }
    if (selected_true_ >= 0) {
      const ImVec2 a(grid.x + cell * float(selected_predicted_), grid.y + cell * float(selected_true_));
      draw_list->AddRect(a, ImVec2(a.x + cell, a.y + cell), ImGui::GetColorU32(ImGuiCol_Text), 0.f, 0, 2.5f);
    }
    if (hovered_true >= 0) {
      const char* truth = class_label(view.card, hovered_true);
      ImGui::SetTooltip(tr("true %s, predicted %s: %u images (%.1f %% of all true %s)\nclick to see them"), truth,
                        class_label(view.card, hovered_predicted), evaluation.count(hovered_true, hovered_predicted),
                        double(evaluation.normalized(hovered_true, hovered_predicted)) * 100.0, truth);
    }
    if (cell < 34.f) ImGui::TextDisabled("%s", tr("numbers are percent of the row"));
  }

  // ---- the selected cell's images --------------------------------------------------------------------------

  void draw_cell_images(PanelContext& context, const SubsetView& view, const SubsetEvaluation& evaluation) {
    ImGui::BeginGroup();
    if (selected_true_ < 0) {
      ImGui::TextWrapped("%s", tr("Click a cell to see its images: the diagonal holds the right answers, every other cell one kind of mistake."));
      ImGui::EndGroup();
      return;
    }
    const TestSubset& subset = *view.subset;
    cell_indices_.clear();
    for (std::uint32_t i = 0; i < evaluation.done; ++i)
      if (subset.labels.labels[i] == selected_true_ && evaluation.predicted[i] == selected_predicted_)
        cell_indices_.push_back(i);
    cell_images_ = cell_indices_.size();
    const char* said = class_label(view.card, selected_predicted_);
    ImGui::TextWrapped(cell_images_ == 1 ? tr("True %s, predicted %s: %s image") : tr("True %s, predicted %s: %s images"),
                       class_label(view.card, selected_true_), said, with_thousands(cell_images_).c_str());
    const float pixel = 2.f * context.ui_scale;
    const float tile = 28.f * pixel;
    if (ImGui::BeginChild("##cell_images", ImVec2(0.f, 0.f), false)) {
      const float spacing = ImGui::GetStyle().ItemSpacing.x * 0.5f;
      const int columns = std::max(1, int((ImGui::GetContentRegionAvail().x + spacing) / (tile + spacing)));
      ImGuiListClipper clipper;  // only the visible rows are drawn (a diagonal cell holds ~100 images)
      const int rows = int((cell_indices_.size() + std::size_t(columns) - 1) / std::size_t(columns));
      clipper.Begin(rows, tile + ImGui::GetStyle().ItemSpacing.y);
      while (clipper.Step()) {
        for (int row = clipper.DisplayStart; row < clipper.DisplayEnd; ++row) {
          for (int column = 0; column < columns; ++column) {
            const std::size_t k = std::size_t(row) * std::size_t(columns) + std::size_t(column);
            if (k >= cell_indices_.size()) break;
            const std::uint32_t i = cell_indices_[k];
            if (column) ImGui::SameLine(0.f, spacing);
            ImGui::PushID(int(i));
            widgets::gray_image_u8("##image", subset.images.image(i), int(subset.images.cols), int(subset.images.rows),
                                   pixel);
            if (ImGui::IsItemHovered())
              ImGui::SetTooltip(tr("test image #%u: %.0f %% sure it is %s"), i, double(evaluation.confidence(i)) * 100.0,
                                said);
            ImGui::PopID();
          }
        }
      }
    }
    ImGui::EndChild();
    ImGui::EndGroup();
  }

  std::shared_ptr<SubsetEvaluator> evaluator_;
  SubsetHeader header_;
  int selected_true_ = -1, selected_predicted_ = -1;
  std::vector<std::uint32_t> cell_indices_;

  // The state, as last drawn.
  SubsetState subset_state_;
  std::vector<std::string> class_names_;
  std::vector<std::uint32_t> confusion_;
  std::size_t cell_images_ = 0;
  float cell_size_ = 0.f;
  Rect matrix_rect_;
};

}  // namespace

std::unique_ptr<TeachingPanel> make_confusion_panel() { return std::make_unique<ConfusionPanel>(); }

}  // namespace digitlab::app
