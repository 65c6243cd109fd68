// `digitlab import model.pth -o model.dlw` and `digitlab export model.dlw -o model.pth`. Import reads the file
// with the core (the same code as the web page), then checks the model with LibTorch: the network rebuilt
// from the layer list must give the core's logits on test images, its accuracy on the full test set goes on
// the card, and the first test image becomes the file's self-test. Read next: docs/pytorch.md.
#include "import_export.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "atomic_file.hpp"
#include "commands.hpp"
#include "console.hpp"
#include "dataset.hpp"
#include "digitlab/architectures.hpp"
#include "digitlab/bytes.hpp"
#include "digitlab/pytorch.hpp"
#include "digitlab/weights.hpp"
#include "export.hpp"
#include "options.hpp"
#include "trainer.hpp"

namespace digitlab::trainer {

namespace {

// LibTorch and the core on the same inputs: oneDNN/OpenBLAS and Eigen sum in other orders, about 1e-6 apart.
constexpr double kAgreementTolerance = 1e-4;
constexpr std::int64_t kAgreementImages = 100;  // the core runs one image at a time: enough to catch a wrong layer

int fail(const char* command, const Error& error, int code = kExitError) {
  std::fprintf(stderr, "digitlab %s: error: %s\n", command, describe(error).c_str());
  return code;
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "0.1307,0.3081" -> mean, std; anything else is a usage error that says what is expected.
Status parse_normalize(const std::string& text, float* mean, float* std_dev) {
  const std::string usage = "--normalize takes MEAN,STD: two numbers separated by a comma, as in the tutorial's "
                            "Normalize((0.5,), (0.5,)) -> --normalize 0.5,0.5 or PyTorch's MNIST example "
                            "--normalize 0.1307,0.3081; got '" + text + "'";
  const auto comma = text.find(',');
  if (comma == std::string::npos || text.find(',', comma + 1) != std::string::npos)
    return make_error(ErrorCode::bad_argument, "normalize", 0, usage);
  auto number = [](const std::string& part, float* out) {
    if (part.empty()) return false;
    char* end = nullptr;
    *out = std::strtof(part.c_str(), &end);
    return end == part.c_str() + part.size() && std::isfinite(*out);
  };
  if (!number(text.substr(0, comma), mean) || !number(text.substr(comma + 1), std_dev))
    return make_error(ErrorCode::bad_argument, "normalize", 0, usage);
  if (!(*std_dev > 0.f))
    return make_error(ErrorCode::bad_argument, "normalize", 0,
                      "--normalize " + text + ": STD must be positive (inputs are divided by it)");
  return Ok{};
}

// The tutorial's class that loads what export writes, for the printed hint.
std::string python_class(const ModelCard& card) {
  if (card.architecture == "mlp") return "NeuralNetwork";
  if (card.architecture == "mlp-deep") return "NeuralNetwork_v1";
  if (card.architecture.rfind("cnn", 0) == 0) return "ConvNeuralNetwork";
  return "your NeuralNetwork class (linear_relu_stack)";
}

}  // namespace

int run_import(const ImportCommandOptions& options) {
  pytorch::ImportOptions import;
  if (auto parsed = parse_normalize(options.normalize, &import.normalize_mean, &import.normalize_std); !parsed)
    return fail("import", parsed.error(), kExitUsage);
  import.architecture = options.architecture;
  import.activation = options.activation;
  import.dataset = options.dataset == "fashion" ? "fashion-mnist" : options.dataset;
  import.source = base_name(options.input);

  auto bytes = read_file(options.input, pytorch::ReadLimits{}.max_file_bytes);
  if (!bytes) return fail("import", bytes.error());
  auto loaded = pytorch::load_pytorch(ByteSpan(bytes.value()), import);
  if (!loaded) {
    Error error = loaded.error();
    error.message = options.input + ": " + error.message;
    return fail("import", error, error.code == ErrorCode::bad_argument ? kExitUsage : kExitError);
  }
  Model model = std::move(loaded.value().model);
  std::cout << fmt::format("Read {}: {} ({} parameters), {} classes of {}\n", options.input, model.card.architecture,
                           with_thousands(parameter_count(model)), model.card.class_names.size(), model.card.dataset);

  auto environment = prepare_environment("cpu", options.threads);
  if (!environment) return fail("import", environment.error());
  const Normalizer normalizer(model.card.normalize_mean, model.card.normalize_std, torch::kCPU);

  // The test set, when it is there: the card's accuracy and the self-test input come from it.
  DeviceSplit test;
  std::string data_dir = options.data_dir;
  if (!options.no_test_set) {
    auto dataset = find_dataset(model.card.dataset);
    if (!dataset) return fail("import", dataset.error());
    if (data_dir.empty()) {
      const char* root = std::getenv("DIGITLAB_DATA_DIR");
      data_dir = std::string(root && *root ? root : DIGITLAB_DEFAULT_DATA_DIR) + "/" + dataset.value().folder;
    }
    auto split = load_split(data_dir, "t10k", options.limit_test, torch::kCPU);
    if (!split) {
      Error error = split.error();
      error.message += " (or pass --no-test-set to import without the test accuracy)";
      return fail("import", error);
    }
    test = std::move(split.value());
  }

  // LibTorch: the network rebuilt from the imported layer list.
  auto built = build_network(model);
  if (!built) return fail("import", built.error());
  Network network = built.value();
  if (auto imported = import_model(*network, model); !imported) return fail("import", imported.error());

  torch::Tensor inputs;  // (N, 1, 28, 28) normalised, on the CPU
  if (test.size() > 0) {
    inputs = normalizer(test.images.slice(0, 0, std::min<std::int64_t>(test.size(), kAgreementImages)));
  } else {  // no test set: a seeded input in the normalised range, still checked and stored
    SeededRandom random(13);
    std::vector<float> values(28 * 28);
    for (float& v : values) v = random.uniform(-1.f, 1.f);
    inputs = torch::from_blob(values.data(), {1, 1, 28, 28}, torch::kFloat32).clone();
  }
  torch::Tensor torch_logits;
  {
    c10::InferenceMode inference;
    network->eval();
    torch_logits = network->forward(inputs).contiguous();
  }
  if (auto prepared = prepare(model); !prepared) return fail("import", prepared.error());
  const int classes = static_cast<int>(model.card.class_names.size());
  double worst = 0;
  std::int64_t worst_image = 0, worst_class = 0, disagreements = 0;
  for (std::int64_t i = 0; i < inputs.size(0); ++i) {
    torch::Tensor input = inputs[i].contiguous();
    auto prediction = forward(model, input.data_ptr<float>(), static_cast<std::size_t>(input.numel()));
    if (!prediction) return fail("import", prediction.error());
    const float* reference = torch_logits[i].data_ptr<float>();
    const auto& logits = prediction.value().logits;
    disagreements += std::max_element(reference, reference + classes) - reference != prediction.value().label;
    for (int c = 0; c < classes; ++c) {
      const double difference = std::fabs(double(logits[c]) - reference[c]);
      if (!(difference <= worst)) {
        worst = std::isnan(difference) ? INFINITY : difference;
        worst_image = i;
        worst_class = c;
      }
    }
  }
  std::cout << fmt::format("LibTorch vs the core on {} {}: max |logit diff| {:.3g} at input {} class {} "
                           "(tolerance {:g}), {} different predictions\n",
                           inputs.size(0), test.size() > 0 ? "test images" : "seeded input", worst, worst_image,
                           worst_class, kAgreementTolerance, disagreements);
  if (!(worst <= kAgreementTolerance) || disagreements > 0) {
    std::fprintf(stderr, "digitlab import: error: LibTorch and the core disagree on the imported model: a bug in "
                         "digitlab; please report it with the file\n");
    return kExitCheckFailed;
  }

  if (test.size() > 0) {
    const Evaluation evaluation = evaluate_logits(predict_logits(*network, test.images, normalizer), test.labels, classes);
    const bool full = options.limit_test == 0;
    model.card.test_accuracy = full ? static_cast<float>(evaluation.accuracy) : -1.f;
    std::cout << fmt::format("Test accuracy: {:.2f} % ({}/{} images of {}, LibTorch){}\n", 100 * evaluation.accuracy,
                             evaluation.correct, evaluation.count, data_dir,
                             full ? "" : "; not on the card: not the full test set");
  } else {
    std::cout << "Test accuracy: not measured (--no-test-set)\n";
  }
  model.card.trainer_version += std::string(", checked with ") + DIGITLAB_TRAINER_VERSION + " (LibTorch " +
                                environment.value().libtorch_version + ")";

  WriteOptions write_options;
  write_options.self_test_input.assign(inputs[0].data_ptr<float>(), inputs[0].data_ptr<float>() + inputs[0].numel());
  auto written = write_weights(model, write_options);
  if (!written) return fail("import", written.error());
  auto reloaded = load_weights(ByteSpan(written.value()));
  if (!reloaded) return fail("import", reloaded.error());
  if (auto saved = write_file_atomically(options.output, written.value()); !saved) return fail("import", saved.error());
  std::cout << fmt::format("Card: {}\n", model.card.recipe);
  std::cout << fmt::format("Wrote {} ({} bytes; self-test: {}, max |logit diff| {:.3g} on reload)\n", options.output,
                           with_thousands(static_cast<std::int64_t>(written.value().size())),
                           test.size() > 0 ? "the first test image" : "a seeded input",
                           reloaded.value().self_test_max_abs_diff);
  return kExitOk;
}

int run_export(const ExportCommandOptions& options) {
  auto loaded = load_weights_file(options.input);
  if (!loaded) {
    Error error = loaded.error();
    if (error.code == ErrorCode::wrong_file_kind && error.message.find("zip archive") != std::string::npos)
      error.message = options.input + " is a zip archive, as PyTorch files are, not a digitlab weights file: "
                      "export takes a .dlw; to bring a PyTorch file in, run digitlab import " + options.input +
                      " -o model.dlw";
    return fail("export", error);
  }
  const Model& model = loaded.value().model;
  auto bytes = pytorch::export_state_dict(model);
  if (!bytes) {
    Error error = bytes.error();
    error.message = options.input + ": " + error.message;
    return fail("export", error);
  }
  if (auto saved = write_file_atomically(options.output, bytes.value()); !saved) return fail("export", saved.error());
  std::cout << fmt::format("Wrote {} ({} bytes): the state_dict of {} ({}, {}).\n", options.output,
                           with_thousands(static_cast<std::int64_t>(bytes.value().size())), options.input,
                           model.card.architecture, model.card.dataset);
  std::cout << fmt::format("In Python: model = {}(); model.load_state_dict(torch.load(\"{}\")); model.eval()\n",
                           python_class(model.card), base_name(options.output));
  std::cout << fmt::format("Inputs as the card says: transforms.Normalize(({:g},), ({:g},))\n",
                           model.card.normalize_mean, model.card.normalize_std);
  return kExitOk;
}

namespace {
constexpr const char* kImportExportExitCodes =
    "Exit codes: 0 success, 1 error (data, files), 2 bad command line, 3 LibTorch and the core disagree.";
}  // namespace

CLI::App* add_import_subcommand(CLI::App& app, ImportCommandOptions& in) {
  CLI::App* command = app.add_subcommand(
      "import", "Turn a PyTorch state_dict (torch.save .pth/.pt, or .safetensors) of the tutorial's MLP, deep MLP "
                "or CNN into a digitlab weights file, checked with LibTorch, with the test accuracy on its card");
  command->add_option("model", in.input, "the PyTorch file (torch.save(model.state_dict(), \"model.pth\"))")
      ->required();
  command->add_option("-o,--output", in.output, "the digitlab weights file to write (.dlw)")->required();
  command->add_option("--arch", in.architecture,
                      "auto (from the names and shapes), mlp (NeuralNetwork), deep-mlp (NeuralNetwork_v1) "
                      "or cnn (ConvNeuralNetwork)")
      ->check(CLI::IsMember({"auto", "mlp", "deep-mlp", "mlp-deep", "cnn"}))
      ->capture_default_str();
  command->add_option("--normalize", in.normalize, "MEAN,STD of the Normalize transform the model was trained with")
      ->capture_default_str();
  command->add_option("--activation", in.activation, "between the layers: relu, sigmoid, tanh, leaky_relu")
      ->check(CLI::IsMember({"relu", "sigmoid", "tanh", "leaky_relu"}))
      ->capture_default_str();
  command->add_option("--dataset", in.dataset, "what it was trained on: mnist or fashion (class names)")
      ->check(CLI::IsMember({"mnist", "fashion", "fashion-mnist"}))
      ->capture_default_str();
  command->add_option("--data-dir", in.data_dir, "folder with the test set's idx files (default data/<dataset>)");
  command->add_option("--limit-test", in.limit_test,
                      "evaluate on the first N test images only (0: all; only the full set goes on the card)")
      ->capture_default_str();
  command->add_flag("--no-test-set", in.no_test_set, "do not read the test set (no accuracy on the card)");
  command->add_option("--threads", in.threads, "CPU threads for LibTorch; 0: every core")->capture_default_str();
  command->footer(kImportExportExitCodes);
  return command;
}

CLI::App* add_export_subcommand(CLI::App& app, ExportCommandOptions& out) {
  CLI::App* command = app.add_subcommand(
      "export", "Write a digitlab weights file as a PyTorch state_dict (torch.save format) under the tutorial's "
                "names: model.load_state_dict(torch.load(\"model.pth\")) in Python");
  command->add_option("weights", out.input, "a digitlab weights file")->required();
  command->add_option("-o,--output", out.output, "the .pth file to write")->required();
  command->footer(kImportExportExitCodes);
  return command;
}

}  // namespace digitlab::trainer
