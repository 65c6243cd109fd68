// The JSON writer every part of the app reports its state through (wasm/common/json_writer.hpp): commas,
// escaping, numbers, rectangles, and that what it writes reads back with the app's own reader.
// Read next: test_app.cpp (the App's whole state through it).
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "common/json_reader.hpp"
#include "common/json_writer.hpp"

using namespace digitlab::app;

TEST_CASE("the writer places commas between members and elements, at every depth", "[app][json]") {
  JsonWriter json;
  json.begin_object();
  json.key("a").integer(1).key("empty").begin_array().end_array();
  json.key("list").begin_array().integer(1).begin_object().end_object().begin_array().integer(2).integer(3).end_array();
  json.end_array();
  json.key("inner").begin_object().key("t").boolean(true).key("f").boolean(false).key("n").null().end_object();
  json.end_object();
  CHECK(json.text() == R"({"a":1,"empty":[],"list":[1,{},[2,3]],"inner":{"t":true,"f":false,"n":null}})");
}

TEST_CASE("strings are escaped and numbers keep six digits, null when not finite", "[app][json]") {
  JsonWriter json;
  json.begin_array().string("say \"hi\"\\\n\t\x01").number(0.25).number(1.0 / 3.0).number(-1.0).number(1e-7);
  json.number(NAN).number(INFINITY).integer(-12345678901LL).end_array();
  CHECK(json.text() == R"(["say \"hi\"\\\n\t\u0001",0.25,0.333333,-1,1e-07,null,null,-12345678901])");
}

TEST_CASE("a rectangle is {x, y, width, height}, and keys are escaped like strings", "[app][json]") {
  JsonWriter json;
  json.begin_object().key("r").rect({1.5f, 2.f, 300.25f, 40.f}).key("odd \"key\"").integer(0).end_object();
  CHECK(json.text() == R"({"r":{"x":1.5,"y":2,"width":300.25,"height":40},"odd \"key\"":0})");
}

TEST_CASE("what the writer writes, the app's reader reads back", "[app][json]") {
  JsonWriter json;
  json.begin_object().key("name").string("ünïcode \"q\" \x1f").key("values").begin_array();
  for (int i = 0; i < 5; ++i) json.number(i * 0.5);
  json.end_array().key("box").rect({10.f, 20.f, 30.f, 40.f}).end_object();
  const auto parsed = parse_json(json.text());
  INFO(json.text());
  REQUIRE(parsed.ok());
  const JsonValue& root = parsed.value();
  CHECK(root["name"].as_string() == "ünïcode \"q\" \x1f");
  REQUIRE(root["values"].size() == 5);
  CHECK(root["values"].at(3).as_number() == 1.5);
  CHECK(root["box"]["height"].as_number() == 40.0);
}
