// Small ImGui drawing helpers the teaching panels share: grey-level images, a heat colour ramp, and the
// last item's rectangle for state_json(). ImGui code (like every panel_*.cpp). Read next: widgets.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "common/json_writer.hpp"

namespace digitlab::app {

namespace widgets {
// A grey-level image (values in [0,1], row-major width x height) drawn at the cursor, cell px per pixel;
// returns true when clicked. Inverted: white ink on black, as MNIST.
bool gray_image(const char* id, const float* values, int width, int height, float cell);
// Same for uint8 pixels (0..255).
bool gray_image_u8(const char* id, const std::uint8_t* values, int width, int height, float cell);
// A value in [0,1] as a colour from dark blue to yellow (a perceptual ramp, like viridis).
std::uint32_t heat_color(float value);
// JSON helpers for state_json() (json_writer.hpp, shared with the App's own state).
using app::json_number;
using app::json_string;
// A rectangle in display units, for state_json() (tests click what a panel reports).
struct Box {
  float x = 0, y = 0, w = 0, h = 0;
};
Box item_box();                        // the last ImGui item's rectangle
std::string box_json(const Box& box);  // {"x":..,"y":..,"width":..,"height":..}
}  // namespace widgets

}  // namespace digitlab::app
