// The JSON reader of json_reader.hpp: a recursive-descent parser over the bytes, following RFC 8259
// strictly (no comments, no trailing commas, no NaN), with the depth, size and value limits checked as it
// goes. Read next: teaching/training_record.cpp.
#include "common/json_reader.hpp"

#include <cmath>
#include <cstdlib>

namespace digitlab::app {

namespace {

const JsonValue& null_value() {
  static const JsonValue value;
  return value;
}

const std::string& empty_string() {
  static const std::string text;
  return text;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out += char(code);
  } else if (code < 0x800) {
    out += char(0xC0 | (code >> 6));
    out += char(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += char(0xE0 | (code >> 12));
    out += char(0x80 | ((code >> 6) & 0x3F));
    out += char(0x80 | (code & 0x3F));
  } else {
    out += char(0xF0 | (code >> 18));
    out += char(0x80 | ((code >> 12) & 0x3F));
    out += char(0x80 | ((code >> 6) & 0x3F));
    out += char(0x80 | (code & 0x3F));
  }
}

}  // namespace

const std::string& JsonValue::as_string() const { return type_ == Type::string ? text_ : empty_string(); }

const JsonValue& JsonValue::at(std::size_t index) const {
  return type_ == Type::array && index < items_.size() ? items_[index] : null_value();
}

const JsonValue* JsonValue::find(std::string_view key) const {
  if (type_ != Type::object) return nullptr;
  for (std::size_t i = 0; i < keys_.size(); ++i)
    if (keys_[i] == key) return &items_[i];
  return nullptr;
}

const JsonValue& JsonValue::operator[](std::string_view key) const {
  const JsonValue* value = find(key);
  return value ? *value : null_value();
}

const std::string& JsonValue::key_at(std::size_t index) const {
  return type_ == Type::object && index < keys_.size() ? keys_[index] : empty_string();
}

class JsonParser {
 public:
  JsonParser(std::string_view text, const JsonLimits& limits) : text_(text), limits_(limits) {}

  Result<JsonValue> parse_document() {
    if (text_.size() > limits_.max_bytes)
      return make_error(ErrorCode::over_budget, "json", 0,
                        "the text is " + std::to_string(text_.size()) + " bytes, more than the " +
                            std::to_string(limits_.max_bytes) + " this reader accepts");
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") position_ = 3;
    JsonValue root;
    if (!parse_value(root, 0)) return error_;
    skip_whitespace();
    if (position_ != text_.size())
      return make_error(ErrorCode::trailing_bytes, "json", position_, "more text after the JSON value ended");
    return root;
  }

 private:
  bool fail(ErrorCode code, std::string message) {
    error_ = make_error(code, "json", position_, std::move(message));
    return false;
  }
  bool fail_syntax(const char* expected) {
    if (position_ >= text_.size()) return fail(ErrorCode::truncated, std::string("the text ends where ") + expected + " should be");
    const unsigned char c = static_cast<unsigned char>(text_[position_]);
    std::string found;
    if (c >= 0x20 && c < 0x7F) {
      found = std::string("'") + char(c) + "'";
    } else {
      const char* hex = "0123456789abcdef";
      found = std::string("byte 0x") + hex[c >> 4] + hex[c & 15];
    }
    return fail(ErrorCode::bad_value, std::string("expected ") + expected + ", found " + found);
  }

  void skip_whitespace() {
    while (position_ < text_.size()) {
      const char c = text_[position_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++position_;
    }
  }

  bool consume_word(std::string_view word) {
    if (text_.substr(position_, word.size()) != word) return false;
    position_ += word.size();
    return true;
  }

  bool parse_value(JsonValue& value, int depth) {
    if (++values_ > limits_.max_values)
      return fail(ErrorCode::over_budget, "more than " + std::to_string(limits_.max_values) + " values");
    skip_whitespace();
    if (position_ >= text_.size()) return fail_syntax("a value");
    const char c = text_[position_];
    switch (c) {
      case '{': return parse_object(value, depth + 1);
      case '[': return parse_array(value, depth + 1);
      case '"': value.type_ = JsonValue::Type::string; return parse_string(value.text_);
      case 't':
      case 'f':
        if (consume_word("true") || consume_word("false")) {
          value.type_ = JsonValue::Type::boolean;
          value.boolean_ = c == 't';
          return true;
        }
        return fail_syntax("a value");
      case 'n':
        if (consume_word("null")) return true;
        return fail_syntax("a value");
      default:
        if (c == '-' || is_digit(c)) return parse_number(value);
        return fail_syntax("a value");
    }
  }

  bool enter(int depth) {
    if (depth > limits_.max_depth)
      return fail(ErrorCode::over_budget, "arrays and objects nested deeper than " + std::to_string(limits_.max_depth));
    ++position_;  // the opening bracket
    skip_whitespace();
    return true;
  }

  bool parse_array(JsonValue& value, int depth) {
    if (!enter(depth)) return false;
    value.type_ = JsonValue::Type::array;
    if (position_ < text_.size() && text_[position_] == ']') {
      ++position_;
      return true;
    }
    for (;;) {
      value.items_.emplace_back();
      if (!parse_value(value.items_.back(), depth)) return false;
      skip_whitespace();
      if (position_ < text_.size() && text_[position_] == ',') {
        ++position_;
        continue;
      }
      if (position_ < text_.size() && text_[position_] == ']') {
        ++position_;
        return true;
      }
      return fail_syntax("',' or ']'");
    }
  }

  bool parse_object(JsonValue& value, int depth) {
    if (!enter(depth)) return false;
    value.type_ = JsonValue::Type::object;
    if (position_ < text_.size() && text_[position_] == '}') {
      ++position_;
      return true;
    }
    for (;;) {
      skip_whitespace();
      if (position_ >= text_.size() || text_[position_] != '"') return fail_syntax("a member name in double quotes");
      value.keys_.emplace_back();
      if (!parse_string(value.keys_.back())) return false;
      skip_whitespace();
      if (position_ >= text_.size() || text_[position_] != ':') return fail_syntax("':'");
      ++position_;
      value.items_.emplace_back();
      if (!parse_value(value.items_.back(), depth)) return false;
      skip_whitespace();
      if (position_ < text_.size() && text_[position_] == ',') {
        ++position_;
        continue;
      }
      if (position_ < text_.size() && text_[position_] == '}') {
        ++position_;
        return true;
      }
      return fail_syntax("',' or '}'");
    }
  }

  // Four hex digits after "\u" at position_; -1 when they are not.
  long read_hex4() {
    if (text_.size() - position_ < 4) return -1;
    long code = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = hex_value(text_[position_ + std::size_t(i)]);
      if (digit < 0) return -1;
      code = code * 16 + digit;
    }
    position_ += 4;
    return code;
  }

  bool parse_string(std::string& out) {
    ++position_;  // the opening quote
    for (;;) {
      if (position_ >= text_.size()) return fail(ErrorCode::truncated, "the text ends inside a string");
      const char c = text_[position_];
      if (c == '"') {
        ++position_;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20)
        return fail(ErrorCode::bad_value, "a control character inside a string (write it as an escape like \\n)");
      if (c != '\\') {
        out += c;
        ++position_;
        continue;
      }
      ++position_;
      if (position_ >= text_.size()) return fail(ErrorCode::truncated, "the text ends inside a string");
      const char escape = text_[position_++];
      switch (escape) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          long code = read_hex4();
          if (code < 0) return fail(ErrorCode::bad_value, "\\u must be followed by four hex digits");
          if (code >= 0xDC00 && code <= 0xDFFF) return fail(ErrorCode::bad_value, "a lone low surrogate in \\u escapes");
          if (code >= 0xD800 && code <= 0xDBFF) {
            if (!consume_word("\\u")) return fail(ErrorCode::bad_value, "a high surrogate without its low half");
            const long low = read_hex4();
            if (low < 0xDC00 || low > 0xDFFF) return fail(ErrorCode::bad_value, "a high surrogate without its low half");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, std::uint32_t(code));
          break;
        }
        default:
          --position_;
          return fail(ErrorCode::bad_value, "an unknown escape in a string (allowed: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
      }
    }
  }

  bool parse_number(JsonValue& value) {
    const std::size_t start = position_;
    if (text_[position_] == '-') ++position_;
    auto digits = [&] {
      const std::size_t first = position_;
      while (position_ < text_.size() && is_digit(text_[position_])) ++position_;
      return position_ - first;
    };
    if (position_ < text_.size() && text_[position_] == '0')
      ++position_;  // no leading zeros: "0", "0.5", never "01"
    else if (digits() == 0)
      return fail_syntax("a digit");
    if (position_ < text_.size() && text_[position_] == '.') {
      ++position_;
      if (digits() == 0) return fail_syntax("a digit after '.'");
    }
    if (position_ < text_.size() && (text_[position_] == 'e' || text_[position_] == 'E')) {
      ++position_;
      if (position_ < text_.size() && (text_[position_] == '+' || text_[position_] == '-')) ++position_;
      if (digits() == 0) return fail_syntax("a digit in the exponent");
    }
    const std::size_t length = position_ - start;
    char buffer[64];
    if (length >= sizeof buffer) {
      position_ = start;
      return fail(ErrorCode::bad_value, "a number longer than 63 characters");
    }
    text_.copy(buffer, length, start);
    buffer[length] = '\0';
    const double number = std::strtod(buffer, nullptr);
    if (!std::isfinite(number)) {
      position_ = start;
      return fail(ErrorCode::bad_value, "a number too large for a double");
    }
    value.type_ = JsonValue::Type::number;
    value.number_ = number;
    return true;
  }

  std::string_view text_;
  JsonLimits limits_;
  std::size_t position_ = 0;
  std::size_t values_ = 0;
  Error error_;
};

Result<JsonValue> parse_json(std::string_view text, const JsonLimits& limits) {
  return JsonParser(text, limits).parse_document();
}

}  // namespace digitlab::app
