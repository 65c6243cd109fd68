// The one rectangle type of the app: panel places (layout.hpp), the drawing area, and every control a panel
// reports to the page (JsonWriter::rect writes it as {"x","y","width","height"}, the shape digitlab.state()
// and drawingRect() give). Display units, origin top left. Read next: layout.hpp, json_writer.hpp.
#pragma once

namespace digitlab::app {

struct Rect {
  float x = 0, y = 0, width = 0, height = 0;
  bool contains(float px, float py) const { return px >= x && py >= y && px < x + width && py < y + height; }
};

}  // namespace digitlab::app
