// The demo build's answer to "which teaching panels are built in": none (teaching_panel.hpp, PanelFactory). The
// browser's demo (digitlab-app) links this instead of the panels to stay small. Read next: teaching_panel.hpp.
#include "teaching/teaching_panel.hpp"

namespace digitlab::app {

PanelFactory built_in_panel_factory() { return nullptr; }

}  // namespace digitlab::app
