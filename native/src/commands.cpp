// The command line: error reporting and exit codes, the two small commands (train's driver and info), then
// one add_*_command() per subcommand declaring its CLI11 options, and run_cli(), which parses and
// dispatches. Read next: trainer.cpp (what train does), evaluate.cpp.
#include "commands.hpp"

#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "console.hpp"
#include "digitlab/bytes.hpp"
#include "digitlab/describe.hpp"
#include "digitlab/weights.hpp"
#include "digitlab/weights_format.hpp"  // dtype_name
#include "distributed.hpp"
#include "import_export.hpp"
#include "launcher.hpp"
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
    app->add_option("--augment", options.augmentation, "none, or a comma-separated list of: shift:N (move each image by up to N pixels), draw (rotation, scale, shear, shift, pen thickness: for drawn digits), flip (mirror half the images: Fashion-MNIST), pen[:F] (replace a fraction F, default 0.1, of each batch by synthetic pen drawings of the same digits in the styles of tests/data/digit_styles.json; run from the repository root)")
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

// `args`: the command line after the program name, for the workers --nproc starts.
int run_train(TrainOptions options, const std::vector<std::string>& args) {
  auto world = world_from_environment();
  if (!world) return fail("train", world.error()), kExitUsage;
  if (options.nproc > 0) {
    if (world.value())
      return fail("train", make_error(ErrorCode::bad_argument, "nproc", 0,
                                      "--nproc starts its own workers, but this process already is one (RANK is "
                                      "set, as torchrun sets it): leave out --nproc under torchrun")),
             kExitUsage;
    // Checked once here, so a mistake is reported once rather than by every worker.
    options.resolve_defaults();
    if (Status valid = options.validate(); !valid) return fail("train", valid.error()), kExitUsage;
    // The device too: a missing GPU is said once, not by every worker.
    auto environment = prepare_environment(options.device, 1);
    if (!environment) return fail("train", environment.error()), kExitUsage;
    const bool cuda = environment.value().device.is_cuda();
    if (cuda && options.nproc > static_cast<int>(torch::cuda::device_count()))
      return fail("train", make_error(ErrorCode::bad_argument, "nproc", 0,
                                      fmt::format("--nproc {} on CUDA needs a GPU per worker, and this machine has "
                                                  "{}: use --nproc {} or --device cpu",
                                                  options.nproc, torch::cuda::device_count(),
                                                  std::max<std::int64_t>(1, torch::cuda::device_count())))),
             kExitUsage;
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int threads = options.threads > 0 ? options.threads : std::max(1, cores / options.nproc);
    return launch_local_workers(options.nproc, args, threads);
  }
  const std::string command = world.value() ? fmt::format("train (rank {})", world.value()->rank) : "train";
  auto result = train(std::move(options));
  if (!result) {
    fail(command, result.error());
    // An option train() rejected is a command-line mistake, like the ones CLI11 rejects.
    return result.error().code == ErrorCode::bad_argument ? kExitUsage : kExitError;
  }
  return kExitOk;
}

}  // namespace

// ---- info ---------------------------------------------------------------------------------------------------

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
                        {"description", layer_words(layer)},
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
  // The layer table in the core's words (describe.hpp), the same the network teaching panel shows.
  std::cout << "Layers:\n";
  const std::vector<LayerDescription> layers = describe_layers(weights.model);
  for (std::size_t i = 0; i < layers.size(); ++i) std::cout << layer_table_row(i, layers[i]) << "\n";
  std::cout << fmt::format("Total parameters: {}\n", with_thousands(parameter_count(weights.model)));
  return kExitOk;
}

// ---- the command line ---------------------------------------------------------------------------------------
// One add_*_command() per subcommand: it declares the subcommand and its options on `app` and returns what
// runs it once the command line is parsed. Adding a subcommand: write its add_*_command() below (options
// struct and run_* entry point in commands.hpp) and list it in run_cli()'s `subcommands`.

namespace {

struct Subcommand {
  CLI::App* command;          // chosen when *command is true after parsing
  std::function<int()> run;   // runs it with the parsed options; returns the exit code
};

Subcommand add_train_command(CLI::App& app, const std::vector<std::string>& args) {
  auto options = std::make_shared<TrainOptions>();
  auto no_channels_last = std::make_shared<bool>(false);
  auto* command = app.add_subcommand(
      "train", "Train a model with the tutorial's recipe (or another); write the weights file and a run record");
  add_recipe_options(command, *options, true);
  command->add_option("-o,--output", options->output, "weights file (default build/weights/<dataset>-<model>.dlw)");
  command->add_option("--record", options->record, "run record, JSON (default <output>.json)");
  command->add_option("--checkpoint", options->checkpoint,
                      "checkpoint written at the end of every epoch (default <output>.ckpt)");
  command->add_option("--resume", options->resume, "continue the run saved in this checkpoint (same options otherwise)");
  command->add_option("--checkpoint-every", options->checkpoint_every,
                      "also checkpoint every N steps (0: only at the end of each epoch)")
      ->capture_default_str();
  command->add_option("--stop-after-steps", options->stop_after_steps,
                      "checkpoint and stop after N steps in all, as a crash would (for testing --resume)")
      ->capture_default_str();
  command->add_option("--log-every", options->log_every, "print the loss every N steps")->capture_default_str();
  command->add_option("--progress", options->progress,
                      "progress bar with throughput and ETA: auto (when stderr is a terminal), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  command->add_flag("--quiet", options->quiet, "one line per epoch");
  command->add_flag("--no-channels-last", *no_channels_last, "keep CPU convolutions in NCHW layout (slower; for comparisons)");
  command->add_option("--nproc", options->nproc,
                      "data-parallel: start N worker processes on this machine (as torchrun would); --batch-size is "
                      "per worker, --threads per worker (default: the cores shared out)");
  command->add_flag("--sync-bn", options->sync_batch_norm,
                    "data-parallel: batch-norm statistics over every worker's batch (default: per worker, as DDP)");
  command->add_option("--dist-timeout", options->dist_timeout,
                      "data-parallel: seconds to wait for the other workers (rendezvous, each all-reduce)")
      ->capture_default_str();
  command->footer(std::string(kExitCodes) +
                  "\nData-parallel: run under torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), or "
                  "give --nproc N; see docs/trainer.md.");
  return {command, [options, no_channels_last, args] {
            options->channels_last = !*no_channels_last;
            return run_train(*options, args);
          }};
}

Subcommand add_eval_command(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  auto* command = app.add_subcommand(
      "eval", "Run a weights file over a test set with LibTorch and with the Eigen core; report accuracy and "
              "agreement (identical predictions and logits within --tolerance required)");
  command->add_option("weights", options->weights, "a digitlab weights file")->required();
  command->add_option("--dataset", options->dataset, "mnist or fashion (default: the model card's)")
      ->check(CLI::IsMember({"mnist", "fashion", "fashion-mnist"}));
  command->add_option("--data-dir", options->data_dir, "folder with the idx files");
  command->add_option("--limit", options->limit, "only the first N test images (0: all)")->capture_default_str();
  command->add_option("--device", options->device, "auto, cpu or cuda (for LibTorch)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  command->add_option("--threads", options->threads, "CPU threads for LibTorch; 0: every core")->capture_default_str();
  command->add_option("--tolerance", options->tolerance,
                      "largest |logit difference| accepted between LibTorch and the core")
      ->capture_default_str();
  command->add_flag("--json", options->json, "print one JSON object instead of text");
  command->footer(kExitCodes);
  return {command, [options] { return run_eval(*options); }};
}

Subcommand add_sweep_command(CLI::App& app, const std::vector<std::string>& args) {
  auto options = std::make_shared<SweepOptions>();
  options->base.epochs = 1;
  auto* command = app.add_subcommand(
      "sweep", "Train a grid of learning rates, batch sizes, optimizers and schedules; print and save the results "
               "table (Markdown and CSV) and keep the best model");
  add_recipe_options(command, options->base, false);
  command->add_option("--lrs", options->learning_rates, "learning rates, comma separated")
      ->delimiter(',')
      ->capture_default_str();
  command->add_option("--batch-sizes", options->batch_sizes, "batch sizes, comma separated")
      ->delimiter(',')
      ->capture_default_str();
  command->add_option("--optimizers", options->optimizers, "sgd, adam, adamw, comma separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
      ->capture_default_str();
  command->add_option("--schedulers", options->schedulers, "none, step:STEP:GAMMA, cosine, comma separated")
      ->delimiter(',')
      ->capture_default_str();
  command->add_option("--momentum", options->base.momentum, "SGD momentum")->capture_default_str();
  command->add_option("--out-dir", options->out_dir, "results folder (default build/sweep/<dataset>-<model>)");
  command->add_option("--workers", options->workers,
                      "train N configurations at a time in child processes, the cores shared out (--threads: each)");
  command->add_option("--devices", options->devices, "one configuration per GPU at a time: cuda:0,cuda:1,...")
      ->delimiter(',');
  command->add_option("--run-index", options->run_index, "(internal: a --workers child runs this configuration)")
      ->group("");
  command->add_flag("--fresh", options->fresh,
                    "train every configuration again (default: reuse the runs an earlier sweep in --out-dir finished "
                    "with the same recipe)");
  command->footer(kExitCodes);
  return {command, [options, args] { return run_sweep(*options, args); }};
}

Subcommand add_graph_command(CLI::App& app) {
  auto options = std::make_shared<GraphOptions>();
  auto* command = app.add_subcommand(
      "graph", "Print the network as Graphviz DOT (render: digitlab graph --model cnn | dot -Tsvg > cnn.svg)");
  auto* model = command->add_option("--model", options->model, "mlp, mlp-deep or cnn")
                    ->check(CLI::IsMember({"mlp", "mlp-deep", "cnn"}));
  auto* weights = command->add_option("weights", options->weights, "a digitlab weights file");
  model->excludes(weights);
  command->add_option("-o,--output", options->output, "write the DOT text here instead of stdout");
  command->footer(kExitCodes);
  return {command, [options] {
            if (options->model.empty() && options->weights.empty()) {
              std::fprintf(stderr, "digitlab graph: error: give --model NAME or a weights file\n");
              return int(kExitUsage);
            }
            return run_graph(*options);
          }};
}

Subcommand add_info_command(CLI::App& app) {
  auto options = std::make_shared<InfoOptions>();
  auto* command = app.add_subcommand("info", "Print a weights file's model card, layers and self-test result");
  command->add_option("weights", options->weights, "a digitlab weights file")->required();
  command->add_flag("--json", options->json, "print one JSON object instead of text");
  command->footer(kExitCodes);
  return {command, [options] { return run_info(*options); }};
}

Subcommand add_convert_command(CLI::App& app) {
  auto options = std::make_shared<ConvertOptions>();
  auto* command = app.add_subcommand(
      "convert", "Re-encode a weights file as float32, float16 or int8; the card gets the new file's test accuracy (Eigen core)");
  command->add_option("input", options->input, "a digitlab weights file")->required();
  command->add_option("-o,--output", options->output, "the converted file")->required();
  command->add_option("--dtype", options->dtype, "float32, float16 or int8 (per-output-channel scales)")
      ->check(CLI::IsMember({"float32", "float16", "int8"}))
      ->capture_default_str();
  command->add_option("--data-dir", options->data_dir, "folder with the test set's idx files");
  command->footer(kExitCodes);
  return {command, [options] { return run_convert(*options); }};
}

Subcommand add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  auto nchw = std::make_shared<bool>(false);
  auto* command = app.add_subcommand(
      "bench", "Time training epochs with the tutorial's recipe (seconds per epoch, images per second)");
  command->add_option("--models", options->models, "models, comma separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"mlp", "mlp-deep", "cnn"}))
      ->capture_default_str();
  command->add_option("--datasets", options->datasets, "datasets, comma separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"mnist", "fashion", "fashion-mnist"}))
      ->capture_default_str();
  command->add_option("--threads", options->threads, "thread counts to try, comma separated")
      ->delimiter(',')
      ->capture_default_str();
  command->add_option("--epochs", options->epochs, "epochs per measurement")->capture_default_str();
  command->add_option("--limit-train", options->limit_train, "only the first N training images")->capture_default_str();
  command->add_option("--device", options->device, "cpu, cuda or auto")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  command->add_option("--data-dir", options->data_dir, "folder with the idx files");
  command->add_option("--json", options->json, "also write the results to this JSON file");
  command->add_flag("--no-channels-last", *nchw, "keep CPU convolutions in NCHW layout");
  command->footer(kExitCodes);
  return {command, [options, nchw] {
            options->channels_last = !*nchw;
            return run_bench(*options);
          }};
}

Subcommand add_import_command(CLI::App& app) {
  auto options = std::make_shared<ImportCommandOptions>();
  return {add_import_subcommand(app, *options), [options] { return run_import(*options); }};
}

Subcommand add_export_command(CLI::App& app) {
  auto options = std::make_shared<ExportCommandOptions>();
  return {add_export_subcommand(app, *options), [options] { return run_export(*options); }};
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"digitlab: train the PyTorch tutorial's MNIST / Fashion-MNIST networks with LibTorch, export them "
               "for the Eigen core and the web app, and check the two agree."};
  app.name("digitlab");
  app.require_subcommand(1);
  app.footer(kExitCodes);
  // In the order `digitlab --help` lists them.
  const std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  const std::vector<Subcommand> subcommands = {
      add_train_command(app, args), add_eval_command(app),    add_sweep_command(app, args), add_graph_command(app),
      add_info_command(app),  add_convert_command(app), add_bench_command(app), add_import_command(app),
      add_export_command(app),
  };

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
  for (const Subcommand& subcommand : subcommands)
    if (*subcommand.command) return subcommand.run();
  return kExitUsage;
}

}  // namespace digitlab::trainer
