// The JSON reader (wasm/common/json_reader.hpp) on valid and malformed text: values, escapes, errors with
// their byte offset, the size, depth and value limits. Read next: test_training_record.cpp (the files read with it).
#include <catch2/catch.hpp>

#include <string>

#include "common/json_reader.hpp"

using namespace digitlab;
using namespace digitlab::app;

namespace {

JsonValue parse_ok(const std::string& text) {
  auto parsed = parse_json(text);
  INFO(text << " -> " << (parsed ? std::string("ok") : parsed.error().to_string()));
  REQUIRE(parsed.ok());
  return parsed.value();
}

Error parse_error(const std::string& text, const JsonLimits& limits = {}) {
  auto parsed = parse_json(text, limits);
  INFO(text);
  REQUIRE_FALSE(parsed.ok());
  return parsed.error();
}

}  // namespace

TEST_CASE("json: objects, arrays, strings, numbers, bools and null", "[app][json]") {
  const JsonValue value = parse_ok(
      " {\"a\": [1, -2.5, 3e2, 0, -0.125E-1], \"b\": {\"c\": true, \"d\": false, \"e\": null}, \"s\": \"x\\ty\"} \n");
  REQUIRE(value.is_object());
  CHECK(value.size() == 3);
  CHECK(value.key_at(1) == "b");
  const JsonValue& a = value["a"];
  REQUIRE(a.is_array());
  REQUIRE(a.size() == 5);
  CHECK(a.at(0).as_number() == 1.0);
  CHECK(a.at(1).as_number() == -2.5);
  CHECK(a.at(2).as_number() == 300.0);
  CHECK(a.at(3).as_number() == 0.0);
  CHECK(a.at(4).as_number() == Approx(-0.0125));
  CHECK(value["b"]["c"].as_bool() == true);
  CHECK(value["b"]["d"].is_bool());
  CHECK(value["b"]["d"].as_bool(true) == false);
  CHECK(value["b"]["e"].is_null());
  CHECK(value["b"].find("e") != nullptr);
  CHECK(value["s"].as_string() == "x\ty");
  // Absent members, wrong types and out-of-range indices read as null / the fallback, never crash.
  CHECK(value["missing"].is_null());
  CHECK(value["missing"]["deeper"].at(3).is_null());
  CHECK(value["s"].as_number(7.0) == 7.0);
  CHECK(a.at(99).is_null());
  CHECK(a["key"].is_null());
  CHECK(value.at(0).is_null());
  CHECK(value["a"].as_string().empty());
  CHECK(parse_ok("[]").size() == 0);
  CHECK(parse_ok("{}").is_object());
  CHECK(parse_ok("\"just a string\"").as_string() == "just a string");
  CHECK(parse_ok("\xEF\xBB\xBF[1]").at(0).as_number() == 1.0);  // a byte order mark is skipped
  CHECK(parse_ok("{\"k\": 1, \"k\": 2}")["k"].as_number() == 1.0);  // the first of a repeated key
}

TEST_CASE("json: string escapes, including \\u and surrogate pairs, become UTF-8", "[app][json]") {
  CHECK(parse_ok(R"("\"\\\/\b\f\n\r\t")").as_string() == "\"\\/\b\f\n\r\t");
  CHECK(parse_ok(R"("\u0041\u00e9\u20AC")").as_string() == "A\xC3\xA9\xE2\x82\xAC");
  CHECK(parse_ok(R"("\ud83d\ude00")").as_string() == "\xF0\x9F\x98\x80");
  CHECK(parse_ok("\"caf\xC3\xA9\"").as_string() == "caf\xC3\xA9");  // raw UTF-8 passes through
}

TEST_CASE("json: malformed text gives an error with the byte offset", "[app][json]") {
  struct Case {
    const char* text;
    ErrorCode code;
    std::uint64_t offset;
  };
  const Case cases[] = {
      {"", ErrorCode::truncated, 0},
      {"   ", ErrorCode::truncated, 3},
      {"[1, 2", ErrorCode::truncated, 5},
      {"[1, 2,]", ErrorCode::bad_value, 6},       // trailing comma
      {"{\"a\" 1}", ErrorCode::bad_value, 5},     // missing colon
      {"{a: 1}", ErrorCode::bad_value, 1},        // unquoted key
      {"[01]", ErrorCode::bad_value, 2},          // leading zero
      {"[1.]", ErrorCode::bad_value, 3},
      {"[-]", ErrorCode::bad_value, 2},
      {"[1e]", ErrorCode::bad_value, 3},
      {"[NaN]", ErrorCode::bad_value, 1},
      {"[tru]", ErrorCode::bad_value, 1},
      {"\"abc", ErrorCode::truncated, 4},
      {"\"a\nb\"", ErrorCode::bad_value, 2},      // raw control character
      {"\"\\x\"", ErrorCode::bad_value, 2},       // unknown escape
      {"\"\\u12G4\"", ErrorCode::bad_value, 3},
      {"\"\\udc00\"", ErrorCode::bad_value, 7},   // lone low surrogate
      {"\"\\ud800x\"", ErrorCode::bad_value, 7},  // high surrogate alone
      {"[1] [2]", ErrorCode::trailing_bytes, 4},
      {"[1e999]", ErrorCode::bad_value, 1},       // not a finite double
      {"{\"a\":1,}", ErrorCode::bad_value, 7},
  };
  for (const Case& c : cases) {
    const Error error = parse_error(c.text);
    INFO("text: " << c.text << "  error: " << error.to_string());
    CHECK(error.code == c.code);
    CHECK(error.offset == c.offset);
    CHECK_FALSE(error.message.empty());
  }
}

TEST_CASE("json: the size, depth and value limits hold", "[app][json]") {
  JsonLimits limits;
  limits.max_depth = 4;
  CHECK(parse_json("[[[[1]]]]", limits).ok());
  CHECK(parse_error("[[[[[1]]]]]", limits).code == ErrorCode::over_budget);
  // Deep nesting far past the limit stops at the limit (no stack overflow).
  CHECK(parse_error(std::string(100000, '['), JsonLimits{}).code == ErrorCode::over_budget);
  limits = JsonLimits{};
  limits.max_bytes = 10;
  CHECK(parse_error("[1,2,3,4,5,6]", limits).code == ErrorCode::over_budget);
  limits = JsonLimits{};
  limits.max_values = 3;
  CHECK(parse_json("[1,2]", limits).ok());
  CHECK(parse_error("[1,2,3]", limits).code == ErrorCode::over_budget);
}
