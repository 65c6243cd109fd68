// Process-wide settings made once at start-up, before any tensor exists: OpenBLAS kernels that match the
// CPU, and a malloc that keeps freed memory. Also describes the BLAS for the run header.
// Read next: main.cpp (calls both first).
#pragma once

#include <string>

namespace digitlab::trainer {

// OpenBLAS 0.3.21 (Debian bookworm) does not know recent Xeons and falls back to its "Prescott" (SSE3)
// kernels: matrix products run 4x slower than with its AVX-512 ("SkylakeX") kernels on the same CPU.
// OpenBLAS reads OPENBLAS_CORETYPE only when it loads, so when it has chosen a core older than the CPU's
// instruction sets allow, this sets OPENBLAS_CORETYPE and re-executes the program (once). It does nothing
// when OPENBLAS_CORETYPE is already set, when DIGITLAB_BLAS_CORE=keep, or with another BLAS.
void select_blas_kernels(char** argv);

// Training allocates and frees the same large activations every step (a 6 MB batch-norm output, its
// gradient, ...). glibc returns such blocks to the kernel on free (mmap threshold, heap trimming), so every
// step pays page faults to get them back: a quarter of the CNN's CPU time here. This keeps freed memory
// in the process for reuse (what PyTorch's docs get from jemalloc or tcmalloc).
void keep_freed_memory();

// "OpenBLAS 0.3.21 ... core SkylakeX (set by digitlab: OpenBLAS chose Prescott)" or "" when unknown.
std::string blas_description();

}  // namespace digitlab::trainer
