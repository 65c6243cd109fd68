// The "your model" widget's buttons (ImGui; its logic and interface: your_model.hpp). Shown by the train
// panel under its results once a run is done. Read next: your_model.cpp.
#include <algorithm>

#include "app/app.hpp"
#include "common/i18n.hpp"
#include "digitlab/crc32.hpp"
#include "digitlab/pytorch.hpp"
#include "digitlab/text.hpp"
#include "digitlab/train.hpp"
#include "imgui.h"
#include "teaching/teaching_panel.hpp"
#include "teaching/widgets.hpp"
#include "teaching/your_model.hpp"

namespace digitlab::app {

// Writes the run's weights file once per run (a new run has other losses), and names the run.
bool YourModelWidget::prepare(const Trainer& trainer, const TrainedRun& run, const ModelCatalog& catalog) {
  if (key_step_ == trainer.global_step() && key_loss_ == trainer.last_loss() && key_mean_loss_ == trainer.epoch_mean_loss())
    return !weights_.empty();
  key_step_ = trainer.global_step(), key_loss_ = trainer.last_loss(), key_mean_loss_ = trainer.epoch_mean_loss();
  weights_.clear();
  problem_.clear();
  saved_.clear();
  const Model model = trainer.model();
  card_ = model.card;
  auto written = your_model_weights(model, run);
  if (!written.ok()) {
    problem_ = written.error().to_string();
    return false;
  }
  weights_ = std::move(written.value());
  const std::uint32_t crc = crc32(ByteSpan(weights_));
  auto same = std::find_if(used_.begin(), used_.end(), [&](const Used& u) { return u.crc == crc; });
  if (same == used_.end()) {  // the same settings again give the same bits: that run keeps its name
    std::vector<std::string> taken;
    for (const Used& u : used_) taken.push_back(u.name);
    used_.push_back({crc, next_your_model_name(catalog, taken)});
    same = used_.end() - 1;
  }
  name_ = same->name;
  return true;
}

void YourModelWidget::save(PanelContext& context, const std::string& file_name, const std::vector<std::uint8_t>& bytes) {
  if (context.app->services().save_file(file_name, ByteSpan(bytes))) {
    saved_.erase(std::remove(saved_.begin(), saved_.end(), file_name), saved_.end());
    saved_.push_back(file_name);
    problem_.clear();
  } else {
    problem_ = format_text(tr("%s could not be saved here."), file_name.c_str());
  }
}

void YourModelWidget::draw(PanelContext& context, const Trainer& trainer, const TrainedRun& run) {
  const bool ready = context.app && prepare(trainer, run, context.catalog);  // no app: nothing to offer
  const int index = ready ? context.catalog.find(name_) : -1;
  in_list_ = index >= 0;
  const bool active = in_list_ && context.catalog.active_index() == index;
  ImGui::Spacing();
  ImGui::BeginDisabled(!ready || active);
  if (ImGui::Button(widgets::labelled(active ? tr("In use for drawing") : tr("Use for drawing"), "use_model").c_str())) {
    if (in_list_) {
      context.select_model(index);
    } else {
      Status added = context.app->open_user_file(name_, ByteSpan(weights_), your_model_label(name_, card_, run));
      if (!added) problem_ = added.error().to_string();
    }
  }
  use_rect_ = widgets::item_rect();
  ImGui::EndDisabled();
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
    ImGui::SetTooltip("%s", tr("Adds it to the model list: every panel then uses it."));
  ImGui::BeginDisabled(!ready);
  ImGui::SameLine();
  if (ImGui::Button(widgets::labelled(tr("Download .dlw"), "download_dlw").c_str())) save(context, name_ + ".dlw", weights_);
  dlw_rect_ = widgets::item_rect();
  ImGui::SameLine();
  if (ImGui::Button(widgets::labelled(tr("Download .pth (PyTorch)"), "download_pth").c_str())) {
    auto exported = pytorch::export_state_dict(trainer.model());
    if (exported.ok()) save(context, name_ + ".pth", exported.value());
    else problem_ = exported.error().to_string();
  }
  pth_rect_ = widgets::item_rect();
  ImGui::EndDisabled();
  const char* python_class = tutorial_class_for(card_);
  if (ready && *python_class) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped(tr("In the tutorial's Python: model = %s(); model.load_state_dict(torch.load('%s.pth')); model.eval()"),
                       python_class, name_.c_str());
    ImGui::PopStyleColor();
  }
  if (!saved_.empty()) {
    std::string files;
    for (const std::string& file : saved_) files += (files.empty() ? "" : ", ") + file;
    ImGui::TextDisabled(tr("Saved: %s"), files.c_str());
  }
  if (!problem_.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, widgets::error_color(context.options.theme));
    ImGui::TextWrapped("%s", problem_.c_str());
    ImGui::PopStyleColor();
  }
}

void YourModelWidget::write_state(JsonWriter& json) const {
  json.begin_object();
  json.key("name").string(name_).key("in_list").boolean(in_list_).key("python_class").string(tutorial_class_for(card_));
  json.key("saved").begin_array();
  for (const std::string& file : saved_) json.string(file);
  json.end_array();
  json.key("problem").string(problem_);
  json.key("use_rect").rect(use_rect_).key("dlw_rect").rect(dlw_rect_).key("pth_rect").rect(pth_rect_);
  json.end_object();
}

}  // namespace digitlab::app
