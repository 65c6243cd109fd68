// The one JSON writer of the app: the state the App and every teaching panel report to the page
// (digitlab.state(), docs/embedding.md), written value by value with the commas placed for the caller.
// Strings escaped, numbers in %.6g with null for NaN and infinities, rectangles as {"x","y","width","height"}.
// No ImGui here. Read next: app/app.cpp (App::state_json), teaching/teaching_panel.hpp (write_state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/rect.hpp"

namespace digitlab::app {

// Usage: JsonWriter w; w.begin_object().key("model").string(name).key("ready").boolean(true).end_object();
// w.text() is then {"model":"...","ready":true}. The writer does not check nesting: each begin_* needs its end_*.
class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);  // "name": -- the next call writes its value
  JsonWriter& string(std::string_view text);
  JsonWriter& number(double value);  // %.6g; null when not finite
  JsonWriter& integer(std::int64_t value);
  JsonWriter& boolean(bool value);
  JsonWriter& null();
  JsonWriter& rect(const Rect& rect);  // {"x":..,"y":..,"width":..,"height":..}
  const std::string& text() const { return text_; }

 private:
  void separate();  // a comma before the next member or element, unless it is the first
  std::string text_;
  bool needs_comma_ = false;
};

}  // namespace digitlab::app
