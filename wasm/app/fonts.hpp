// ImGui's fonts for the shown language: its pixel font (ProggyClean) for Latin text, with the glyphs of the
// Chinese font subset the page fetched (wasm/i18n/README.md) merged in when a Chinese language is shown.
// Read next: common/i18n.hpp, app.cpp (App::set_ui_scale), main.cpp (rebuilds the texture).
#pragma once

#include <cstdint>
#include <vector>

struct ImFont;

namespace digitlab::app {

struct AppFonts {
  ImFont* regular = nullptr;
  ImFont* big = nullptr;  // the predicted label, 5x: only the data texts' glyphs (class names) in Chinese
};

// Clears ImGui's font atlas and adds both fonts at `scale` (framebuffer pixels per CSS pixel).
AppFonts build_fonts(float scale);

// The font subset for the shown language (empty: English, nothing merged). Kept until replaced.
void set_language_font(std::vector<std::uint8_t> font_bytes);
// True once after set_language_font: the platform must rebuild the fonts and their texture.
bool take_fonts_changed();

}  // namespace digitlab::app
