// `digitlab`: the LibTorch trainer's entry point. Kept thin: the subcommands live in commands.cpp.
// Read next: commands.hpp (the list of subcommands and their options).
#include "process_setup.hpp"
#include "commands.hpp"

int main(int argc, char** argv) {
  // First, before any matrix product: may re-execute the program with faster OpenBLAS kernels.
  digitlab::trainer::select_blas_kernels(argv);
  digitlab::trainer::keep_freed_memory();
  return digitlab::trainer::run_cli(argc, argv);
}
