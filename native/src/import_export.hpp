// `digitlab import` (a PyTorch state_dict -> a .dlw, with LibTorch's check, self-test and test accuracy) and
// `digitlab export` (a .dlw -> a torch.save file the tutorial's classes load). Read next: import_export.cpp,
// shared/include/digitlab/pytorch.hpp (the reader and the architecture import they use), docs/pytorch.md.
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace digitlab::trainer {

struct ImportCommandOptions {
  std::string input, output;
  std::string architecture = "auto";  // auto | mlp | deep-mlp | cnn
  std::string normalize = "0.5,0.5";  // MEAN,STD as the tutorial's Normalize((0.5,), (0.5,))
  std::string activation = "relu";
  std::string dataset = "mnist";      // mnist | fashion | fashion-mnist
  std::string data_dir;               // default <data>/<dataset folder>
  std::int64_t limit_test = 0;        // evaluate on the first N test images (0: all; the card's accuracy then)
  bool no_test_set = false;           // no accuracy; the self-test input is then a seeded one
  int threads = 0;
};
int run_import(const ImportCommandOptions& options);

struct ExportCommandOptions {
  std::string input, output;
};
int run_export(const ExportCommandOptions& options);

// Declare the subcommands and their options on `app`; parsing fills `options` (commands.cpp lists them
// with the others and runs run_import / run_export).
CLI::App* add_import_subcommand(CLI::App& app, ImportCommandOptions& options);
CLI::App* add_export_subcommand(CLI::App& app, ExportCommandOptions& options);

}  // namespace digitlab::trainer
