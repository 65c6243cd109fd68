// ImGui's fonts for the shown language: its pixel font (ProggyClean) for Latin text, with the glyphs of the
// Chinese font subset the page fetched (wasm/i18n/README.md) merged in when a Chinese language is shown.
// Read next: common/i18n.hpp, app.cpp (App::set_ui_scale), main.cpp (rebuilds the texture).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct ImFont;

namespace digitlab::app {

struct AppFonts {
  ImFont* regular = nullptr;
  ImFont* big = nullptr;  // the predicted label, 5x: only the data texts' glyphs (class names) in Chinese
};

// Clears ImGui's font atlas and adds both fonts at `scale` (framebuffer pixels per CSS pixel).
AppFonts build_fonts(float scale);

// Shows the language of `table` (common/i18n.hpp, set_translations) with the glyphs of `font`, its subset:
// what both platforms do with the two lang/ files. false + `error` when the table is refused (English stays).
bool set_language(std::string table, std::vector<std::uint8_t> font, std::string& error);
// True once after set_language: the platform must rebuild the fonts and their texture.
bool take_fonts_changed();

}  // namespace digitlab::app
