// The core's side of the training-speed benchmark, as a C API that the wasm module exports (node and
// Chromium call it from JavaScript) and the native program calls: the caller runs the clock, so every
// engine is timed the same way. Read next: train_speed_core.cpp.
#pragma once

#include <cstdint>

extern "C" {
// Starts a Trainer for `model` ("mlp", "mlp-deep", "cnn"; weights initialised like PyTorch from seed 1)
// with the tutorial's recipe (SGD lr 0.01 momentum 0.9, train mode) on the first `count` images (28x28
// bytes each, 0 = background) and their labels, batch `batch`. The caller keeps the bytes alive until
// digitlab_train_speed_end(). Returns 0, or -1 with the reason in digitlab_train_speed_error().
int digitlab_train_speed_begin(const char* model, const std::uint8_t* pixels, const std::uint8_t* labels,
                               int count, int batch);
// Runs `steps` training steps (epochs roll over with a new shuffle); returns the images trained, or -1.
int digitlab_train_speed_steps(int steps);
float digitlab_train_speed_last_loss();  // the last step's mean loss
const char* digitlab_train_speed_error();
void digitlab_train_speed_end();
}
