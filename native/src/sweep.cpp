// `digitlab sweep`: the tutorial's comparisons (learning rates, batch sizes, SGD vs Adam, StepLR) as one
// grid of training runs. Prints and saves the results table (Markdown and CSV) and keeps the best model.
// Every run leaves its run record and weights in <out-dir>/runs/, and the table is built from those
// records. With --workers N (or --devices cuda:0,cuda:1,...) the runs go to N child processes of this
// program at a time, each on its own cores or GPU. A sweep started again in the same folder reuses the runs
// an earlier one finished with the same recipe (--fresh: train them all again), so a stopped grid goes on
// where it stopped.
// Read next: launcher.hpp, graph.cpp.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "atomic_file.hpp"
#include "commands.hpp"
#include "console.hpp"
#include "digitlab/bytes.hpp"
#include "launcher.hpp"
#include "trainer.hpp"

namespace digitlab::trainer {

namespace {

int sweep_error(const Error& error) {
  std::fprintf(stderr, "digitlab sweep: error: %s\n", describe(error).c_str());
  return error.code == ErrorCode::bad_argument ? kExitUsage : kExitError;  // a command-line mistake, as CLI11's
}

// Every combination, checked before the first one trains: a typo must not surface an hour in.
Result<std::vector<TrainOptions>> make_grid(const SweepOptions& options) {
  std::vector<TrainOptions> grid;
  for (const auto& optimizer : options.optimizers)
    for (double learning_rate : options.learning_rates)
      for (int batch_size : options.batch_sizes)
        for (const auto& scheduler : options.schedulers) {
          TrainOptions run = options.base;
          run.optimizer = optimizer;
          run.learning_rate = learning_rate;
          run.batch_size = batch_size;
          run.scheduler = scheduler;
          run.quiet = true;
          run.print_model = false;
          run.write_outputs = false;
          run.progress = "off";
          run.output = options.out_dir + "/best.dlw";
          run.record = options.out_dir + "/best.dlw.json";
          if (auto valid = run.validate(); !valid) return valid.error();
          grid.push_back(run);
        }
  if (grid.empty()) return make_error(ErrorCode::bad_argument, "grid", 0, "the grid is empty");
  return grid;
}

std::string run_file(const SweepOptions& options, std::size_t index, const char* extension) {
  return fmt::format("{}/runs/run-{}{}", options.out_dir, index + 1, extension);
}

// The model's weights file (self-test input: the first test image) and its run record, as the sweep keeps
// them for the best run, at `weights_path` and `record_path`.
Status write_model_files(TrainResult result, const std::string& weights_path, const std::string& record_path) {
  auto test = load_split(result.options.data_dir, "t10k", 1, torch::kCPU);
  if (!test) return test.error();
  const Normalizer normalizer(result.model.card.normalize_mean, result.model.card.normalize_std, torch::kCPU);
  auto bytes = weights_bytes(result.model, normalizer.image(test.value().images[0]));
  if (!bytes) return bytes.error();
  result.weights_bytes = static_cast<std::int64_t>(bytes.value().size());
  result.options.output = weights_path;
  result.options.record = record_path;
  if (auto written = write_file_atomically(weights_path, bytes.value()); !written) return written.error();
  if (auto written = write_file_atomically(record_path, run_record(result).dump(2) + "\n"); !written)
    return written.error();
  return Ok{};
}

// A results-table row from a run record: the figures a serial and a parallel sweep share.
std::vector<std::string> table_row(std::size_t index, const TrainOptions& run, const nlohmann::json& record) {
  const auto& epochs = record.at("epochs");
  return {std::to_string(index + 1), run.optimizer, fmt::format("{:g}", run.learning_rate),
          std::to_string(run.batch_size), run.scheduler, std::to_string(run.epochs),
          fmt::format("{:.2f}", 100 * record.at("test").at("accuracy").get<double>()),
          fmt::format("{:.4f}", epochs.empty() ? 0.0 : epochs.back().at("train_loss").get<double>()),
          fmt::format("{:.2f}", record.at("timings").at("seconds_per_epoch").get<double>())};
}

Result<nlohmann::json> read_record(const std::string& path) {
  auto text = read_file(path, 1ull << 28);
  if (!text) return text.error();
  try {
    return nlohmann::json::parse(text.value().begin(), text.value().end());
  } catch (const nlohmann::json::exception& error) {
    return make_error(ErrorCode::bad_value, "record", 0, path + " is not a run record: " + error.what());
  }
}

// A finished run of this configuration from an earlier sweep in the same folder: its record, when the
// record and the weights are there and the recipe (every option that changes the result) is the same.
std::optional<nlohmann::json> earlier_run(const SweepOptions& options, std::size_t index, const TrainOptions& run) {
  if (options.fresh) return std::nullopt;
  std::ifstream weights(run_file(options, index, ".dlw"));
  if (!weights) return std::nullopt;
  auto record = read_record(run_file(options, index, ".dlw.json"));
  if (!record || !record.value().contains("config") || !record.value().contains("test")) return std::nullopt;
  const nlohmann::json recipe = run.recipe_json();  // named: items() must not outlive it
  const nlohmann::json& config = record.value()["config"];
  for (const auto& [key, value] : recipe.items())
    if (!config.contains(key) || config[key] != value) return std::nullopt;
  return record.value();
}

// The child side of --workers: one configuration, its files in <out-dir>/runs/.
int run_one(const SweepOptions& options, const std::vector<TrainOptions>& grid) {
  if (options.run_index > static_cast<int>(grid.size()))
    return sweep_error(make_error(ErrorCode::bad_argument, "run-index", 0,
                                  fmt::format("--run-index {} is outside the grid (1 to {})", options.run_index,
                                              grid.size())));
  const std::size_t index = static_cast<std::size_t>(options.run_index - 1);
  TrainOptions run = grid[index];
  run.log_prefix = fmt::format("[{}/{}] ", index + 1, grid.size());  // its lines among the other runs'
  auto result = train(run);
  if (!result) return sweep_error(result.error());
  if (Status written = write_model_files(result.value(), run_file(options, index, ".dlw"),
                                         run_file(options, index, ".dlw.json"));
      !written)
    return sweep_error(written.error());
  return kExitOk;
}

// The parent side: the grid in child processes, `parallel` at a time; the records in <out-dir>/runs/.
Status run_in_children(const SweepOptions& options, const std::vector<TrainOptions>& grid,
                       const std::vector<std::string>& args) {
  const std::size_t parallel = options.devices.empty() ? static_cast<std::size_t>(options.workers) : options.devices.size();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = options.base.threads > 0 ? options.base.threads : std::max(1, cores / int(parallel));
  std::vector<std::string> child_args = args;
  for (const char* name : {"--workers", "--devices", "--threads", "--device"}) child_args = without_option(child_args, name);
  std::vector<ChildSpec> specs;
  std::vector<std::size_t> config_of;  // the grid index of each child
  for (std::size_t i = 0; i < grid.size(); ++i) {
    if (auto earlier = earlier_run(options, i, grid[i])) {
      std::cout << fmt::format("[{}/{}] {}: done by an earlier sweep, test accuracy {:.2f} % (reused; --fresh "
                               "trains it again)\n",
                               i + 1, grid.size(), grid[i].recipe(), 100 * (*earlier)["test"]["accuracy"].get<double>());
      continue;
    }
    config_of.push_back(i);
    ChildSpec spec;
    spec.label = fmt::format("run {}/{}", i + 1, grid.size());
    spec.args = child_args;
    for (const std::string& extra : {std::string("--run-index"), std::to_string(i + 1), std::string("--threads"),
                                     std::to_string(threads), std::string("--device"),
                                     options.devices.empty() ? options.base.device : std::string("cuda")})
      spec.args.push_back(extra);
    specs.push_back(spec);
  }
  ChildRunOptions run_options;
  run_options.command = "digitlab sweep";
  run_options.parallel = parallel;
  run_options.grace = std::chrono::milliseconds(0);  // one failed configuration fails the sweep at once
  if (!options.devices.empty()) {
    // Each child sees only its GPU (CUDA_VISIBLE_DEVICES): the k-th child at a time gets the k-th device.
    run_options.environment_for = [&](std::size_t, std::size_t slot) {
      const std::string& device = options.devices[slot % options.devices.size()];
      return std::vector<std::pair<std::string, std::string>>{{"CUDA_VISIBLE_DEVICES", device.substr(5)}};
    };
  }
  run_options.on_exit = [&](std::size_t child, const ChildExit& exit) {
    const std::size_t i = config_of[child];
    if (!exit.ok()) return;
    auto record = read_record(run_file(options, i, ".dlw.json"));
    std::cout << fmt::format("[{}/{}] {}: {}\n", i + 1, grid.size(), grid[i].recipe(),
                             record ? fmt::format("test accuracy {:.2f} %",
                                                  100 * record.value().at("test").at("accuracy").get<double>())
                                    : std::string("(no record)"))
              << std::flush;
  };
  std::cout << fmt::format("Running {} at a time ({}), {} CPU thread{} each\n", parallel,
                           options.devices.empty() ? "child processes" : "one per GPU", threads,
                           threads == 1 ? "" : "s");
  const ChildResults results = run_children(specs, run_options);
  if (results.first_failure >= 0) {
    const std::size_t failed = config_of[results.first_failure];
    return make_error(ErrorCode::io, "sweep", 0,
                      fmt::format("run {} ({}) failed (its error is above); the other runs were stopped. The "
                                  "finished ones are kept: the same command goes on from there",
                                  failed + 1, grid[failed].recipe()));
  }
  return Ok{};
}

Status check_devices(const std::vector<std::string>& devices) {
  for (const auto& device : devices) {
    const bool numbered = device.size() > 5 && device.rfind("cuda:", 0) == 0 &&
                          std::all_of(device.begin() + 5, device.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!numbered)
      return make_error(ErrorCode::bad_argument, "devices", 0,
                        "--devices '" + device + "': give GPUs as cuda:0,cuda:1,... (for CPU cores use --workers N)");
  }
  return Ok{};
}

}  // namespace

int run_sweep(SweepOptions options, const std::vector<std::string>& args) {
  TrainOptions& base = options.base;
  base.resolve_defaults();
  if (options.out_dir.empty()) options.out_dir = "build/sweep/" + base.dataset + "-" + base.model;
  if (options.workers < 0 || options.workers > 256)
    return sweep_error(make_error(ErrorCode::bad_argument, "workers", 0, "--workers must be 1 to 256 processes"));
  if (Status devices = check_devices(options.devices); !devices) return sweep_error(devices.error());
  auto made = make_grid(options);
  if (!made) return sweep_error(made.error());
  const std::vector<TrainOptions>& grid = made.value();
  if (options.run_index > 0) return run_one(options, grid);

  std::cout << fmt::format("Sweep: {} runs of {} on {}, {} epoch(s) each, seed {}; results in {}\n", grid.size(),
                           base.model, base.dataset, base.epochs, base.seed, options.out_dir);
  // Every run's files in <out-dir>/runs/: trained here one after another, or by child processes.
  const bool parallel = options.workers > 0 || !options.devices.empty();
  if (parallel) {
    if (Status ran = run_in_children(options, grid, args); !ran) return sweep_error(ran.error());
  } else {
    for (std::size_t i = 0; i < grid.size(); ++i) {
      if (auto earlier = earlier_run(options, i, grid[i])) {
        std::cout << fmt::format("[{}/{}] {}: done by an earlier sweep, test accuracy {:.2f} % (reused; --fresh "
                                 "trains it again)\n",
                                 i + 1, grid.size(), grid[i].recipe(),
                                 100 * (*earlier)["test"]["accuracy"].get<double>());
        continue;
      }
      std::cout << fmt::format("[{}/{}] {}\n", i + 1, grid.size(), grid[i].recipe());
      auto result = train(grid[i]);
      if (!result) return sweep_error(result.error());
      if (Status written = write_model_files(result.value(), run_file(options, i, ".dlw"),
                                             run_file(options, i, ".dlw.json"));
          !written)
        return sweep_error(written.error());
    }
  }
  std::vector<nlohmann::json> records(grid.size());
  for (std::size_t i = 0; i < grid.size(); ++i) {
    auto record = read_record(run_file(options, i, ".dlw.json"));
    if (!record) return sweep_error(record.error());
    records[i] = record.value();
  }

  TextTable table;
  table.header = {"run", "optimizer", "lr", "batch", "scheduler", "epochs", "test acc %", "train loss", "s/epoch"};
  std::size_t best = 0;
  for (std::size_t i = 0; i < grid.size(); ++i) {
    table.rows.push_back(table_row(i, grid[i], records[i]));
    if (records[i]["test"]["accuracy"].get<double>() > records[best]["test"]["accuracy"].get<double>()) best = i;
  }
  table.rows[best][0] += " (best)";
  const nlohmann::json& best_record = records[best];
  std::cout << "\n" << table.render();
  const std::string markdown =
      fmt::format("# Sweep: {} on {}\n\nEach run: {} epoch(s), seed {}, {} training images; test accuracy on {} "
                  "test images.\n\n{}\nBest: run {} ({}), test accuracy {:.2f} %.\n",
                  base.model, base.dataset, base.epochs, base.seed,
                  best_record["data"]["train_images"].get<std::int64_t>(),
                  best_record["data"]["test_images"].get<std::int64_t>(), table.render_markdown(), best + 1,
                  grid[best].recipe(), 100 * best_record["test"]["accuracy"].get<double>());
  if (auto written = write_file_atomically(options.out_dir + "/sweep.md", markdown); !written)
    return sweep_error(written.error());
  if (auto written = write_file_atomically(options.out_dir + "/sweep.csv", table.render_csv()); !written)
    return sweep_error(written.error());

  // The best model: weights file and run record.
  const std::string weights_path = grid[best].output, record_path = grid[best].record;
  {
    auto bytes = read_file(run_file(options, best, ".dlw"), 1ull << 30);
    if (!bytes) return sweep_error(bytes.error());
    nlohmann::json record = best_record;
    record["weights"]["path"] = weights_path;
    record["config"]["output"] = weights_path;
    if (auto written = write_file_atomically(weights_path, bytes.value()); !written) return sweep_error(written.error());
    if (auto written = write_file_atomically(record_path, record.dump(2) + "\n"); !written)
      return sweep_error(written.error());
  }
  std::cout << fmt::format("\nBest: run {} ({:.2f} %). Wrote {}/sweep.md, {}/sweep.csv, {} and {}\n", best + 1,
                           100 * best_record["test"]["accuracy"].get<double>(), options.out_dir, options.out_dir,
                           weights_path, record_path);
  return kExitOk;
}

}  // namespace digitlab::trainer
