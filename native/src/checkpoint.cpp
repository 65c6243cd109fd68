// Checkpoint files: a LibTorch archive (torch::serialize) written in memory and then atomically to disk.
// Read next: trainer.cpp (what goes into progress, and how a run resumes).
#include "checkpoint.hpp"

#include <sstream>

#include "atomic_file.hpp"
#include "digitlab/bytes.hpp"

namespace digitlab::trainer {

namespace {

constexpr const char* kFormat = "digitlab-checkpoint-1";

}  // namespace

Status save_checkpoint(const std::string& path, NetworkImpl& network, torch::optim::Optimizer& optimizer,
                       const CheckpointState& state) {
  std::ostringstream stream;
  try {
    torch::serialize::OutputArchive archive;
    archive.write("format", c10::IValue(std::string(kFormat)));
    archive.write("recipe", c10::IValue(state.recipe.dump()));
    archive.write("progress", c10::IValue(state.progress.dump()));
    archive.write("data_generator_state", state.data_generator_state);
    archive.write("default_generator_state", state.default_generator_state);
    archive.write("loss_sums", state.loss_sums.to(torch::kCPU));
    torch::serialize::OutputArchive model_archive, optimizer_archive;
    network.save(model_archive);
    optimizer.save(optimizer_archive);
    archive.write("model", model_archive);
    archive.write("optimizer", optimizer_archive);
    archive.save_to(stream);
  } catch (const c10::Error& error) {
    return make_error(ErrorCode::io, "checkpoint", 0,
                      "cannot serialise the checkpoint for " + path + ": " + error.what_without_backtrace());
  }
  return write_file_atomically(path, stream.str());
}

Status load_checkpoint(const std::string& path, NetworkImpl& network, torch::optim::Optimizer& optimizer,
                       const nlohmann::json& expected_recipe, CheckpointState* state) {
  auto bytes = read_file(path, 4ull << 30);
  if (!bytes) {
    Error error = bytes.error();
    error.message = "cannot resume: " + error.message;
    return error;
  }
  const std::string kind = sniff_file_kind(bytes.value());
  // LibTorch archives are zip files; anything else cannot be a checkpoint.
  if (kind.rfind("a zip archive", 0) != 0)
    return make_error(ErrorCode::bad_magic, "checkpoint", 0,
                      path + " is not a digitlab checkpoint" + (kind.empty() ? "" : " (it looks like " + kind + ")") +
                          "; pass the .ckpt file that `digitlab train` wrote next to the weights");
  try {
    std::istringstream stream(std::string(bytes.value().begin(), bytes.value().end()));
    torch::serialize::InputArchive archive;
    archive.load_from(stream);
    c10::IValue format, recipe, progress;
    if (!archive.try_read("format", format) || !format.isString() || format.toStringRef() != kFormat)
      return make_error(ErrorCode::bad_magic, "checkpoint.format", 0,
                        path + " is a LibTorch archive but not a digitlab checkpoint (format " + kFormat + ")");
    archive.read("recipe", recipe);
    archive.read("progress", progress);
    state->recipe = nlohmann::json::parse(recipe.toStringRef());
    state->progress = nlohmann::json::parse(progress.toStringRef());
    std::string differences;
    for (const auto& [key, value] : expected_recipe.items()) {
      const auto found = state->recipe.find(key);
      if (found == state->recipe.end() || *found != value)
        differences += "\n  " + key + ": checkpoint " + (found == state->recipe.end() ? "-" : found->dump()) +
                       ", this run " + value.dump();
    }
    // Keys only the checkpoint has (world_size, sync_batch_norm: written only when they apply).
    for (const auto& [key, value] : state->recipe.items())
      if (!expected_recipe.contains(key)) differences += "\n  " + key + ": checkpoint " + value.dump() + ", this run -";
    if (!differences.empty())
      return make_error(ErrorCode::bad_value, "checkpoint.recipe", 0,
                        path + " was written by a run with another recipe; resume with the same options:" +
                            differences);
    archive.read("data_generator_state", state->data_generator_state);
    archive.read("default_generator_state", state->default_generator_state);
    archive.read("loss_sums", state->loss_sums);
    torch::serialize::InputArchive model_archive, optimizer_archive;
    archive.read("model", model_archive);
    archive.read("optimizer", optimizer_archive);
    network.load(model_archive);
    optimizer.load(optimizer_archive);
  } catch (const c10::Error& error) {
    return make_error(ErrorCode::bad_value, "checkpoint", 0,
                      path + " is corrupt or from an incompatible trainer: " + error.what_without_backtrace());
  } catch (const nlohmann::json::exception& error) {
    return make_error(ErrorCode::bad_value, "checkpoint", 0, path + " has unreadable metadata: " + error.what());
  }
  return Ok{};
}

}  // namespace digitlab::trainer
