// The command line: CLI11 definitions of every subcommand, error reporting and exit codes, and the two
// small commands (train's driver and info). Read next: trainer.cpp (what train does), evaluate.cpp.
#include "commands.hpp"

#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "console.hpp"
#include "digitlab/bytes.hpp"
#include "digitlab/weights.hpp"
#include "digitlab/weights_format.hpp"  // dtype_name
#include "import_export.hpp"
#include "trainer.hpp"

namespace digitlab::trainer {

std::string describe(const Error& error) {
  if (error.code == ErrorCode::bad_argument || error.code == ErrorCode::io) return error.message;
  // "truncated at byte 100000 (data): ..." for a place inside a file; "bad_value (checkpoint.recipe): ..."
  std::string text = error_code_name(error.code);
  if (error.offset > 0) text += " at byte " + std::to_string(error.offset);
  if (!error.field.empty()) text += " (" + error.field + ")";
  return text + ": " + error.message;
}

namespace {

constexpr const char* kExitCodes =
    "Exit codes: 0 success, 1 error (data, files), 2 bad command line, 3 eval check failed.";

int fail(const std::string& command, const Error& error) {
  std::fprintf(stderr, "digitlab %s: error: %s\n", command.c_str(), describe(error).c_str());
  return kExitError;
}

// ---- train --------------------------------------------------------------------------------------------------

void add_recipe_options(CLI::App* app, TrainOptions& options, bool with_recipe) {
  app->add_option("--dataset", options.dataset, "mnist or fashion (Fashion-MNIST)")
      ->check(CLI::IsMember({"mnist", "fashion", "fashion-mnist"}))
      ->capture_default_str();
  app->add_option("--model", options.model, "mlp (784-512-512-10), mlp-deep (784-1024-1024-512-512-10) or cnn")
      ->check(CLI::IsMember({"mlp", "mlp-deep", "cnn"}))
      ->capture_default_str();
  app->add_option("--epochs", options.epochs, "passes over the training set")->capture_default_str();
  if (with_recipe) {
    app->add_option("--batch-size", options.batch_size, "images per step")->capture_default_str();
    app->add_option("--lr", options.learning_rate, "learning rate")->capture_default_str();
    app->add_option("--momentum", options.momentum, "SGD momentum (sgd only)")->capture_default_str();
    app->add_option("--optimizer", options.optimizer, "sgd, adam or adamw")
        ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
        ->capture_default_str();
    app->add_option("--weight-decay", options.weight_decay, "L2 penalty (sgd, adam) or decoupled decay (adamw)")
        ->capture_default_str();
    app->add_option("--scheduler", options.scheduler,
                    "none, step:STEP:GAMMA (StepLR: lr x GAMMA every STEP epochs) or cosine (to 0 over the run)")
        ->capture_default_str();
    app->add_option("--augment", options.augmentation, "none, or a comma-separated list of: shift:N (move each image by up to N pixels), draw (rotation, scale, shear, shift, pen thickness: for drawn digits), flip (mirror half the images: Fashion-MNIST)")
        ->capture_default_str();
  }
  app->add_option("--seed", options.seed, "seeds the initial weights, the data order and dropout")
      ->capture_default_str();
  app->add_option("--device", options.device, "auto (cuda when available), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  app->add_option("--threads", options.threads, "CPU threads; 0: every core")->capture_default_str();
  app->add_option("--data-dir", options.data_dir,
                  "folder with the idx files (train-images-idx3-ubyte[.gz], ...); default data/<dataset>");
  app->add_option("--limit-train", options.limit_train, "use only the first N training images (0: all)")
      ->capture_default_str();
  app->add_option("--limit-test", options.limit_test, "evaluate on the first N test images (0: all)")
      ->capture_default_str();
}

int run_train(TrainOptions options) {
  auto result = train(std::move(options));
  if (!result) {
    fail("train", result.error());
    // An option train() rejected is a command-line mistake, like the ones CLI11 rejects.
    return result.error().code == ErrorCode::bad_argument ? kExitUsage : kExitError;
  }
  return kExitOk;
}

// ---- info ---------------------------------------------------------------------------------------------------

std::string layer_text(const Layer& layer) {
  switch (layer.kind) {
    case LayerKind::linear: return fmt::format("linear {} -> {}", layer.in_features, layer.out_features);
    case LayerKind::conv2d:
      return fmt::format("conv2d {} -> {}, kernel {}, stride {}, padding {}", layer.in_channels, layer.out_channels,
                         layer.kernel, layer.stride, layer.padding);
    case LayerKind::batch_norm: return fmt::format("batch_norm {} channels, eps {:g}", layer.channels, layer.eps);
    case LayerKind::leaky_relu: return fmt::format("leaky_relu alpha {:g}", layer.alpha);
    case LayerKind::max_pool2d: return fmt::format("max_pool2d kernel {}, stride {}", layer.kernel, layer.stride);
    case LayerKind::dropout: return fmt::format("dropout p {:g} (identity at inference)", layer.dropout_p);
    default: return layer_kind_name(layer.kind);
  }
}

}  // namespace

int run_info(const InfoOptions& options) {
  auto bytes = read_file(options.weights, 1ull << 30);
  if (!bytes) return fail("info", bytes.error());
  auto loaded = load_weights(bytes.value());
  if (!loaded) {
    Error error = loaded.error();
    error.message = options.weights + ": " + error.message;
    return fail("info", error);
  }
  const LoadedWeights& weights = loaded.value();
  const ModelCard& card = weights.model.card;
  auto shapes = infer_shapes(weights.model);
  if (options.json) {
    nlohmann::json layers = nlohmann::json::array();
    for (std::size_t i = 0; i < weights.model.layers.size(); ++i) {
      const Layer& layer = weights.model.layers[i];
      layers.push_back({{"kind", layer_kind_name(layer.kind)},
                        {"description", layer_text(layer)},
                        {"output_shape", shapes ? shapes.value()[i].dims : std::vector<std::int64_t>{}},
                        {"parameters", parameter_count(layer)}});
    }
    nlohmann::json json = {
        {"path", options.weights},
        {"bytes", bytes.value().size()},
        {"dtype", weights_format::dtype_name(weights.dtype)},
        {"card",
         {{"architecture", card.architecture}, {"dataset", card.dataset}, {"class_names", card.class_names},
          {"input", {card.input_channels, card.input_height, card.input_width}},
          {"normalize_mean", card.normalize_mean}, {"normalize_std", card.normalize_std}, {"recipe", card.recipe},
          {"test_accuracy", card.test_accuracy}, {"trainer_version", card.trainer_version}}},
        {"self_test", {{"present", weights.has_self_test}, {"max_abs_diff", weights.self_test_max_abs_diff}}},
        {"layers", layers},
        {"parameters", parameter_count(weights.model)}};
    std::cout << json.dump(2) << "\n";
    return kExitOk;
  }
  std::string classes;
  for (std::size_t i = 0; i < card.class_names.size(); ++i) classes += (i ? ", " : "") + card.class_names[i];
  std::cout << fmt::format("Weights file:   {} ({} bytes, {})\n", options.weights,
                           with_thousands(static_cast<std::int64_t>(bytes.value().size())), weights_format::dtype_name(weights.dtype));
  std::cout << fmt::format("Architecture:   {}\n", card.architecture);
  std::cout << fmt::format("Dataset:        {} ({} classes: {})\n", card.dataset, card.class_names.size(), classes);
  std::cout << fmt::format("Input:          {}x{}x{}, normalised as (pixel/255 - {:g}) / {:g}\n", card.input_channels,
                           card.input_height, card.input_width, card.normalize_mean, card.normalize_std);
  std::cout << fmt::format("Recipe:         {}\n", card.recipe);
  std::cout << (card.test_accuracy >= 0
                    ? fmt::format("Test accuracy:  {:.2f} % (full test set)\n", 100.0 * card.test_accuracy)
                    : std::string("Test accuracy:  unknown\n"));
  std::cout << fmt::format("Trainer:        {}\n", card.trainer_version);
  std::cout << (weights.has_self_test
                    ? fmt::format("Self-test:      passed on load (max |logit diff| {:.3g})\n", weights.self_test_max_abs_diff)
                    : std::string("Self-test:      none stored\n"));
  std::cout << "Layers:\n";
  for (std::size_t i = 0; i < weights.model.layers.size(); ++i) {
    const Layer& layer = weights.model.layers[i];
    std::string shape = "?";
    if (shapes) {
      shape = "(";
      for (std::size_t d = 0; d < shapes.value()[i].dims.size(); ++d)
        shape += (d ? ", " : "") + std::to_string(shapes.value()[i].dims[d]);
      shape += ")";
    }
    const std::int64_t count = parameter_count(layer);
    std::cout << fmt::format("  {:>2}  {:<46} {:>14}  {:>10}\n", i, layer_text(layer), shape,
                             count ? with_thousands(count) : "-");
  }
  std::cout << fmt::format("Total parameters: {}\n", with_thousands(parameter_count(weights.model)));
  return kExitOk;
}

// ---- the command line ---------------------------------------------------------------------------------------

int run_cli(int argc, char** argv) {
  CLI::App app{"digitlab: train the PyTorch tutorial's MNIST / Fashion-MNIST networks with LibTorch, export them "
               "for the Eigen core and the web app, and check the two agree."};
  app.name("digitlab");
  app.require_subcommand(1);
  app.footer(kExitCodes);

  TrainOptions train_options;
  auto* train_command = app.add_subcommand(
      "train", "Train a model with the tutorial's recipe (or another); write the weights file and a run record");
  add_recipe_options(train_command, train_options, true);
  train_command->add_option("-o,--output", train_options.output,
                            "weights file (default build/weights/<dataset>-<model>.dlw)");
  train_command->add_option("--record", train_options.record, "run record, JSON (default <output>.json)");
  train_command->add_option("--checkpoint", train_options.checkpoint,
                            "checkpoint written at the end of every epoch (default <output>.ckpt)");
  train_command->add_option("--resume", train_options.resume,
                            "continue the run saved in this checkpoint (same options otherwise)");
  train_command->add_option("--checkpoint-every", train_options.checkpoint_every,
                            "also checkpoint every N steps (0: only at the end of each epoch)")
      ->capture_default_str();
  train_command->add_option("--stop-after-steps", train_options.stop_after_steps,
                            "checkpoint and stop after N steps in all, as a crash would (for testing --resume)")
      ->capture_default_str();
  train_command->add_option("--log-every", train_options.log_every, "print the loss every N steps")
      ->capture_default_str();
  train_command->add_option("--progress", train_options.progress,
                            "progress bar with throughput and ETA: auto (when stderr is a terminal), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  train_command->add_flag("--quiet", train_options.quiet, "one line per epoch");
  bool no_channels_last = false;
  train_command->add_flag("--no-channels-last", no_channels_last,
                          "keep CPU convolutions in NCHW layout (slower; for comparisons)");
  train_command->footer(kExitCodes);

  EvalOptions eval_options;
  auto* eval_command = app.add_subcommand(
      "eval", "Run a weights file over a test set with LibTorch and with the Eigen core; report accuracy and "
              "agreement (identical predictions and logits within --tolerance required)");
  eval_command->add_option("weights", eval_options.weights, "a digitlab weights file")->required();
  eval_command->add_option("--dataset", eval_options.dataset, "mnist or fashion (default: the model card's)")
      ->check(CLI::IsMember({"mnist", "fashion", "fashion-mnist"}));
  eval_command->add_option("--data-dir", eval_options.data_dir, "folder with the idx files");
  eval_command->add_option("--limit", eval_options.limit, "only the first N test images (0: all)")
      ->capture_default_str();
  eval_command->add_option("--device", eval_options.device, "auto, cpu or cuda (for LibTorch)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  eval_command->add_option("--threads", eval_options.threads, "CPU threads for LibTorch; 0: every core")
      ->capture_default_str();
  eval_command->add_option("--tolerance", eval_options.tolerance,
                           "largest |logit difference| accepted between LibTorch and the core")
      ->capture_default_str();
  eval_command->add_flag("--json", eval_options.json, "print one JSON object instead of text");
  eval_command->footer(kExitCodes);

  SweepOptions sweep_options;
  sweep_options.base.epochs = 1;
  auto* sweep_command = app.add_subcommand(
      "sweep", "Train a grid of learning rates, batch sizes, optimizers and schedules; print and save the results "
               "table (Markdown and CSV) and keep the best model");
  add_recipe_options(sweep_command, sweep_options.base, false);
  sweep_command->add_option("--lrs", sweep_options.learning_rates, "learning rates, comma separated")
      ->delimiter(',')
      ->capture_default_str();
  sweep_command->add_option("--batch-sizes", sweep_options.batch_sizes, "batch sizes, comma separated")
      ->delimiter(',')
      ->capture_default_str();
  sweep_command->add_option("--optimizers", sweep_options.optimizers, "sgd, adam, adamw, comma separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
      ->capture_default_str();
  sweep_command->add_option("--schedulers", sweep_options.schedulers,
                            "none, step:STEP:GAMMA, cosine, comma separated")
      ->delimiter(',')
      ->capture_default_str();
  sweep_command->add_option("--momentum", sweep_options.base.momentum, "SGD momentum")->capture_default_str();
  sweep_command->add_option("--out-dir", sweep_options.out_dir,
                            "results folder (default build/sweep/<dataset>-<model>)");
  sweep_command->footer(kExitCodes);

  GraphOptions graph_options;
  auto* graph_command = app.add_subcommand(
      "graph", "Print the network as Graphviz DOT (render: digitlab graph --model cnn | dot -Tsvg > cnn.svg)");
  auto* graph_model = graph_command->add_option("--model", graph_options.model, "mlp, mlp-deep or cnn")
                          ->check(CLI::IsMember({"mlp", "mlp-deep", "cnn"}));
  auto* graph_weights = graph_command->add_option("weights", graph_options.weights, "a digitlab weights file");
  graph_model->excludes(graph_weights);
  graph_command->add_option("-o,--output", graph_options.output, "write the DOT text here instead of stdout");
  graph_command->footer(kExitCodes);

  InfoOptions info_options;
  auto* info_command = app.add_subcommand("info", "Print a weights file's model card, layers and self-test result");
  info_command->add_option("weights", info_options.weights, "a digitlab weights file")->required();
  info_command->add_flag("--json", info_options.json, "print one JSON object instead of text");
  info_command->footer(kExitCodes);

  ConvertOptions convert_options;
  auto* convert_command = app.add_subcommand(
      "convert", "Re-encode a weights file as float32, float16 or int8; the card gets the new file's test accuracy (Eigen core)");
  convert_command->add_option("input", convert_options.input, "a digitlab weights file")->required();
  convert_command->add_option("-o,--output", convert_options.output, "the converted file")->required();
  convert_command->add_option("--dtype", convert_options.dtype, "float32, float16 or int8 (per-output-channel scales)")
      ->check(CLI::IsMember({"float32", "float16", "int8"}))
      ->capture_default_str();
  convert_command->add_option("--data-dir", convert_options.data_dir, "folder with the test set's idx files");
  convert_command->footer(kExitCodes);

  BenchOptions bench_options;
  auto* bench_command = app.add_subcommand(
      "bench", "Time training epochs with the tutorial's recipe (seconds per epoch, images per second)");
  bench_command->add_option("--models", bench_options.models, "models, comma separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"mlp", "mlp-deep", "cnn"}))
      ->capture_default_str();
  bench_command->add_option("--datasets", bench_options.datasets, "datasets, comma separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"mnist", "fashion", "fashion-mnist"}))
      ->capture_default_str();
  bench_command->add_option("--threads", bench_options.threads, "thread counts to try, comma separated")
      ->delimiter(',')
      ->capture_default_str();
  bench_command->add_option("--epochs", bench_options.epochs, "epochs per measurement")->capture_default_str();
  bench_command->add_option("--limit-train", bench_options.limit_train, "only the first N training images")
      ->capture_default_str();
  bench_command->add_option("--device", bench_options.device, "cpu, cuda or auto")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  bench_command->add_option("--data-dir", bench_options.data_dir, "folder with the idx files");
  bench_command->add_option("--json", bench_options.json, "also write the results to this JSON file");
  bool bench_nchw = false;
  bench_command->add_flag("--no-channels-last", bench_nchw, "keep CPU convolutions in NCHW layout");
  bench_command->footer(kExitCodes);

  ImportExportCommands import_export(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    std::string where = "digitlab";
    for (const auto* command : app.get_subcommands()) where += " " + command->get_name();
    std::fprintf(stderr, "%s: error: %s\nRun '%s --help' for the options.\n", where.c_str(), error.what(),
                 where.c_str());
    return kExitUsage;
  }

  if (*train_command) {
    train_options.channels_last = !no_channels_last;
    return run_train(train_options);
  }
  if (import_export.selected()) return import_export.run();
  if (*eval_command) return run_eval(eval_options);
  if (*convert_command) return run_convert(convert_options);
  if (*sweep_command) return run_sweep(sweep_options);
  if (*graph_command) {
    if (graph_options.model.empty() && graph_options.weights.empty()) {
      std::fprintf(stderr, "digitlab graph: error: give --model NAME or a weights file\n");
      return kExitUsage;
    }
    return run_graph(graph_options);
  }
  if (*info_command) return run_info(info_options);
  if (*bench_command) {
    bench_options.channels_last = !bench_nchw;
    return run_bench(bench_options);
  }
  return kExitUsage;
}

}  // namespace digitlab::trainer
