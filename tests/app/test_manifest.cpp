// weights/manifest.json as the desktop app reads it (web/page.js applies the same rules): good rows load,
// each bad row is skipped with a message, nothing throws. Read next: wasm/common/manifest.hpp.
#include <catch2/catch.hpp>

#include "test_text.hpp"
#include "common/manifest.hpp"

using namespace digitlab::app;

namespace {

using testing::joined;

}  // namespace

TEST_CASE("the documented manifest reads completely", "[app][manifest]") {
  const ParsedManifest parsed = parse_manifest(R"({"models": [
    {"name": "mnist-cnn", "file": "mnist-cnn.dlw", "dataset": "mnist", "architecture": "cnn", "dtype": "float32",
     "test_accuracy": 0.993, "bytes": 1234, "sha256": "e43bc328063d1f59899547964e55caa678f2ff44d31463e8ef0c5d22cba0173f",
     "command": "digitlab train --model cnn", "default": true},
    {"name": "mnist-mlp", "file": "sub/mnist-mlp.dlw"}]})");
  INFO(joined(parsed.problems));
  CHECK(parsed.problems.empty());
  REQUIRE(parsed.models.size() == 2);
  const ModelEntry& cnn = parsed.models[0];
  CHECK(cnn.name == "mnist-cnn");
  CHECK(cnn.file == "mnist-cnn.dlw");
  CHECK(cnn.architecture == "cnn");
  CHECK(cnn.dataset == "mnist");
  CHECK(cnn.dtype == "float32");
  CHECK(cnn.test_accuracy == Approx(0.993f));
  CHECK(cnn.bytes == 1234);
  CHECK(cnn.sha256.size() == 64);
  CHECK(cnn.is_default);
  CHECK_FALSE(parsed.models[1].is_default);
  CHECK(parsed.models[1].test_accuracy < 0.f);
}

TEST_CASE("a manifest that is not one says so", "[app][manifest]") {
  for (const char* text : {"", "not json", "{\"models\": {}}", "[1, 2]", "{\"models\": [", "{}"}) {
    const ParsedManifest parsed = parse_manifest(text);
    INFO(text);
    CHECK(parsed.models.empty());
    REQUIRE(parsed.problems.size() == 1);
    CHECK(parsed.problems[0].find("weights/manifest.json") == 0);
  }
}

TEST_CASE("bad rows are skipped one by one with the reason", "[app][manifest]") {
  const ParsedManifest parsed = parse_manifest(R"({"models": [
    7,
    {"name": "../evil", "file": "x.dlw"},
    {"name": "abs", "file": "/etc/passwd"},
    {"name": "up", "file": "../secret.dlw"},
    {"name": "remote", "file": "https://example.com/x.dlw"},
    {"name": "ok", "file": "ok.dlw", "sha256": "XYZ", "test_accuracy": 7, "bytes": -3, "default": true},
    {"name": "second", "file": "second.dlw", "default": true},
    {"name": 5, "file": "five.dlw"}]})");
  const std::string text = joined(parsed.problems);
  INFO(text);
  REQUIRE(parsed.models.size() == 2);
  CHECK(parsed.models[0].name == "ok");
  CHECK(parsed.models[0].sha256.empty());
  CHECK(parsed.models[0].test_accuracy < 0.f);
  CHECK(parsed.models[0].bytes == 0);
  CHECK(parsed.models[0].is_default);
  CHECK_FALSE(parsed.models[1].is_default);
  CHECK(parsed.problems.size() == 8);
  CHECK(text.find("model 1 is not an object") != std::string::npos);
  CHECK(text.find("model 3 (abs): \"file\" must be a path inside weights/") != std::string::npos);
  CHECK(text.find("is a second default") != std::string::npos);
}

TEST_CASE("safe relative paths", "[app][manifest]") {
  CHECK(is_safe_relative_path("a.dlw"));
  CHECK(is_safe_relative_path("dir/a.dlw"));
  for (const char* bad : {"", "/a", "../a", "a/../b", "c:\\a", "http://x/a", "a?b", "a#b", "a\\b"})
    CHECK_FALSE(is_safe_relative_path(bad));
}
