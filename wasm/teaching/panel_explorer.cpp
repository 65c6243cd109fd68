// The "explorer" teaching panel (panels.hpp): the shipped test subset as a grid of images, each labelled
// "Predicted: X (Label: Y)" by the active model (mistakes framed in red), with a filter for the
// misclassified, an order by confidence (least sure first), pages, and the ten probabilities of the image
// clicked.
// Read next: test_subset.hpp (the evaluation it shares with the confusion panel), panel_confusion.cpp.
//
// Sections: helpers - the panel (controls, grid, pages, the selected image) - its state.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/i18n.hpp"
#include "imgui.h"
#include "teaching/teaching_panel.hpp"
#include "teaching/widgets.hpp"
#include "teaching/test_subset.hpp"

namespace digitlab::app {

namespace {

using widgets::error_color;
using widgets::item_rect;

// A class as shown (translated: the card spells it in English).
const char* class_label(const ModelCard* card, int c) {
  if (card && c >= 0 && std::size_t(c) < card->class_names.size()) return tr(card->class_names[std::size_t(c)]);
  return "?";
}

// Sorts keys in place (a shell sort: a few lines of code in the browser, fast enough for 1,000 images).
void sort_keys(std::vector<std::uint64_t>& keys) {
  for (std::size_t gap = keys.size() / 2; gap > 0; gap = gap == 2 ? 1 : gap * 5 / 11) {
    for (std::size_t i = gap; i < keys.size(); ++i) {
      const std::uint64_t key = keys[i];
      std::size_t j = i;
      for (; j >= gap && keys[j - gap] > key; j -= gap) keys[j] = keys[j - gap];
      keys[j] = key;
    }
  }
}

class ExplorerPanel final : public TeachingPanel {
 public:
  void draw(PanelContext& context) override {
    if (!evaluator_) evaluator_ = shared_subset_evaluator(context.assets);
    const SubsetView view = evaluator_->update(context.catalog, context.assets, std::uint64_t(ImGui::GetFrameCount()));
    remember(view);
    if (!header_.draw(context, *evaluator_, view, "explorer")) return;
    const SubsetEvaluation& evaluation = *view.evaluation;
    const TestSubset& subset = *view.subset;
    if (selected_ >= std::int64_t(evaluation.done)) selected_ = -1;

    draw_controls(evaluation);
    update_shown(subset, evaluation);

    const ImVec2 available = ImGui::GetContentRegionAvail();
    // Beside the grid: the image (84 px) and "Predicted: <the longest class name>" must fit.
    float name_width = 0.f;
    for (int c = 0; c < evaluation.num_classes; ++c)
      name_width = std::max(name_width, ImGui::CalcTextSize(class_label(view.card, c)).x);
    const float detail_width = std::max(230.f * context.ui_scale, 84.f * context.ui_scale + name_width +
                                                                      ImGui::CalcTextSize(tr("Predicted: ")).x + 24.f);
    const bool detail_alongside = available.x >= 600.f * context.ui_scale;
    const float line = ImGui::GetTextLineHeightWithSpacing();
    const float detail_height = selected_ >= 0 && !detail_alongside ? line * 12.f : 0.f;
    const ImVec2 grid_size(detail_alongside ? available.x - detail_width : available.x,
                           std::max(line * 4.f, available.y - detail_height));
    ImGui::BeginGroup();
    draw_grid(context, view, evaluation, grid_size);
    ImGui::EndGroup();
    if (detail_alongside) ImGui::SameLine();
    draw_selected(context, view, evaluation);
  }

  bool busy() const override { return subset_state_.in_progress(); }
  void write_state(JsonWriter& json) const override {
    auto index_or_null = [&json](const char* key, std::int64_t index) {  // null when there is none (-1)
      json.key(key);
      if (index < 0) json.null();
      else json.integer(index);
    };
    json.begin_object();
    subset_state_.write(json);
    json.key("only_misclassified").boolean(only_misclassified_);
    json.key("least_sure_first").boolean(least_sure_first_);
    json.key("shown").integer(std::int64_t(shown_.size()));
    json.key("count_text").string(count_text_);
    json.key("page").integer(page_ + 1);
    json.key("pages").integer(pages_);
    json.key("on_page").integer(on_page_);
    index_or_null("first_on_page", first_on_page_);
    index_or_null("selected_image", selected_);
    index_or_null("selected_label", selected_ >= 0 ? selected_label_ : -1);
    index_or_null("selected_predicted", selected_ >= 0 ? selected_predicted_ : -1);
    json.key("filter_rect").rect(filter_rect_);
    json.key("first_tile_rect").rect(first_tile_rect_);
    json.key("next_page_rect").rect(next_page_rect_);
    json.key("dataset_rect").rect(header_.picker_rect);
    json.end_object();
  }

 private:
  // What write_state() reports, copied each frame (the view's pointers do not outlive the frame).
  void remember(const SubsetView& view) {
    subset_state_.remember(view);
    if (!view.evaluation || view.evaluation->done == 0) {
      shown_.clear();
      shown_key_ = {};
      count_text_.clear();
      pages_ = on_page_ = 0;
      first_on_page_ = -1;
      filter_rect_ = first_tile_rect_ = next_page_rect_ = Rect{};
    }
  }

  // ---- controls: the filter, the order, the count -------------------------------------------------------

  void draw_controls(const SubsetEvaluation& evaluation) {
    if (ImGui::Checkbox(widgets::labelled(tr("Only misclassified"), "only_misclassified").c_str(), &only_misclassified_)) page_ = 0;
    filter_rect_ = item_rect();
    ImGui::SameLine();
    if (ImGui::Checkbox(widgets::labelled(tr("Least sure first"), "least_sure_first").c_str(), &least_sure_first_)) page_ = 0;
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", tr("Orders the images by the model's top probability, lowest first."));
    count_text_ = format_text(tr("%s of %s misclassified"), with_thousands(evaluation.misclassified()).c_str(),
                              with_thousands(evaluation.done).c_str());
    const float gap = 3.f * ImGui::GetStyle().ItemSpacing.x;
    if (ImGui::GetContentRegionAvail().x - ImGui::GetItemRectMax().x + ImGui::GetCursorScreenPos().x >
        gap + ImGui::CalcTextSize(count_text_.c_str()).x)
      ImGui::SameLine(0.f, gap);  // on the checkboxes' line when it fits
    ImGui::TextUnformatted(count_text_.c_str());
  }

  // The images the grid shows, in order: redone only when the results, the filter or the order moved.
  void update_shown(const TestSubset& subset, const SubsetEvaluation& evaluation) {
    const ShownKey key{&evaluation, evaluation.done, only_misclassified_, least_sure_first_};
    if (key == shown_key_) return;
    shown_key_ = key;
    shown_.clear();
    for (std::uint32_t i = 0; i < evaluation.done; ++i)
      if (!only_misclassified_ || evaluation.predicted[i] != subset.labels.labels[i]) shown_.push_back(i);
    if (least_sure_first_) {
      // The top probability's bits order like the number (it is >= 0), the index breaks ties.
      std::vector<std::uint64_t> keys(shown_.size());
      for (std::size_t k = 0; k < shown_.size(); ++k) {
        const float confidence = evaluation.confidence(shown_[k]);
        std::uint32_t bits;
        std::memcpy(&bits, &confidence, sizeof bits);
        keys[k] = (std::uint64_t(bits) << 32) | shown_[k];
      }
      sort_keys(keys);
      for (std::size_t k = 0; k < keys.size(); ++k) shown_[k] = std::uint32_t(keys[k]);
    }
  }

  // ---- the grid and its pages ------------------------------------------------------------------------------

  void draw_grid(PanelContext& context, const SubsetView& view, const SubsetEvaluation& evaluation, ImVec2 size) {
    const ImGuiStyle& style = ImGui::GetStyle();
    const TestSubset& subset = *view.subset;
    const float line = ImGui::GetTextLineHeight();
    const float pager_height = ImGui::GetFrameHeightWithSpacing();
    // A tile: the image, then "Predicted: X" and "(Label: Y)" under it, as wide as the longest such line.
    float text_width = 0.f;
    char said[64], truth[64];
    for (int c = 0; c < evaluation.num_classes; ++c) {
      std::snprintf(said, sizeof said, tr("Predicted: %s"), class_label(view.card, c));
      text_width = std::max(text_width, ImGui::CalcTextSize(said).x);
    }
    const float pixel = std::floor(std::clamp(std::min(size.x / 6.f, size.y / 3.f) / 40.f, 2.f, 3.f) *
                                   context.ui_scale);
    const float image_side = 28.f * pixel;
    const float pad = 4.f * context.ui_scale;
    const ImVec2 tile(std::max(image_side, text_width) + 2.f * pad, image_side + 2.f * line + 3.f * pad);
    const float gap = style.ItemSpacing.x;
    const int columns = std::max(1, int((size.x + gap) / (tile.x + gap)));
    const int rows = std::max(1, int((size.y - pager_height + gap) / (tile.y + gap)));
    const int per_page = columns * rows;
    pages_ = int((shown_.size() + std::size_t(per_page) - 1) / std::size_t(per_page));
    page_ = std::clamp(page_, 0, std::max(0, pages_ - 1));
    const std::size_t first = std::size_t(page_) * std::size_t(per_page);
    on_page_ = int(std::min<std::size_t>(std::size_t(per_page), shown_.size() - std::min(first, shown_.size())));
    first_on_page_ = on_page_ ? std::int64_t(shown_[first]) : -1;

    if (shown_.empty()) {
      ImGui::TextWrapped("%s", only_misclassified_ ? tr("No mistakes among the images classified so far.")
                                                   : tr("No images classified yet."));
      first_tile_rect_ = Rect{};
    }
    ImDrawList* draw_list = ImGui::GetWindowDrawList();
    const ImU32 wrong_color = ImGui::ColorConvertFloat4ToU32(error_color(context.options.theme));
    const ImU32 text_color = ImGui::GetColorU32(ImGuiCol_Text);
    const ImU32 selected_color = ImGui::GetColorU32(ImGuiCol_ButtonActive);
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    for (int k = 0; k < on_page_; ++k) {
      const std::uint32_t i = shown_[first + std::size_t(k)];
      const ImVec2 a(origin.x + float(k % columns) * (tile.x + gap), origin.y + float(k / columns) * (tile.y + gap));
      const int label = subset.labels.labels[i], predicted = evaluation.predicted[i];
      const bool wrong = label != predicted;
      ImGui::SetCursorScreenPos(a);
      ImGui::PushID(int(i));
      if (ImGui::InvisibleButton("##tile", tile)) selected_ = std::int64_t(i) == selected_ ? -1 : std::int64_t(i);
      if (k == 0) first_tile_rect_ = item_rect();
      if (ImGui::IsItemHovered())
        ImGui::SetTooltip(tr("test image #%u: %.0f %% sure\nclick for its ten probabilities"), i,
                          double(evaluation.confidence(i)) * 100.0);
      ImGui::PopID();
      const ImVec2 b(a.x + tile.x, a.y + tile.y);
      if (wrong) {
        ImVec4 tint = error_color(context.options.theme);
        tint.w = 0.12f;
        draw_list->AddRectFilled(a, b, ImGui::ColorConvertFloat4ToU32(tint));
      }
      if (std::int64_t(i) == selected_)
        draw_list->AddRect(a, b, selected_color, 0.f, 0, 3.f);
      else if (wrong)
        draw_list->AddRect(a, b, wrong_color, 0.f, 0, 2.f);
      ImGui::SetCursorScreenPos(ImVec2(a.x + (tile.x - image_side) * 0.5f, a.y + pad));
      widgets::gray_image_u8("##image", subset.images.image(i), int(subset.images.cols), int(subset.images.rows),
                             pixel);
      std::snprintf(said, sizeof said, tr("Predicted: %s"), class_label(view.card, predicted));
      std::snprintf(truth, sizeof truth, tr("(Label: %s)"), class_label(view.card, label));
      const float text_y = a.y + 2.f * pad + image_side;
      draw_list->AddText(ImVec2(a.x + (tile.x - ImGui::CalcTextSize(said).x) * 0.5f, text_y),
                         wrong ? wrong_color : text_color, said);
      draw_list->AddText(ImVec2(a.x + (tile.x - ImGui::CalcTextSize(truth).x) * 0.5f, text_y + line), text_color,
                         truth);
    }
    // The pager sits under the grid at a fixed place, so that "Next" does not move while paging.
    const float grid_rows_height = float(rows) * (tile.y + gap);
    ImGui::SetCursorScreenPos(ImVec2(origin.x, origin.y + std::max(0.f, std::min(grid_rows_height, size.y - pager_height))));
    ImGui::BeginDisabled(page_ <= 0);
    if (ImGui::Button(" < ")) --page_;
    ImGui::EndDisabled();
    ImGui::SameLine();
    ImGui::BeginDisabled(page_ + 1 >= pages_);
    if (ImGui::Button(" > ")) ++page_;
    next_page_rect_ = item_rect();
    ImGui::EndDisabled();
    ImGui::SameLine();
    if (on_page_ > 0)
      ImGui::Text(tr("page %d of %d: images %s-%s of %s shown"), page_ + 1, pages_, with_thousands(first + 1).c_str(),
                  with_thousands(first + std::size_t(on_page_)).c_str(), with_thousands(shown_.size()).c_str());
    else
      ImGui::TextDisabled("%s", tr("page 0 of 0"));
  }

  // ---- the selected image: its ten probabilities -------------------------------------------------------------

  void draw_selected(PanelContext& context, const SubsetView& view, const SubsetEvaluation& evaluation) {
    ImGui::BeginGroup();
    if (selected_ < 0) {
      ImGui::TextWrapped("%s", tr("Click an image to see all ten probabilities the model gave it."));
      ImGui::EndGroup();
      return;
    }
    const TestSubset& subset = *view.subset;
    const std::uint32_t i = std::uint32_t(selected_);
    selected_label_ = subset.labels.labels[i];
    selected_predicted_ = evaluation.predicted[i];
    ImGui::Text(tr("Test image #%u"), i);
    widgets::gray_image_u8("##selected", subset.images.image(i), int(subset.images.cols), int(subset.images.rows),
                           3.f * context.ui_scale);
    ImGui::SameLine();
    ImGui::BeginGroup();
    const char* said = class_label(view.card, selected_predicted_);
    if (selected_label_ != selected_predicted_)
      ImGui::TextColored(error_color(context.options.theme), tr("Predicted: %s"), said);
    else
      ImGui::Text(tr("Predicted: %s"), said);
    ImGui::Text(tr("Label: %s"), class_label(view.card, selected_label_));
    ImGui::Text(tr("%.1f %% sure"), double(evaluation.confidence(i)) * 100.0);
    ImGui::EndGroup();

    // Ten bars, like the prediction panel's.
    const float* probabilities = evaluation.probabilities.data() + std::size_t(i) * std::size_t(evaluation.num_classes);
    float label_width = 0.f;
    for (int c = 0; c < evaluation.num_classes; ++c)
      label_width = std::max(label_width, ImGui::CalcTextSize(class_label(view.card, c)).x);
    const ImGuiStyle& style = ImGui::GetStyle();
    const float row = ImGui::GetTextLineHeight() + 3.f;
    const float width = std::max(120.f * context.ui_scale, ImGui::GetContentRegionAvail().x);
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    ImGui::Dummy(ImVec2(width, row * float(evaluation.num_classes)));
    ImDrawList* draw_list = ImGui::GetWindowDrawList();
    const float bar_x = origin.x + label_width + style.ItemSpacing.x;
    const float bar_width = std::max(10.f, origin.x + width - bar_x);
    for (int c = 0; c < evaluation.num_classes; ++c) {
      const float p = std::clamp(probabilities[c], 0.f, 1.f);
      const float y = origin.y + row * float(c);
      const char* name = class_label(view.card, c);
      draw_list->AddText(ImVec2(origin.x + label_width - ImGui::CalcTextSize(name).x, y + 1.f),
                         ImGui::GetColorU32(ImGuiCol_Text), name);
      draw_list->AddRectFilled(ImVec2(bar_x, y + 1.f), ImVec2(bar_x + bar_width, y + row - 1.f),
                               ImGui::GetColorU32(ImGuiCol_FrameBg));
      const ImU32 color = c == selected_predicted_ ? (c == selected_label_ ? ImGui::GetColorU32(ImGuiCol_ButtonActive)
                                                                           : ImGui::ColorConvertFloat4ToU32(
                                                                                 error_color(context.options.theme)))
                                                   : ImGui::GetColorU32(ImGuiCol_PlotHistogram, 0.55f);
      draw_list->AddRectFilled(ImVec2(bar_x, y + 1.f), ImVec2(bar_x + bar_width * p, y + row - 1.f), color);
      char text[16];
      std::snprintf(text, sizeof text, "%.1f %%", double(p) * 100.0);
      draw_list->AddText(ImVec2(bar_x + style.FramePadding.x, y + 1.f), ImGui::GetColorU32(ImGuiCol_Text), text);
    }
    ImGui::EndGroup();
  }

  std::shared_ptr<SubsetEvaluator> evaluator_;
  SubsetHeader header_;
  bool only_misclassified_ = false;
  bool least_sure_first_ = false;
  int page_ = 0;
  std::int64_t selected_ = -1;  // a test image index
  int selected_label_ = -1, selected_predicted_ = -1;

  struct ShownKey {
    const SubsetEvaluation* evaluation = nullptr;
    std::uint32_t done = 0;
    bool only_misclassified = false;
    bool least_sure_first = false;
    bool operator==(const ShownKey& o) const {
      return evaluation == o.evaluation && done == o.done && only_misclassified == o.only_misclassified &&
             least_sure_first == o.least_sure_first;
    }
  };
  ShownKey shown_key_;
  std::vector<std::uint32_t> shown_;  // test image indices, in the grid's order

  // The state, as last drawn.
  SubsetState subset_state_;
  std::string count_text_;
  int pages_ = 0, on_page_ = 0;
  std::int64_t first_on_page_ = -1;
  Rect filter_rect_, first_tile_rect_, next_page_rect_;
};

}  // namespace

std::unique_ptr<TeachingPanel> make_explorer_panel() { return std::make_unique<ExplorerPanel>(); }

}  // namespace digitlab::app
