// PyTorch's files, read without PyTorch: a torch.save archive (ZIP + a pickle that is parsed, never
// executed) or a .safetensors file becomes a list of named tensors (read_state_dict), and a list of named
// tensors of a known architecture becomes a digitlab model (import_state_dict), and back (export_state_dict).
// Same code natively and in WebAssembly. Read next: docs/pytorch.md, shared/src/pytorch_read.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/bytes.hpp"
#include "digitlab/error.hpp"
#include "digitlab/model.hpp"
#include "digitlab/weights.hpp"

namespace digitlab::pytorch {

// ---- reading the file (src/pytorch_read.cpp, src/zip_archive.cpp, src/pickle.cpp, src/safetensors.cpp) ---
enum class TensorDType : std::uint8_t { float32, float16, bfloat16, float64, int64 };
const char* tensor_dtype_name(TensorDType dtype);  // "float32", ...

struct NamedTensor {
  std::string name;                 // as saved, after unwrapping ("conv1.weight"), prefixes removed
  TensorDType dtype = TensorDType::float32;  // what the file stored
  std::vector<std::int64_t> shape;  // () for a scalar
  std::vector<float> values;        // row-major, contiguous, converted to float32 (float dtypes)
  std::vector<std::int64_t> integers;  // row-major, contiguous (int64 tensors, e.g. num_batches_tracked)
};

struct StateDict {
  std::vector<NamedTensor> tensors;  // in the file's order
  std::string container;             // "torch.save zip" or "safetensors"
  std::string root;                  // the archive's root folder ("model", "archive"); "" for safetensors
  std::string unwrapped;             // "" or how it was found: "checkpoint['model_state_dict']", "prefix 'module.'"
  const NamedTensor* find(const std::string& name) const;
};

struct ReadLimits {
  std::uint64_t max_file_bytes = 512ull << 20;     // whole file
  std::uint64_t max_tensor_bytes = 256ull << 20;   // one storage
  std::uint64_t max_pickle_ops = 1u << 20;         // opcodes executed
  std::uint32_t max_stack_depth = 10000;           // nesting (MARK / containers)
  std::uint32_t max_memo = 1u << 20;               // memo entries
  std::uint32_t max_tensors = 4096;
  std::uint64_t max_total_tensor_bytes = 1ull << 30;  // all tensors as read (float32 / int64), views included
  std::uint32_t max_tensor_dims = 16;              // dimensions of one tensor
};

// A torch.save archive (state_dict, checkpoint dict) or a .safetensors file, told apart by their bytes.
// Errors: bad_archive, bad_pickle, forbidden_global (with how to re-save), checksum_mismatch, truncated,
// offset_out_of_range, bad_dtype, over_budget, wrong_file_kind (a .dlw, PNG, pre-1.6 torch file...).
Result<StateDict> read_state_dict(ByteSpan file, const ReadLimits& limits = {});

// ---- the architecture (src/pytorch_import.cpp) -------------------------------------------------------------
struct ImportOptions {
  std::string architecture = "auto";  // auto, mlp (linear_relu_stack), deep-mlp (NeuralNetwork_v1), cnn
  float normalize_mean = 0.5f;        // the tutorial's Normalize((0.5,), (0.5,))
  float normalize_std = 0.5f;
  std::string activation = "relu";    // between linears: relu, sigmoid, tanh, leaky_relu
  std::string dataset = "mnist";      // mnist or fashion-mnist (class names on the card)
  std::string source;                 // the file's name, for the card ("imported from model.pth")
};

// Recognises the tutorial's MLP, deep MLP and CNN (other widths and depths of the same shapes too) and
// builds the model with a card that says where it came from and what was assumed. unknown_architecture
// lists the names and shapes seen and the ones expected; shape_mismatch names the tensor.
Result<Model> import_state_dict(const StateDict& state, const ImportOptions& options = {});

// What import_state_dict writes as the card's trainer_version (followed by " from <file>"): the app shows
// an imported model's assumptions, and lets them be changed, when the card starts with it.
inline constexpr const char* kImportedTrainer = "PyTorch state_dict, imported by digitlab";
inline bool is_imported(const ModelCard& card) { return card.trainer_version.rfind(kImportedTrainer, 0) == 0; }

// read_state_dict + import_state_dict + the weights file round trip, for the page and the CLI.
Result<LoadedWeights> load_pytorch(ByteSpan file, const ImportOptions& options = {});

// ---- writing (src/pytorch_export.cpp) -------------------------------------------------------------------------
// A torch.save-compatible archive of the model's state_dict under the tutorial's names, which the tutorial's
// own classes load with model.load_state_dict(torch.load(path)).
Result<std::vector<std::uint8_t>> export_state_dict(const Model& model);

}  // namespace digitlab::pytorch
