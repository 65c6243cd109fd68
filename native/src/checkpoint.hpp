// Checkpoints for --resume: everything a run needs to continue as if never stopped (model, optimiser,
// schedule position, random generator states, epoch, step, the log so far). Read next: checkpoint.cpp.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "digitlab/error.hpp"
#include "network.hpp"

namespace digitlab::trainer {

struct CheckpointState {
  nlohmann::json recipe;    // TrainOptions::recipe_json(): a resumed run must use the same recipe
  nlohmann::json progress;  // epoch, step, global_step, losses and epoch records so far (trainer.cpp)
  // The data-order generator as it was at the start of the current epoch: replaying it redraws the same
  // permutation (and augmentation offsets), and leaves the generator where the uninterrupted run has it.
  torch::Tensor data_generator_state;
  torch::Tensor default_generator_state;  // torch's CPU generator (dropout masks) at this step
  torch::Tensor loss_sums;                // (2) float64: the epoch's loss sum, the current log window's
};

// The schedule needs no state of its own: the learning rate is a function of epoch and step (options.hpp).
// Written atomically (atomic_file.hpp), so a crash while saving keeps the previous checkpoint.
Status save_checkpoint(const std::string& path, NetworkImpl& network, torch::optim::Optimizer& optimizer,
                       const CheckpointState& state);

// Errors: io (missing file), bad_magic (not a digitlab checkpoint), bad_value (a checkpoint of another
// recipe: the message lists what differs), and the message of a corrupt archive.
Status load_checkpoint(const std::string& path, NetworkImpl& network, torch::optim::Optimizer& optimizer,
                       const nlohmann::json& expected_recipe, CheckpointState* state);

}  // namespace digitlab::trainer
