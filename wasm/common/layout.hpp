// Where each panel goes: the panels tile the window (nothing overlaps, nothing to drag), the drawing
// panel gets the largest square-ish place, the others share the rest by weight. Recomputed every frame,
// so resizing the window or the embedding iframe just works. Read next: app/app.cpp.
#pragma once

#include <vector>

#include "common/panels.hpp"
#include "common/rect.hpp"

namespace digitlab::app {

// One rect per panel, in the order given. gap: space between panels (and none at the area's border).
std::vector<Rect> layout_panels(const std::vector<PanelId>& panels, Rect area, float gap);

}  // namespace digitlab::app
