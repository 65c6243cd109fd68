// The models the app offers (weights/manifest.json, plus files the user opened) and the one in use.
// Loading is all-or-nothing: a file the loader rejects leaves the previous model in place and hands back
// the loader's Error. Loaded models stay cached, so switching back is instant. No ImGui or platform code
// here. Read next: app/app.hpp, digitlab/weights.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "digitlab/weights.hpp"

namespace digitlab::app {

// One row of weights/manifest.json (see docs/embedding.md), or a file the user opened.
struct ModelEntry {
  std::string name;          // "mnist-cnn"; what model= in the URL names
  std::string file;          // relative to the manifest's folder: "mnist-cnn.dlw"
  std::string architecture;  // "cnn", "mlp", ...
  std::string dataset;       // "mnist", "fashion-mnist"
  std::string dtype;         // "float32", "float16", "int8"
  float test_accuracy = -1.f;  // fraction; < 0 unknown
  std::uint64_t bytes = 0;     // file size
  std::string sha256;
  std::string record;        // the training run record, relative to the manifest's folder ("" = none)
  bool is_default = false;
  bool user_file = false;      // opened by the user (or trained in the page), not listed in the manifest
  std::string label;           // shown in the model list instead of name ("" = name): a model trained in the page
};

// A sweep's results (digitlab sweep --json), listed in the manifest's "sweeps" for the training panel.
struct SweepEntry {
  std::string name;   // "mnist-mlp-lr-batch-optimizer"
  std::string file;   // relative to the manifest's folder: "runs/sweep-mnist-mlp.json"
  std::string about;  // one sentence: what was compared
};

// The app refuses weights files above this (a browser tab has little memory to spare). The only statement of
// the limit: web/page.js reads it through digitlab_max_weights_bytes() (platform/web_platform.cpp).
inline constexpr std::uint64_t kMaxWeightsBytes = 64ull << 20;

class ModelCatalog {
 public:
  void add(ModelEntry entry);
  void add_sweep(SweepEntry sweep) { sweeps_.push_back(std::move(sweep)); }
  const std::vector<SweepEntry>& sweeps() const { return sweeps_; }
  const std::vector<ModelEntry>& entries() const { return entries_; }

  int find(const std::string& name) const;  // -1 when absent
  int default_index() const;                // the entry marked default, else the first, -1 if none

  // Loads the bytes of entry `index`; on success it becomes the active model. On failure nothing
  // changes and the loader's error comes back (bad_argument for an index out of range).
  Status load(int index, ByteSpan bytes);
  // A file the user opened: on success it is added (or replaces an earlier user file of that name) and
  // becomes active. *index receives its position. A model trained in the page (the train panel's "Use for
  // drawing") comes this way too, as the weights file it writes, with a label for the model list.
  Status load_user_file(const std::string& file_name, ByteSpan bytes, int* index = nullptr,
                        const std::string& label = {});

  // The active model with other layers or card (an imported model's assumptions changed in the model
  // panel): checked and packed as a loaded file is; on failure nothing changes. Its self-test is dropped
  // (it was computed under the old assumptions).
  Status replace_active_model(Model model);

  // A model loaded before becomes active again without its bytes; false when it never loaded.
  bool is_loaded(int index) const;
  // The loaded model of entry index (active or not), null when not loaded (or out of range).
  const LoadedWeights* loaded(int index) const;
  bool activate(int index);
  // Changes whenever entry `index` gets a newly loaded model and never repeats (0: not loaded): what caches
  // of a model's results key on. Not the model's address: a replaced model's memory can hold the next one.
  std::uint64_t load_serial(int index) const { return is_loaded(index) ? serials_[std::size_t(index)] : 0; }

  bool has_model() const { return active_ >= 0; }
  int active_index() const { return active_; }
  const ModelEntry* active_entry() const { return active_ >= 0 ? &entries_[std::size_t(active_)] : nullptr; }
  const LoadedWeights& active() const { return *loaded_[std::size_t(active_)]; }  // only when has_model()

 private:
  std::vector<ModelEntry> entries_;
  std::vector<SweepEntry> sweeps_;
  std::vector<std::unique_ptr<LoadedWeights>> loaded_;  // parallel to entries_; null until loaded
  std::vector<std::uint64_t> serials_;                    // parallel to entries_: load_serial()
  std::uint64_t last_serial_ = 0;
  int active_ = -1;
};

// "98.9 %", "unknown"
std::string format_accuracy(float fraction);
// "1.2 MB", "803 KB", "512 bytes"
std::string format_bytes(std::uint64_t bytes);

}  // namespace digitlab::app
