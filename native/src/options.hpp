// What a training run is: the options of `digitlab train` with the tutorial's recipe as defaults, their
// validation, and the datasets the trainer knows. Read next: trainer.hpp (runs a TrainOptions).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "digitlab/error.hpp"

namespace digitlab::trainer {

// The two datasets: the CLI name, the name on the model card, the folder under data/, the class names.
struct DatasetInfo {
  std::string name;       // "mnist" | "fashion"
  std::string card_name;  // "mnist" | "fashion-mnist" (ModelCard::dataset)
  std::string folder;     // under the data folder: "mnist" | "fashion-mnist"
  std::vector<std::string> class_names;
};
// Accepts "mnist", "fashion" and "fashion-mnist". bad_argument otherwise.
Result<DatasetInfo> find_dataset(const std::string& name);

// Learning-rate schedule: none; step:STEP:GAMMA (PyTorch's StepLR, stepped once per epoch: lr = base *
// gamma^floor(epoch/STEP)); cosine (CosineAnnealingLR to 0 over the whole run, updated every step).
struct Schedule {
  enum class Kind { none, step, cosine } kind = Kind::none;
  int step_epochs = 0;
  double gamma = 1.0;
  // lr for a step: epoch counted from 0, progress = global step / total steps in [0, 1).
  double learning_rate(double base, int epoch, double progress) const;
};
Result<Schedule> parse_schedule(const std::string& text);

// Augmentation: none, or a comma-separated list of shift:N (each training image moved by up to N pixels in
// x and y, uniformly), draw (rotation, scale, shear, shift and pen thickness, as drawn digits vary: see
// augment.hpp), flip (mirror half the images: Fashion-MNIST only makes sense of it) and pen[:F] (replace a
// fraction F, default 0.1, of each MNIST batch by synthetic pen drawings of the same digits in the styles of
// tests/data/digit_styles.json: augment.hpp).
struct Augmentation {
  int max_shift = 0;
  bool draw = false;
  bool flip = false;
  double pen_fraction = 0.0;  // 0: no pen digits
};
Result<Augmentation> parse_augmentation(const std::string& text);

struct TrainOptions {
  // The recipe: defaults are the tutorial's (SGD lr 0.01 momentum 0.9, batch 64, 5 epochs, no schedule).
  std::string dataset = "mnist";
  std::string model = "mlp";  // mlp | mlp-deep | cnn
  int epochs = 5;
  int batch_size = 64;
  double learning_rate = 0.01;
  double momentum = 0.9;
  std::string optimizer = "sgd";  // sgd | adam | adamw
  double weight_decay = 0.0;
  std::string scheduler = "none";
  std::string augmentation = "none";
  std::uint64_t seed = 1;
  std::int64_t limit_train = 0;  // use only the first N training images (0: all)
  std::int64_t limit_test = 0;   // evaluate on the first N test images (0: all)

  // How it runs: none of these change the result on one device with one thread count.
  std::string device = "auto";  // auto | cpu | cuda
  int threads = 0;              // 0: every core
  std::string data_dir;         // folder with the idx files; default <DIGITLAB_DATA_DIR>/<dataset folder>
  std::string output;           // weights file; default build/weights/<dataset>-<model>.dlw
  std::string record;           // run record (JSON); default <output>.json
  std::string checkpoint;       // default <output>.ckpt
  std::string resume;           // a checkpoint to continue from
  std::int64_t checkpoint_every = 0;  // also checkpoint every N steps (0: at the end of each epoch only)
  std::int64_t stop_after_steps = 0;  // checkpoint and stop after N steps in all (simulates a crash)
  int log_every = 100;                // the tutorial's "Epoch [e/E], Step [s/S], Loss: x" every N steps
  std::string progress = "auto";      // auto (bar on a terminal) | on | off
  bool print_model = true;
  bool quiet = false;                 // one line per epoch (sweeps, benchmarks)
  std::string log_prefix;             // before every printed line ("[3/8] ": a parallel sweep's run)
  bool write_outputs = true;          // weights, record and checkpoints (off for benchmarks)
  bool channels_last = true;          // CPU convolutions in NHWC (faster with oneDNN; same results)

  // Data-parallel (distributed.hpp): batch_size is per worker, a step trains world_size x batch_size images.
  int nproc = 0;                      // --nproc N: start N local workers (0: this process is the run, or a worker)
  int world_size = 1;                 // from WORLD_SIZE (set by train(), not a flag)
  bool sync_batch_norm = false;       // batch statistics over every worker's batch (else per replica, as DDP)
  int dist_timeout = 300;             // seconds: rendezvous, and the longest a collective may wait

  // Fills the defaults that depend on other options (paths). Call before validate().
  void resolve_defaults();
  // Every option checked, with a message saying what is wrong and what is allowed.
  Status validate() const;
  // "sgd lr=0.01 momentum=0.9 batch=64 epochs=5 ..." for the model card and the logs.
  std::string recipe() const;
  // The options that must match when resuming, and everything for the run record.
  nlohmann::json recipe_json() const;
  nlohmann::json to_json() const;
};

}  // namespace digitlab::trainer
