// make_teaching_panel(): the lab build's teaching panels, one factory each (teaching_panel.hpp).
// Read next: panel_*.cpp.
#include "teaching/teaching_panel.hpp"

namespace digitlab::app {

PanelFactory built_in_panel_factory() { return &make_teaching_panel; }

std::unique_ptr<TeachingPanel> make_teaching_panel(PanelId id) {
  switch (id) {
    case PanelId::activations: return make_activations_panel();
    case PanelId::network: return make_network_panel();
    case PanelId::preprocess: return make_preprocess_panel();
    case PanelId::explorer: return make_explorer_panel();
    case PanelId::confusion: return make_confusion_panel();
    case PanelId::training: return make_training_panel();
    case PanelId::compare: return make_compare_panel();
    case PanelId::number: return make_number_panel();
    case PanelId::train: return make_train_panel();
    case PanelId::saliency: return make_saliency_panel();
    case PanelId::model: return make_model_downloads();  // under the App's own model panel
    case PanelId::draw:
    case PanelId::prediction:
    case PanelId::input: return nullptr;
  }
  return nullptr;
}


}  // namespace digitlab::app
