// The URL parameter parser: split on '&', decode, check each value, collect problems instead of
// failing. Read next: app/app.cpp (which shows the problems and checks model= against the manifest).
#include "common/url_options.hpp"

#include <cstdlib>

#include "common/drawing_code.hpp"
#include "common/i18n.hpp"
#include "digitlab/text.hpp"

namespace digitlab::app {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding; a broken escape is kept as written.
std::string url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out += char(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// Shown in messages: long or odd values are cut so a hostile URL cannot flood the page.
std::string quoted(std::string_view value) {
  std::string shown;
  for (char c : value.substr(0, 40)) shown += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  if (value.size() > 40) shown += "...";
  return "'" + shown + "'";
}

std::string known_panel_names() {
  std::string names;
  for (const PanelInfo& panel : panel_list()) {
    if (!names.empty()) names += ", ";
    names += panel.name;
  }
  return names;
}

std::string trim(std::string_view text) {
  std::size_t begin = 0, end = text.size();
  while (begin < end && text[begin] == ' ') ++begin;
  while (end > begin && text[end - 1] == ' ') --end;
  return std::string(text.substr(begin, end - begin));
}

void parse_panels(const std::string& value, ParsedOptions& parsed) {
  std::vector<PanelId> panels;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    const std::string name = trim(std::string_view(value).substr(start, comma - start));
    start = comma + 1;
    if (name.empty()) continue;
    const PanelInfo* panel = find_panel(name);
    if (!panel) {
      parsed.problems.push_back(format_text(tr("URL parameter panels: there is no panel %s; the panels are %s."),
                                            quoted(name).c_str(), known_panel_names().c_str()));
      continue;
    }
    bool seen = false;
    for (PanelId id : panels) seen = seen || id == panel->id;
    if (!seen) panels.push_back(panel->id);
  }
  if (panels.empty()) {
    parsed.problems.push_back(format_text(tr("URL parameter panels names no known panel, so the demo's panels are shown; write for example panels=draw,prediction (panels: %s)."),
                                          known_panel_names().c_str()));
    return;
  }
  parsed.options.panels = std::move(panels);
}

bool parse_flag(const std::string& name, const std::string& value, bool* out, ParsedOptions& parsed) {
  if (value.empty() || value == "1" || value == "true" || value == "yes") {
    *out = true;
    return true;
  }
  if (value == "0" || value == "false" || value == "no") {
    *out = false;
    return true;
  }
  parsed.problems.push_back(format_text(tr("URL parameter %s takes 1 or 0, not %s."), name.c_str(), quoted(value).c_str()));
  return false;
}

}  // namespace

ParsedOptions parse_url_options(std::string_view query) {
  ParsedOptions parsed;
  for (const PanelInfo& panel : panel_list())
    if (panel.in_default) parsed.options.panels.push_back(panel.id);
  if (!query.empty() && query.front() == '?') query.remove_prefix(1);

  std::vector<std::string> seen;
  std::size_t start = 0;
  while (start < query.size()) {
    std::size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    const std::string_view pair = query.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string name = url_decode(pair.substr(0, eq));
    const std::string value = eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));

    for (const std::string& earlier : seen)
      if (earlier == name)
        parsed.problems.push_back(format_text(tr("URL parameter %s is given more than once; the last one counts."), name.c_str()));
    seen.push_back(name);

    if (name == "model") {
      if (value.empty())
        parsed.problems.push_back(tr("URL parameter model is empty; the default model is used."));
      parsed.options.model = value;
    } else if (name == "panels") {
      parse_panels(value, parsed);
    } else if (name == "embed") {
      parse_flag(name, value, &parsed.options.embed, parsed);
    } else if (name == "stroke") {
      char* end = nullptr;
      const double percent = value.empty() ? 0.0 : std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size() || !(percent >= kMinStrokePercent) ||
          !(percent <= kMaxStrokePercent)) {
        parsed.problems.push_back(format_text(tr("URL parameter stroke is the pen width in percent of the drawing area, a number from 2 to 20; %s is not, so the default 7 is used."),
                                              quoted(value).c_str()));
      } else {
        parsed.options.stroke_width = float(percent / 100.0);
      }
    } else if (name == "theme") {
      if (value == "light") {
        parsed.options.theme = Theme::light;
      } else if (value == "dark") {
        parsed.options.theme = Theme::dark;
      } else {
        parsed.problems.push_back(format_text(tr("URL parameter theme is light or dark, not %s."), quoted(value).c_str()));
      }
    } else if (name == "lang") {
      // web/page.js picks the language (this parameter, else the browser's) and loads it before the app
      // starts; here a value it could not use is explained.
      Language language;
      if (!language_from_code(value, language)) {
        std::string text = tr("URL parameter lang is en, zh-Hant or zh-Hans, not %s; the browser's language is used.");
        if (const std::size_t at = text.find("%s"); at != std::string::npos) text.replace(at, 2, quoted(value));
        parsed.problems.push_back(std::move(text));
      }
    } else if (name == "drawing") {
      std::string problem;
      decode_drawing(value, &problem);  // the App draws it at start
      parsed.options.drawing = problem.empty() ? value : std::string();
      if (!problem.empty()) parsed.problems.push_back(std::move(problem));
    } else {
      parsed.problems.push_back(format_text(tr("Unknown URL parameter %s (ignored); the parameters are %s, see docs/embedding.md."),
                                            quoted(name).c_str(), kKnownParameters));
    }
  }
  return parsed;
}

}  // namespace digitlab::app
