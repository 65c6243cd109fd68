// Option defaults, validation with messages that say what to do, schedules and augmentation specs.
// Read next: dataset.cpp.
#include "options.hpp"

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "digitlab/architectures.hpp"

namespace digitlab::trainer {

namespace {

Error bad(const std::string& field, const std::string& message) {
  return make_error(ErrorCode::bad_argument, field, 0, message);
}

bool parse_double(const std::string& text, double* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && std::isfinite(*out);
}

bool parse_int(const std::string& text, long* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  *out = std::strtol(text.c_str(), &end, 10);
  return end == text.c_str() + text.size();
}

// Shortest text that reads back as the same double: 0.01 stays "0.01".
std::string number(double value) {
  for (int precision = 1; precision <= 17; ++precision) {
    std::string text = fmt::format("{:.{}g}", value, precision);
    if (std::strtod(text.c_str(), nullptr) == value) return text;
  }
  return fmt::format("{}", value);
}

}  // namespace

Result<DatasetInfo> find_dataset(const std::string& name) {
  if (name == "mnist")
    return DatasetInfo{"mnist", "mnist", "mnist", {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}};
  if (name == "fashion" || name == "fashion-mnist")
    return DatasetInfo{"fashion", "fashion-mnist", "fashion-mnist",
                       {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                        "Ankle boot"}};
  return bad("dataset", "unknown dataset '" + name + "': choose mnist or fashion");
}

double Schedule::learning_rate(double base, int epoch, double progress) const {
  switch (kind) {
    case Kind::none: return base;
    case Kind::step: return base * std::pow(gamma, epoch / step_epochs);
    case Kind::cosine: return base * 0.5 * (1.0 + std::cos(M_PI * progress));
  }
  return base;
}

Result<Schedule> parse_schedule(const std::string& text) {
  Schedule schedule;
  if (text == "none") return schedule;
  if (text == "cosine") {
    schedule.kind = Schedule::Kind::cosine;
    return schedule;
  }
  const std::string usage = "use none, cosine or step:STEP:GAMMA (e.g. step:2:0.1: lr x0.1 every 2 epochs)";
  if (text.rfind("step:", 0) == 0) {
    const std::string rest = text.substr(5);
    const auto colon = rest.find(':');
    long step = 0;
    double gamma = 0;
    if (colon == std::string::npos || !parse_int(rest.substr(0, colon), &step) ||
        !parse_double(rest.substr(colon + 1), &gamma))
      return bad("scheduler", "cannot read scheduler '" + text + "': " + usage);
    if (step < 1 || step > 100000) return bad("scheduler", "scheduler '" + text + "': STEP must be at least 1 epoch");
    if (gamma <= 0 || gamma > 1) return bad("scheduler", "scheduler '" + text + "': GAMMA must be in (0, 1]");
    schedule.kind = Schedule::Kind::step;
    schedule.step_epochs = static_cast<int>(step);
    schedule.gamma = gamma;
    return schedule;
  }
  return bad("scheduler", "unknown scheduler '" + text + "': " + usage);
}

Result<Augmentation> parse_augmentation(const std::string& text) {
  Augmentation augmentation;
  if (text == "none") return augmentation;
  const std::string usage =
      "use none, or a comma-separated list of shift:N, draw, flip and pen[:F] (e.g. draw, shift:2,flip or draw,pen:0.1)";
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    long shift = 0;
    if (item == "draw") {
      augmentation.draw = true;
    } else if (item == "flip") {
      augmentation.flip = true;
    } else if (item == "pen" || item.rfind("pen:", 0) == 0) {
      double fraction = 0.1;
      if (item != "pen" && !parse_double(item.substr(4), &fraction))
        return bad("augment", "augmentation '" + text + "': pen:F needs a number F, the fraction of each batch drawn");
      if (!(fraction > 0 && fraction <= 0.5))
        return bad("augment", "augmentation '" + text + "': the pen fraction must be above 0 and at most 0.5");
      augmentation.pen_fraction = fraction;
    } else if (item.rfind("shift:", 0) == 0 && parse_int(item.substr(6), &shift)) {
      if (shift < 1 || shift > 8)
        return bad("augment", "augmentation '" + text + "': the shift must be 1 to 8 pixels");
      augmentation.max_shift = static_cast<int>(shift);
    } else {
      return bad("augment", "unknown augmentation '" + item + "' in '" + text + "': " + usage);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return augmentation;
}

void TrainOptions::resolve_defaults() {
  auto info = find_dataset(dataset);
  if (info) dataset = info.value().name;  // "fashion-mnist" and "fashion" are one dataset
  if (info && data_dir.empty()) {
    const char* root = std::getenv("DIGITLAB_DATA_DIR");
    data_dir = std::string(root && *root ? root : DIGITLAB_DEFAULT_DATA_DIR) + "/" + info.value().folder;
  }
  if (output.empty() && info) output = "build/weights/" + info.value().name + "-" + model + ".dlw";
  if (record.empty()) record = output + ".json";
  if (checkpoint.empty()) checkpoint = output + ".ckpt";
}

Status TrainOptions::validate() const {
  if (auto info = find_dataset(dataset); !info) return info.error();
  if (auto arch = make_architecture(model); !arch)
    return bad("model", "unknown model '" + model + "': choose mlp, mlp-deep or cnn");
  if (epochs < 1 || epochs > 10000) return bad("epochs", fmt::format("--epochs {} must be 1 to 10000", epochs));
  if (batch_size < 1 || batch_size > 65536)
    return bad("batch-size", fmt::format("--batch-size {} must be 1 to 65536", batch_size));
  if (!(learning_rate > 0) || !std::isfinite(learning_rate) || learning_rate > 100)
    return bad("lr", "--lr " + number(learning_rate) + " must be a positive number (the tutorial uses 0.01)");
  if (!(momentum >= 0 && momentum < 1)) return bad("momentum", "--momentum " + number(momentum) + " must be in [0, 1)");
  if (optimizer != "sgd" && optimizer != "adam" && optimizer != "adamw")
    return bad("optimizer", "unknown optimizer '" + optimizer + "': choose sgd, adam or adamw");
  if (!(weight_decay >= 0) || !std::isfinite(weight_decay))
    return bad("weight-decay", "--weight-decay must be 0 or more");
  if (auto schedule = parse_schedule(scheduler); !schedule) return schedule.error();
  if (auto augment = parse_augmentation(augmentation); !augment) return augment.error();
  else if (augment.value().pen_fraction > 0 && dataset != "mnist")
    return bad("augment", "--augment pen draws digits: it is for --dataset mnist only");
  if (device != "auto" && device != "cpu" && device != "cuda")
    return bad("device", "unknown device '" + device + "': choose auto, cpu or cuda");
  if (threads < 0 || threads > 1024) return bad("threads", "--threads must be 0 (every core) to 1024");
  if (limit_train < 0 || limit_test < 0) return bad("limit", "--limit-train and --limit-test must be 0 (all) or more");
  if (checkpoint_every < 0 || stop_after_steps < 0)
    return bad("checkpoint", "--checkpoint-every and --stop-after-steps must be 0 (off) or more");
  if (log_every < 1) return bad("log-every", "--log-every must be at least 1 step");
  if (progress != "auto" && progress != "on" && progress != "off")
    return bad("progress", "--progress must be auto, on or off");
  if (write_outputs && output.empty()) return bad("output", "--output must name a file");
  if (nproc < 0 || nproc > 256) return bad("nproc", fmt::format("--nproc {} must be 1 to 256 workers", nproc));
  if (dist_timeout < 1 || dist_timeout > 86400)
    return bad("dist-timeout", "--dist-timeout must be 1 to 86400 seconds");
  return Ok{};
}

std::string TrainOptions::recipe() const {
  std::string text = optimizer + " lr=" + number(learning_rate);
  if (optimizer == "sgd") text += " momentum=" + number(momentum);
  if (weight_decay > 0) text += " weight_decay=" + number(weight_decay);
  text += fmt::format(" batch={} epochs={} scheduler={} augment={} loss=cross_entropy seed={}", batch_size, epochs,
                      scheduler, augmentation, seed);
  if (limit_train > 0) text += fmt::format(" limit_train={}", limit_train);
  if (world_size > 1) text += fmt::format(" workers={} (global batch {})", world_size, world_size * batch_size);
  if (sync_batch_norm) text += " sync_batch_norm";
  return text;
}

nlohmann::json TrainOptions::recipe_json() const {
  nlohmann::json json = {{"dataset", dataset},
          {"model", model},
          {"epochs", epochs},
          {"batch_size", batch_size},
          {"learning_rate", learning_rate},
          {"momentum", momentum},
          {"optimizer", optimizer},
          {"weight_decay", weight_decay},
          {"scheduler", scheduler},
          {"augmentation", augmentation},
          {"seed", seed},
          {"limit_train", limit_train},
          {"limit_test", limit_test}};
  // Only when they change the result, so that checkpoints of single-process runs keep matching.
  if (world_size > 1) json["world_size"] = world_size;
  if (sync_batch_norm) json["sync_batch_norm"] = true;
  return json;
}

nlohmann::json TrainOptions::to_json() const {
  nlohmann::json json = recipe_json();
  json["device"] = device;
  json["threads"] = threads;
  json["data_dir"] = data_dir;
  json["output"] = output;
  json["checkpoint"] = checkpoint;
  json["resume"] = resume;
  json["channels_last"] = channels_last;
  return json;
}

}  // namespace digitlab::trainer
