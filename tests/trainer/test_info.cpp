// `digitlab info` on every shipped weights file prints exactly the core's layer rows (describe.hpp), the
// words the network teaching panel shows (tests/app/test_panel_network.cpp ties the panel to the same).
// Read next: native/src/commands.cpp (run_info), shared/src/describe.cpp.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "digitlab/describe.hpp"
#include "digitlab/text.hpp"
#include "digitlab/weights.hpp"

// LibTorch brings glog, whose CHECK() aborts the process; Catch's CHECK() records and carries on.
#undef CHECK
#include <catch2/catch.hpp>

using namespace digitlab;
using namespace digitlab::trainer;

namespace {

// run_info() with std::cout captured.
std::string info_output(const InfoOptions& options, int* exit_code) {
  std::ostringstream captured;
  std::streambuf* saved = std::cout.rdbuf(captured.rdbuf());
  *exit_code = run_info(options);
  std::cout.rdbuf(saved);
  return captured.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> shipped_weights() {
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(DIGITLAB_SOURCE_DIR "/weights"))
    if (entry.path().extension() == ".dlw") paths.push_back(entry.path().string());
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace

TEST_CASE("digitlab info prints the core's layer rows for every shipped weights file", "[info]") {
  const std::vector<std::string> paths = shipped_weights();
  REQUIRE(paths.size() >= 4);
  for (const std::string& path : paths) {
    INFO(path);
    auto loaded = load_weights_file(path);
    REQUIRE(loaded);
    const Model& model = loaded.value().model;
    const std::vector<LayerDescription> described = describe_layers(model);
    REQUIRE(described.size() == model.layers.size());

    int exit_code = -1;
    const std::vector<std::string> lines = lines_of(info_output({path, false}, &exit_code));
    CHECK(exit_code == kExitOk);
    const auto layers_line = std::find(lines.begin(), lines.end(), "Layers:");
    REQUIRE(layers_line != lines.end());
    // The rows right after "Layers:", then the total: nothing else in between.
    const std::size_t first = std::size_t(layers_line - lines.begin()) + 1;
    REQUIRE(lines.size() == first + described.size() + 1);
    for (std::size_t i = 0; i < described.size(); ++i) {
      INFO("layer " << i);
      CHECK(described[i].output_shape != "?");
      CHECK(lines[first + i] == layer_table_row(i, described[i]));
    }
    CHECK(lines.back() == "Total parameters: " + with_thousands(parameter_count(model)));

    const nlohmann::json json = nlohmann::json::parse(info_output({path, true}, &exit_code));
    CHECK(exit_code == kExitOk);
    REQUIRE(json.at("layers").size() == model.layers.size());
    for (std::size_t i = 0; i < model.layers.size(); ++i)
      CHECK(json["layers"][i]["description"] == layer_words(model.layers[i]));
  }
}
