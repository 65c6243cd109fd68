// The subcommands of `digitlab` (train, eval, sweep, graph, info, bench): their options and entry points.
// run_cli() parses the command line with CLI11 and dispatches. Read next: commands.cpp, then the file of
// each command (evaluate.cpp, sweep.cpp, graph.cpp, bench.cpp; train is trainer.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/error.hpp"
#include "digitlab/model.hpp"
#include "options.hpp"

namespace digitlab::trainer {

// Exit codes of the program.
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,          // bad data, unreadable file, failed write
  kExitUsage = 2,          // bad command line
  kExitCheckFailed = 3,    // eval: LibTorch and the Eigen core disagree
};

int run_cli(int argc, char** argv);

// One line for the terminal: the message for argument and I/O errors, the full form (code, field, byte
// offset) for errors inside a file.
std::string describe(const Error& error);

struct EvalOptions {
  std::string weights;
  std::string dataset;   // default: the model card's dataset
  std::string data_dir;  // default: <data>/<dataset folder>
  std::int64_t limit = 0;
  std::string device = "auto";
  int threads = 0;
  double tolerance = 1e-4;  // largest |logit difference| accepted between LibTorch and the core
  bool json = false;
};
int run_eval(const EvalOptions& options);

struct SweepOptions {
  TrainOptions base;  // dataset, model, epochs, seed, limits, device, threads
  std::vector<double> learning_rates{0.1, 0.01, 0.001};
  std::vector<int> batch_sizes{64};
  std::vector<std::string> optimizers{"sgd", "adam"};
  std::vector<std::string> schedulers{"none"};
  std::string out_dir;  // default build/sweep/<dataset>-<model>
  int workers = 0;                   // --workers N: N runs at a time in child processes (0: one after another)
  std::vector<std::string> devices;  // --devices cuda:0,cuda:1: one run per GPU at a time
  int run_index = 0;                 // a child of --workers: run only this configuration (1-based)
  bool fresh = false;                // train every configuration, even those an earlier sweep finished
};
// `args`: the command line after the program name, for the children of --workers.
int run_sweep(SweepOptions options, const std::vector<std::string>& args);

struct GraphOptions {
  std::string model;    // an architecture name, or
  std::string weights;  // a weights file
  std::string output;   // default: stdout
};
int run_graph(const GraphOptions& options);
// The DOT text itself: a node per layer (kind, sizes, parameters), edges labelled with tensor shapes.
std::string graph_dot(const Model& model, const std::vector<ActivationShape>& shapes);

struct InfoOptions {
  std::string weights;
  bool json = false;
};
int run_info(const InfoOptions& options);

struct ConvertOptions {
  std::string input, output;
  std::string dtype = "float16";  // float32 | float16 | int8
  std::string data_dir;           // default: <data>/<the card's dataset folder>
};
int run_convert(const ConvertOptions& options);

struct BenchOptions {
  std::vector<std::string> models{"mlp", "cnn"};
  std::vector<std::string> datasets{"mnist"};
  std::vector<int> threads{1};
  int epochs = 1;
  std::int64_t limit_train = 0;
  std::string device = "cpu";
  std::string data_dir;
  std::string json;  // also write the results here
  bool channels_last = true;
};
int run_bench(const BenchOptions& options);

}  // namespace digitlab::trainer
