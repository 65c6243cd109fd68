// JSON text for the state the app and its panels report to the page (digitlab.state()): strings escaped,
// numbers in %.6g with null for NaN and infinities. Read next: app.cpp (state_json), teaching_panel.hpp.
#pragma once

#include <string>
#include <string_view>

namespace digitlab::app {

std::string json_string(std::string_view text);  // "\"text\"", escaped
std::string json_number(double value);           // "0.25", "null" when not finite

}  // namespace digitlab::app
