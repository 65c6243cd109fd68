// weights/manifest.json as the desktop app reads it (wasm/common/manifest.cpp): every case of
// tests/data/manifest-cases.json, which web/page.js's rules (web/manifest.js) are tested on too
// (test_manifest.mjs): good rows load, each bad row is skipped with its message, nothing throws.
// Read next: wasm/common/manifest.hpp, test_manifest.mjs.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "test_text.hpp"
#include "common/manifest.hpp"

using namespace digitlab::app;
using nlohmann::json;

namespace {

using testing::joined;

json read_cases() {
  const std::string path = std::string(DIGITLAB_SOURCE_DIR) + "/tests/data/manifest-cases.json";
  std::ifstream file(path);
  INFO(path);
  REQUIRE(file.good());
  std::stringstream text;
  text << file.rdbuf();
  const json cases = json::parse(text.str(), nullptr, false);
  REQUIRE_FALSE(cases.is_discarded());
  return cases;
}

std::string text_or_empty(const json& row, const char* key) { return row.value(key, std::string()); }

}  // namespace

TEST_CASE("the manifest cases read as tests/data/manifest-cases.json says", "[app][manifest]") {
  const json cases = read_cases()["cases"];
  REQUIRE(cases.size() >= 10);
  for (const json& one : cases) {
    const std::string name = one["name"];
    // A manifest given as a JSON value reaches the reader as its compact text; "text" is passed as is.
    const std::string text = one.contains("text") ? one["text"].get<std::string>() : one["manifest"].dump();
    const ParsedManifest parsed = parse_manifest(text);
    INFO("case: " << name << "\nmanifest: " << text << "\nproblems: " << joined(parsed.problems));

    const std::vector<std::string> problems = one["problems"];
    CHECK(parsed.problems == problems);

    const json& models = one["models"];
    REQUIRE(parsed.models.size() == models.size());
    for (std::size_t i = 0; i < models.size(); ++i) {
      const json& want = models[i];
      const ModelEntry& got = parsed.models[i];
      INFO("model " << i + 1 << ": " << want.dump());
      CHECK(got.name == text_or_empty(want, "name"));
      CHECK(got.file == text_or_empty(want, "file"));
      CHECK(got.architecture == text_or_empty(want, "architecture"));
      CHECK(got.dataset == text_or_empty(want, "dataset"));
      CHECK(got.dtype == text_or_empty(want, "dtype"));
      CHECK(got.sha256 == text_or_empty(want, "sha256"));
      CHECK(got.record == text_or_empty(want, "record"));
      // Kept as a float: equal to the manifest's number within float rounding (1e-6 relative).
      CHECK(got.test_accuracy == Approx(want.value("test_accuracy", -1.0)).epsilon(1e-6));
      CHECK(got.bytes == want.value("bytes", std::uint64_t(0)));
      CHECK(got.is_default == want.value("default", false));
      CHECK_FALSE(got.user_file);
    }

    const json& sweeps = one["sweeps"];
    REQUIRE(parsed.sweeps.size() == sweeps.size());
    for (std::size_t i = 0; i < sweeps.size(); ++i) {
      INFO("sweep " << i + 1 << ": " << sweeps[i].dump());
      CHECK(parsed.sweeps[i].name == text_or_empty(sweeps[i], "name"));
      CHECK(parsed.sweeps[i].file == text_or_empty(sweeps[i], "file"));
      CHECK(parsed.sweeps[i].about == text_or_empty(sweeps[i], "about"));
    }
  }
}

TEST_CASE("safe relative paths", "[app][manifest]") {
  CHECK(is_safe_relative_path("a.dlw"));
  CHECK(is_safe_relative_path("dir/a.dlw"));
  CHECK(is_safe_relative_path(std::string(200, 'a')));
  for (const char* bad : {"", "/a", "../a", "a/../b", "c:\\a", "http://x/a", "a?b", "a#b", "a\\b"})
    CHECK_FALSE(is_safe_relative_path(bad));
  CHECK_FALSE(is_safe_relative_path(std::string(201, 'a')));
}
