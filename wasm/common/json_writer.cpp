// json_writer.hpp: the escaping and number rules. Read next: app/app.cpp.
#include "common/json_writer.hpp"

#include <cmath>
#include <cstdio>

namespace digitlab::app {

void JsonWriter::separate() {
  if (needs_comma_) text_ += ',';
  needs_comma_ = true;  // what follows is a value (or its key): the next one needs a comma
}

JsonWriter& JsonWriter::begin_object() {
  separate();
  text_ += '{';
  needs_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  text_ += '}';
  needs_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  separate();
  text_ += '[';
  needs_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  text_ += ']';
  needs_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  string(name);
  text_ += ':';
  needs_comma_ = false;  // the value follows at once
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view text) {
  separate();
  text_ += '"';
  for (char c : text) {
    switch (c) {
      case '"': text_ += "\\\""; break;
      case '\\': text_ += "\\\\"; break;
      case '\n': text_ += "\\n"; break;
      case '\t': text_ += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
          text_ += escaped;
        } else {
          text_ += c;
        }
    }
  }
  text_ += '"';
  return *this;
}

JsonWriter& JsonWriter::number(double value) {
  if (!std::isfinite(value)) return null();
  separate();
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  text_ += text;
  return *this;
}

JsonWriter& JsonWriter::integer(std::int64_t value) {
  separate();
  char text[24];
  std::snprintf(text, sizeof text, "%lld", static_cast<long long>(value));
  text_ += text;
  return *this;
}

JsonWriter& JsonWriter::boolean(bool value) {
  separate();
  text_ += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  separate();
  text_ += "null";
  return *this;
}

JsonWriter& JsonWriter::rect(const Rect& rect) {
  return begin_object()
      .key("x").number(rect.x)
      .key("y").number(rect.y)
      .key("width").number(rect.width)
      .key("height").number(rect.height)
      .end_object();
}

}  // namespace digitlab::app
