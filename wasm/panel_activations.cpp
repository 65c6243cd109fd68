// The "activations" teaching panel (panels.hpp). Being written: replace this with the panel.
#include "imgui.h"
#include "teaching.hpp"

namespace digitlab::app {

namespace {

class Panel final : public TeachingPanel {
 public:
  void draw(PanelContext&) override { ImGui::TextWrapped("This panel is being written."); }
};

}  // namespace

std::unique_ptr<TeachingPanel> make_activations_panel() { return std::make_unique<Panel>(); }

}  // namespace digitlab::app
