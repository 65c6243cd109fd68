// Reads weights/manifest.json on the desktop (in the browser web/manifest.js reads it with the same rules:
// docs/embedding.md, "The model manifest"; both are tested on tests/data/manifest-cases.json). A bad entry
// is skipped with a message; nothing throws. Read next: manifest.cpp, platform/desktop_platform.cpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/model_catalog.hpp"

namespace digitlab::app {

struct ParsedManifest {
  std::vector<ModelEntry> models;
  std::vector<SweepEntry> sweeps;
  std::vector<std::string> problems;  // one sentence each; a manifest that is not JSON gives one and no models
};

ParsedManifest parse_manifest(std::string_view json_text);

// A manifest "file" must stay inside the weights folder: relative, no "..", no scheme, no backslash.
bool is_safe_relative_path(std::string_view path);

}  // namespace digitlab::app
