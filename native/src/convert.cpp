// `digitlab convert`: re-encodes a weights file as float32, float16 or int8, measures the new file's test
// accuracy with the Eigen core (what the browser will run) and writes it on the card. Read next: export.cpp.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <fmt/format.h>

#include "atomic_file.hpp"
#include "commands.hpp"
#include "digitlab/idx.hpp"
#include "digitlab/weights.hpp"
#include "options.hpp"

namespace digitlab::trainer {

namespace {

int convert_error(const Error& error) {
  std::fprintf(stderr, "digitlab convert: error: %s\n", describe(error).c_str());
  return kExitError;
}

std::vector<float> normalised(const IdxImages& images, std::uint32_t index, const ModelCard& card) {
  std::vector<float> input(std::size_t(images.rows) * images.cols);
  for (std::size_t p = 0; p < input.size(); ++p)
    input[p] = (float(images.image(index)[p]) / 255.f - card.normalize_mean) / card.normalize_std;
  return input;
}

}  // namespace

int run_convert(const ConvertOptions& options) {
  DType dtype;
  if (options.dtype == "float32") dtype = DType::float32;
  else if (options.dtype == "float16") dtype = DType::float16;
  else if (options.dtype == "int8") dtype = DType::int8;
  else return convert_error(make_error(ErrorCode::bad_argument, "dtype", 0, "--dtype must be float32, float16 or int8"));

  auto loaded = load_weights_file(options.input);
  if (!loaded) return convert_error(loaded.error());
  Model model = std::move(loaded.value().model);

  auto dataset = find_dataset(model.card.dataset);
  if (!dataset) return convert_error(dataset.error());
  std::string data_dir = options.data_dir;
  if (data_dir.empty()) {
    const char* root = std::getenv("DIGITLAB_DATA_DIR");
    data_dir = std::string(root && *root ? root : DIGITLAB_DEFAULT_DATA_DIR) + "/" + dataset.value().folder;
  }
  auto test = load_idx_dataset(data_dir, "t10k");
  if (!test) return convert_error(test.error());

  // Encode once to learn the converted weights' accuracy, then again with it on the card. The self-test
  // input is the first test image, as the trainer stores it.
  WriteOptions write_options;
  write_options.dtype = dtype;
  write_options.self_test_input = normalised(test.value().images, 0, model.card);
  auto first = write_weights(model, write_options);
  if (!first) return convert_error(first.error());
  auto converted = load_weights(ByteSpan(first.value()));
  if (!converted) return convert_error(converted.error());
  const Model& quantised = converted.value().model;
  std::uint32_t correct = 0;
  for (std::uint32_t i = 0; i < test.value().size(); ++i) {
    std::vector<float> input = normalised(test.value().images, i, model.card);
    auto prediction = forward(quantised, input.data(), input.size());
    if (!prediction) return convert_error(prediction.error());
    correct += prediction.value().label == test.value().labels.labels[i];
  }
  const float accuracy = float(double(correct) / test.value().size());
  const float before = model.card.test_accuracy;
  model.card.test_accuracy = accuracy;
  auto bytes = write_weights(model, write_options);
  if (!bytes) return convert_error(bytes.error());
  if (auto written = write_file_atomically(options.output, bytes.value()); !written) return convert_error(written.error());
  std::cout << fmt::format("Wrote {} ({}, {} bytes): test accuracy {:.2f} % with the Eigen core (source card: {:.2f} %)\n",
                           options.output, options.dtype, bytes.value().size(), 100.0 * accuracy, 100.0 * before);
  return kExitOk;
}

}  // namespace digitlab::trainer
