// Copying tensors between the torch network and a digitlab::Model: export after training (what the
// weights file holds), import when eval rebuilds the torch model from a file. Read next: digitlab/weights.hpp.
#pragma once

#include "digitlab/error.hpp"
#include "digitlab/model.hpp"
#include "network.hpp"

namespace digitlab::trainer {

// The network's layers with their trained tensors, in digitlab's layout (model.hpp): linear weight
// (out, in), conv weight (out, in, k, k), batch norm gamma, beta, running_mean, running_var. Values are
// copied to the CPU in float32; channels-last weights are written back in the standard order.
Model export_model(NetworkImpl& network, const ModelCard& card);

// The reverse: every tensor of `model` into the network, which must have been built from the same layer
// list. Errors: shape_mismatch naming the layer and tensor.
Status import_model(NetworkImpl& network, const Model& model);

}  // namespace digitlab::trainer
