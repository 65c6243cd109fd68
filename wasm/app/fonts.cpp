// The fonts ImGui draws with, rebuilt when the scale or the language changes. ImGui.
// Read next: fonts.hpp, common/i18n.hpp.
#include "app/fonts.hpp"

#include <cmath>

#include "common/i18n.hpp"
#include "imgui.h"

namespace digitlab::app {
namespace {

std::vector<std::uint8_t> g_language_font;
bool g_fonts_changed = false;
ImVector<ImWchar> g_regular_ranges, g_big_ranges;  // ImGui reads them when it builds the atlas

// The glyphs ImGui's own font lacks (beyond Latin-1) among `characters`.
void ranges_for(const std::u32string& characters, ImVector<ImWchar>& ranges) {
  ImFontGlyphRangesBuilder builder;
  for (const char32_t c : characters)
    if (c > 0xFF && c <= 0xFFFF) builder.AddChar(ImWchar(c));
  ranges.clear();
  builder.BuildRanges(&ranges);
}

ImFont* add_font(float pixels, const ImVector<ImWchar>& merged_ranges) {
  ImGuiIO& io = ImGui::GetIO();
  ImFontConfig pixel_font;
  pixel_font.SizePixels = pixels;
  pixel_font.OversampleH = pixel_font.OversampleV = 1;
  pixel_font.PixelSnapH = true;
  ImFont* font = io.Fonts->AddFontDefault(&pixel_font);
  if (g_language_font.empty() || merged_ranges.Size <= 1) return font;  // ranges end in a 0
  ImFontConfig merged;
  merged.MergeMode = true;
  merged.FontDataOwnedByAtlas = false;  // g_language_font keeps the bytes
  merged.OversampleH = merged.OversampleV = 1;
  merged.PixelSnapH = true;
  // ImGui sizes a font by ascent minus descent; the subset's span exactly one em (build_language.py), so an
  // ideograph's em is the pixel font's 13 px. Merged glyphs sit on the pixel font's baseline.
  io.Fonts->AddFontFromMemoryTTF(g_language_font.data(), int(g_language_font.size()), pixels, &merged,
                                 merged_ranges.Data);
  return font;
}

}  // namespace

AppFonts build_fonts(float scale) {
  ImGui::GetIO().Fonts->Clear();
  ranges_for(translated_characters(false), g_regular_ranges);
  ranges_for(translated_characters(true), g_big_ranges);
  AppFonts fonts;
  // ImGui's built-in font is a pixel font: crisp at whole multiples of its 13 px.
  const float pixels = std::round(13.f * scale);
  fonts.regular = add_font(pixels, g_regular_ranges);
  fonts.big = add_font(pixels * 5.f, g_big_ranges);
  return fonts;
}

bool set_language(std::string table, std::vector<std::uint8_t> font, std::string& error) {
  if (!set_translations(std::move(table), error)) return false;
  g_language_font = std::move(font);
  g_fonts_changed = true;
  return true;
}

bool take_fonts_changed() {
  const bool changed = g_fonts_changed;
  g_fonts_changed = false;
  return changed;
}

}  // namespace digitlab::app
