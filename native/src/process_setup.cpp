// OpenBLAS kernel selection and malloc settings (see process_setup.hpp for why). Read next: trainer.cpp.
#include "process_setup.hpp"

#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace digitlab::trainer {

namespace {

using CharFunction = char* (*)();

const char* openblas_string(const char* symbol) {
  // Looked up at run time: the program links the generic libblas.so.3, which may or may not be OpenBLAS.
  auto function = reinterpret_cast<CharFunction>(::dlsym(RTLD_DEFAULT, symbol));
  return function ? function() : nullptr;
}

// OpenBLAS cores that use AVX2 or better; anything else on an AVX2/AVX-512 CPU is a failed detection.
bool is_modern_core(const char* core) {
  for (const char* name : {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"})
    if (std::strcmp(core, name) == 0) return true;
  return false;
}

const char* best_core_for_this_cpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}

}  // namespace

void select_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE")) return;
  const char* policy = std::getenv("DIGITLAB_BLAS_CORE");
  if (policy && std::strcmp(policy, "keep") == 0) return;
  if (std::getenv("DIGITLAB_BLAS_CHOSEN_BY")) return;  // we already re-executed once
  const char* core = openblas_string("openblas_get_corename");
  if (!core || is_modern_core(core)) return;
  const char* better = best_core_for_this_cpu();
  if (!better) return;
  ::setenv("OPENBLAS_CORETYPE", better, 1);
  ::setenv("DIGITLAB_BLAS_CHOSEN_BY", core, 1);  // remembered for the run header
  ::execv("/proc/self/exe", argv);
  // execv failed (no /proc?): carry on with the slow kernels rather than fail.
  ::unsetenv("OPENBLAS_CORETYPE");
}

void keep_freed_memory() {
  // Blocks up to 32 MiB (glibc's largest allowed threshold; a batch of 64 needs at most 6.4 MB) come from
  // the heap, and the heap is trimmed only above 1 GiB of free space.
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

std::string blas_description() {
  const char* config = openblas_string("openblas_get_config");
  const char* core = openblas_string("openblas_get_corename");
  if (!config || !core) return "";
  std::string text = std::string(config) + ", kernels " + core;
  if (const char* replaced = std::getenv("DIGITLAB_BLAS_CHOSEN_BY"))
    text += std::string(" (set by digitlab through OPENBLAS_CORETYPE: OpenBLAS had picked ") + replaced +
            " for this CPU; DIGITLAB_BLAS_CORE=keep disables this)";
  return text;
}

}  // namespace digitlab::trainer
