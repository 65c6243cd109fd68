// The manifest rules of manifest.hpp, with nlohmann::json used without exceptions (parse with
// allow_exceptions=false, every field's type checked before it is read). Read next: platform/desktop_platform.cpp.
#include "common/manifest.hpp"

#include <nlohmann/json.hpp>

namespace digitlab::app {

namespace {

bool is_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
      return false;
  return true;
}

bool is_sha256(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

bool is_safe_relative_path(std::string_view path) {
  if (path.empty() || path.size() > 200 || path.front() == '/') return false;
  if (path.find("..") != std::string_view::npos || path.find(':') != std::string_view::npos ||
      path.find('\\') != std::string_view::npos || path.find('?') != std::string_view::npos ||
      path.find('#') != std::string_view::npos)
    return false;
  return true;
}

ParsedManifest parse_manifest(std::string_view json_text) {
  ParsedManifest parsed;
  const nlohmann::json manifest = nlohmann::json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (manifest.is_discarded()) {
    parsed.problems.push_back("weights/manifest.json is not valid JSON; rebuild the site or fix the file.");
    return parsed;
  }
  if (!manifest.is_object() || !manifest.contains("models") || !manifest["models"].is_array()) {
    parsed.problems.push_back("weights/manifest.json has no \"models\" list (expected {\"models\": [...]}).");
    return parsed;
  }
  bool have_default = false;
  std::size_t number = 0;
  for (const nlohmann::json& row : manifest["models"]) {
    const std::string where = "weights/manifest.json, model " + std::to_string(++number);
    if (!row.is_object()) {
      parsed.problems.push_back(where + " is not an object; skipped.");
      continue;
    }
    auto text = [&](const char* key) {
      return row.contains(key) && row[key].is_string() ? row[key].get<std::string>() : std::string();
    };
    ModelEntry entry;
    entry.name = text("name");
    entry.file = text("file");
    if (!is_name(entry.name)) {
      parsed.problems.push_back(where + ": \"name\" must be letters, digits, '-', '_' or '.'; skipped.");
      continue;
    }
    if (!is_safe_relative_path(entry.file)) {
      parsed.problems.push_back(where + " (" + entry.name + "): \"file\" must be a path inside weights/; skipped.");
      continue;
    }
    entry.architecture = text("architecture");
    entry.dataset = text("dataset");
    entry.dtype = text("dtype");
    if (row.contains("test_accuracy") && row["test_accuracy"].is_number()) {
      const double accuracy = row["test_accuracy"].get<double>();
      if (accuracy >= 0.0 && accuracy <= 1.0) entry.test_accuracy = float(accuracy);
    }
    if (row.contains("bytes") && row["bytes"].is_number_unsigned()) entry.bytes = row["bytes"].get<std::uint64_t>();
    entry.record = text("record");
    if (!entry.record.empty() && !is_safe_relative_path(entry.record)) {
      parsed.problems.push_back(where + " (" + entry.name + "): \"record\" must be a path inside weights/; ignored.");
      entry.record.clear();
    }
    entry.sha256 = text("sha256");
    if (!entry.sha256.empty() && !is_sha256(entry.sha256)) {
      parsed.problems.push_back(where + " (" + entry.name + "): \"sha256\" is not 64 lower-case hex digits; ignored.");
      entry.sha256.clear();
    }
    if (row.contains("default") && row["default"].is_boolean() && row["default"].get<bool>()) {
      if (have_default)
        parsed.problems.push_back(where + " (" + entry.name + ") is a second default; the first one counts.");
      else
        entry.is_default = have_default = true;
    }
    parsed.models.push_back(std::move(entry));
  }
  if (manifest.contains("sweeps") && manifest["sweeps"].is_array()) {
    number = 0;
    for (const nlohmann::json& row : manifest["sweeps"]) {
      const std::string where = "weights/manifest.json, sweep " + std::to_string(++number);
      auto text = [&](const char* key) {
        return row.is_object() && row.contains(key) && row[key].is_string() ? row[key].get<std::string>() : std::string();
      };
      SweepEntry sweep{text("name"), text("file"), text("about")};
      if (!is_name(sweep.name) || !is_safe_relative_path(sweep.file)) {
        parsed.problems.push_back(where + " needs a \"name\" (letters, digits, '-', '_', '.') and a \"file\" inside "
                                  "weights/; skipped.");
        continue;
      }
      parsed.sweeps.push_back(std::move(sweep));
    }
  }
  return parsed;
}

}  // namespace digitlab::app
