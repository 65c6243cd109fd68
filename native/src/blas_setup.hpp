// Makes OpenBLAS use the kernels this CPU supports when its own detection falls back to old ones, and
// describes the BLAS in use for the run header. Read next: main.cpp (calls it first).
#pragma once

#include <string>

namespace digitlab::trainer {

// OpenBLAS 0.3.21 (Debian bookworm) does not know recent Xeons and falls back to its "Prescott" (SSE3)
// kernels: matrix products run 4x slower than with its AVX-512 ("SkylakeX") kernels on the same CPU.
// OpenBLAS reads OPENBLAS_CORETYPE only when it loads, so when it has chosen a core older than the CPU's
// instruction sets allow, this sets OPENBLAS_CORETYPE and re-executes the program (once). It does nothing
// when OPENBLAS_CORETYPE is already set, when DIGITLAB_BLAS_CORE=keep, or with another BLAS.
void select_blas_kernels(char** argv);

// "OpenBLAS 0.3.21 ... core SkylakeX (set by digitlab: OpenBLAS chose Prescott)" or "" when unknown.
std::string blas_description();

}  // namespace digitlab::trainer
