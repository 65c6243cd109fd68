// Small text helpers for the app's tests: what INFO prints when a list of problem sentences is checked.
// Read next: test_url_options.cpp, test_manifest.cpp.
#pragma once

#include <string>
#include <vector>

namespace digitlab::app::testing {

// The sentences one after another, " | " between them.
inline std::string joined(const std::vector<std::string>& problems) {
  std::string text;
  for (const std::string& p : problems) text += p + " | ";
  return text;
}

}  // namespace digitlab::app::testing
