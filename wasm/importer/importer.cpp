// The PyTorch importer the page fetches only when a .pth / .pt / .safetensors file arrives (the demo stays
// small): the file's bytes in, a digitlab weights file (.dlw) out, or one sentence saying what is wrong and
// what to do. No ImGui, no GL: the core's reader and importer only. Read next: web/page.js (loadWeights),
// shared/include/digitlab/pytorch.hpp, docs/pytorch.md.
#include <emscripten.h>

#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/pytorch.hpp"
#include "digitlab/weights.hpp"

namespace {

std::vector<std::uint8_t> output;  // the last successful import's .dlw bytes
std::string message;               // the last call's answer ("" = success)

const char* answer(std::string text) {
  message = std::move(text);
  return message.c_str();
}

}  // namespace

extern "C" {

// Converts the bytes of `name` with the given assumptions; "" on success (then digitlab_import_output()
// and digitlab_import_output_size() give the weights file), else the error as one line.
EMSCRIPTEN_KEEPALIVE const char* digitlab_import(const std::uint8_t* bytes, int size, const char* name,
                                                  const char* architecture, double mean, double std_dev,
                                                  const char* activation, const char* dataset) {
  output.clear();
  digitlab::pytorch::ImportOptions options;
  options.architecture = architecture;
  options.normalize_mean = float(mean);
  options.normalize_std = float(std_dev);
  options.activation = activation;
  options.dataset = dataset;
  options.source = name;
  auto state = digitlab::pytorch::read_state_dict(digitlab::ByteSpan(bytes, std::size_t(size < 0 ? 0 : size)));
  if (!state) return answer(state.error().to_string());
  auto model = digitlab::pytorch::import_state_dict(state.value(), options);
  if (!model) return answer(model.error().to_string());
  auto written = digitlab::write_weights(model.value());
  if (!written) return answer(written.error().to_string());
  output = std::move(written).value();
  return answer("");
}

EMSCRIPTEN_KEEPALIVE const std::uint8_t* digitlab_import_output() { return output.data(); }
EMSCRIPTEN_KEEPALIVE int digitlab_import_output_size() { return int(output.size()); }

}  // extern "C"

int main() { return 0; }
