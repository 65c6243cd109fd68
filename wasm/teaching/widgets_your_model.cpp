// The "your model" widget's buttons (ImGui; its logic and interface: your_model.hpp), shown by the train
// panel under its results once a run is done; and the same downloads for any active model under the model
// panel (lab build). Read next: your_model.cpp.
#include <algorithm>

#include "app/app.hpp"
#include "common/i18n.hpp"
#include "digitlab/crc32.hpp"
#include "digitlab/pytorch.hpp"
#include "digitlab/text.hpp"
#include "digitlab/architectures.hpp"  // SeededRandom
#include "digitlab/weights.hpp"
#include "imgui.h"
#include "teaching/teaching_panel.hpp"
#include "teaching/widgets.hpp"
#include "teaching/your_model.hpp"

namespace digitlab::app {

// Writes the run's weights file once per run (a new run has other losses), and names the run.
bool YourModelWidget::prepare(const Model& model, std::uint64_t run_serial, const TrainedRun& run,
                              const ModelCatalog& catalog) {
  if (run_serial_ == run_serial) return !weights_.empty();
  run_serial_ = run_serial;
  weights_.clear();
  problem_.clear();
  saved_.clear();
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

void YourModelWidget::draw(PanelContext& context, const Model& model, std::uint64_t run_serial, const TrainedRun& run) {
  const bool ready = context.app && prepare(model, run_serial, run, context.catalog);  // no app: nothing to offer
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
    auto exported = pytorch::export_state_dict(model);
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

namespace {

// Under the model panel (lab build): the active model as a .dlw (at its own dtype, with a self-test) and as
// the tutorial's state_dict; a model of another shape has no Python class, and the panel says so.
class ModelDownloads final : public TeachingPanel {
 public:
  void draw(PanelContext& context) override {
    const ModelEntry* entry = context.catalog.active_entry();
    if (!entry || !context.app) return;
    const Model& model = context.catalog.active().model;
    std::string stem = entry->name;  // "mnist-cnn", or a user's "mine.dlw" without its extension
    if (entry->user_file && stem.rfind('.') != std::string::npos) stem.erase(stem.rfind('.'));
    ImGui::Spacing();
    if (ImGui::Button(widgets::labelled(tr("Download .dlw"), "model_dlw").c_str())) {
      WriteOptions options;
      options.dtype = context.catalog.active().dtype;
      SeededRandom random(20261203);
      const std::int64_t size = model.card.input_channels * model.card.input_height * model.card.input_width;
      for (std::int64_t i = 0; i < size; ++i) options.self_test_input.push_back(random.uniform(-1.f, 1.f));
      auto file = write_weights(model, options);
      finish(context, stem + ".dlw", file);
    }
    dlw_rect_ = widgets::item_rect();
    ImGui::SameLine();
    if (ImGui::Button(widgets::labelled(tr("Download .pth (PyTorch)"), "model_pth").c_str()))
      finish(context, stem + ".pth", pytorch::export_state_dict(model));
    pth_rect_ = widgets::item_rect();
    if (!said_.empty()) ImGui::TextWrapped("%s", said_.c_str());
  }

  void write_state(JsonWriter& json) const override {
    json.begin_object().key("saved").string(saved_).key("said").string(said_);
    json.key("dlw_rect").rect(dlw_rect_).key("pth_rect").rect(pth_rect_).end_object();
  }

 private:
  void finish(PanelContext& context, const std::string& file_name, const Result<std::vector<std::uint8_t>>& bytes) {
    saved_.clear();
    if (!bytes.ok()) said_ = bytes.error().message;
    else if (!context.app->services().save_file(file_name, ByteSpan(bytes.value())))
      said_ = format_text(tr("%s could not be saved here."), file_name.c_str());
    else
      said_ = format_text(tr("Saved: %s"), file_name.c_str()), saved_ = file_name;
  }

  std::string saved_, said_;
  Rect dlw_rect_, pth_rect_;
};

}  // namespace

std::unique_ptr<TeachingPanel> make_model_downloads() { return std::make_unique<ModelDownloads>(); }

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
