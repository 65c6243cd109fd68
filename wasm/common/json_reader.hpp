// A small JSON reader for the files the teaching panels fetch (run records, sweeps): the text becomes a
// tree of JsonValue. Bounded (size, depth, number of values), no exceptions: bad input gives an Error
// with the byte offset where reading stopped. No ImGui. Read next: teaching/training_record.hpp (who reads it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "digitlab/error.hpp"

namespace digitlab::app {

class JsonValue {
 public:
  enum class Type : std::uint8_t { null, boolean, number, string, array, object };

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::null; }
  bool is_bool() const { return type_ == Type::boolean; }
  bool is_number() const { return type_ == Type::number; }
  bool is_string() const { return type_ == Type::string; }
  bool is_array() const { return type_ == Type::array; }
  bool is_object() const { return type_ == Type::object; }

  // The value, or the fallback when it is of another type.
  bool as_bool(bool fallback = false) const { return type_ == Type::boolean ? boolean_ : fallback; }
  double as_number(double fallback = 0.0) const { return type_ == Type::number ? number_ : fallback; }
  const std::string& as_string() const;  // "" unless a string

  // Elements of an array, members of an object; 0 for anything else.
  std::size_t size() const { return items_.size(); }
  // Array element i; a null value when out of range or not an array.
  const JsonValue& at(std::size_t index) const;
  // Object member by key (the first one when a key repeats); a null value when absent or not an object.
  const JsonValue& operator[](std::string_view key) const;
  const JsonValue* find(std::string_view key) const;  // null when absent
  // Object member i's key and value, in file order.
  const std::string& key_at(std::size_t index) const;

 private:
  friend class JsonParser;
  Type type_ = Type::null;
  bool boolean_ = false;
  double number_ = 0.0;
  std::string text_;               // a string's characters (UTF-8)
  std::vector<JsonValue> items_;   // array elements, or object members' values
  std::vector<std::string> keys_;  // object members' keys, parallel to items_
};

struct JsonLimits {
  std::size_t max_bytes = 16u << 20;     // longer text is refused before reading
  int max_depth = 32;                    // nested arrays and objects
  std::size_t max_values = 1u << 20;     // values in the whole tree
};

// The whole text must be one JSON value (whitespace around it allowed, a UTF-8 byte order mark skipped).
// Errors: bad_value (syntax, with the offset), over_budget (a limit), truncated (the text ends early),
// trailing_bytes (more after the value).
Result<JsonValue> parse_json(std::string_view text, const JsonLimits& limits = {});

}  // namespace digitlab::app
