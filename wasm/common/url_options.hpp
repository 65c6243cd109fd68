// What the page's URL asks for (?model=mnist-cnn&panels=draw&embed=1), parsed without ever failing:
// a bad parameter becomes a message the page shows and the default is used. The desktop program takes
// the same string (--options). Every parameter is documented in docs/embedding.md. Read next: app/app.hpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/panels.hpp"

namespace digitlab::app {

enum class Theme { light, dark };

struct AppOptions {
  std::string model;             // a name from weights/manifest.json; "" = the manifest's default
  std::vector<PanelId> panels;   // in layout order; never empty after parsing
  bool embed = false;            // hide the page's header and footer and the windows' title bars
  float stroke_width = 0.07f;    // pen diameter as a fraction of the drawing area (URL: percent)
  Theme theme = Theme::light;
  std::string drawing;           // drawing=, checked (common/drawing_code.hpp); "" when absent or bad
};

struct ParsedOptions {
  AppOptions options;
  std::vector<std::string> problems;  // one clear sentence per bad parameter, for the page
};

// query: the URL's search part, with or without the leading '?'. Percent-escapes and '+' are decoded.
// lang= is checked here (common/i18n.hpp, language_from_code) but chosen and loaded by web/page.js before
// the app starts.
ParsedOptions parse_url_options(std::string_view query);

// The documented names, for messages and tests.
inline constexpr const char* kKnownParameters = "model, panels, embed, stroke, theme, lang, drawing";
inline constexpr float kMinStrokePercent = 2.f, kMaxStrokePercent = 20.f;

}  // namespace digitlab::app
