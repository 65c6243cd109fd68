// Small ImGui drawing helpers the teaching panels (and the App) share: grey-level images, a heat colour ramp,
// the error text colour, and the last item's rectangle for write_state(). ImGui code (like every panel_*.cpp).
// Read next: widgets.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "common/rect.hpp"
#include "common/url_options.hpp"

struct ImVec4;

namespace digitlab::app {

namespace widgets {
// A grey-level image (values in [0,1], row-major width x height) drawn at the cursor, cell px per pixel;
// returns true when clicked. Inverted: white ink on black, as MNIST.
bool gray_image(const char* id, const float* values, int width, int height, float cell);
// Same for uint8 pixels (0..255).
bool gray_image_u8(const char* id, const std::uint8_t* values, int width, int height, float cell);
// A value in [0,1] as a colour from dark blue to yellow (a perceptual ramp, like viridis).
std::uint32_t heat_color(float value);
// The colour of error sentences (a rejected file, a panel's problem), readable on the theme's background.
ImVec4 error_color(Theme theme);
// The last ImGui item's rectangle, display units (panels report it in write_state(): tests click it).
Rect item_rect();
// "shown###id": a translated label (tr()) whose ImGui ID stays `id` in every language. Measure it with
// ImGui::CalcTextSize(label.c_str(), nullptr, true), which stops at the "###".
std::string labelled(const char* shown, const char* id);
}  // namespace widgets

}  // namespace digitlab::app
