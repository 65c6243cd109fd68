// Model selection and all-or-nothing loading. Read next: app/app.cpp.
#include "common/model_catalog.hpp"

#include <cstdio>

#include "common/i18n.hpp"
#include "digitlab/text.hpp"
#include "digitlab/weights_format.hpp"  // dtype_name

namespace digitlab::app {

namespace {

LoadOptions app_load_options() {
  LoadOptions options;
  options.memory_budget = 4 * kMaxWeightsBytes;  // a float16/int8 file expands to float32 in memory
  options.run_self_test = true;
  return options;
}

}  // namespace

void ModelCatalog::add(ModelEntry entry) {
  entries_.push_back(std::move(entry));
  loaded_.emplace_back();
  serials_.push_back(0);
}

bool ModelCatalog::is_loaded(int index) const {
  return index >= 0 && std::size_t(index) < loaded_.size() && loaded_[std::size_t(index)] != nullptr;
}

const LoadedWeights* ModelCatalog::loaded(int index) const {
  return is_loaded(index) ? loaded_[std::size_t(index)].get() : nullptr;
}

bool ModelCatalog::activate(int index) {
  if (!is_loaded(index)) return false;
  active_ = index;
  return true;
}

int ModelCatalog::find(const std::string& name) const {
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].name == name) return int(i);
  return -1;
}

int ModelCatalog::default_index() const {
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].is_default && !entries_[i].user_file) return int(i);
  return entries_.empty() ? -1 : 0;
}

Status ModelCatalog::load(int index, ByteSpan bytes) {
  if (index < 0 || std::size_t(index) >= entries_.size())
    return make_error(ErrorCode::bad_argument, "model index", 0, format_text(tr("no model number %d"), index));
  if (bytes.size > kMaxWeightsBytes)
    return make_error(ErrorCode::over_budget, "file size", 0,
                      format_text(tr("the file has %s; the app opens weights files up to %s"), format_bytes(bytes.size).c_str(),
                                  format_bytes(kMaxWeightsBytes).c_str()));
  Result<LoadedWeights> loaded = load_weights(bytes, app_load_options());
  if (!loaded) return loaded.error();
  auto model = std::make_unique<LoadedWeights>(std::move(loaded).value());
  ModelEntry& entry = entries_[std::size_t(index)];
  // The file's own card fills what the manifest left out (and is all a user's file has).
  if (entry.architecture.empty()) entry.architecture = model->model.card.architecture;
  if (entry.dataset.empty()) entry.dataset = model->model.card.dataset;
  if (entry.test_accuracy < 0.f) entry.test_accuracy = model->model.card.test_accuracy;
  if (entry.dtype.empty()) entry.dtype = weights_format::dtype_name(model->dtype);
  if (entry.bytes == 0) entry.bytes = bytes.size;
  loaded_[std::size_t(index)] = std::move(model);
  serials_[std::size_t(index)] = ++last_serial_;
  active_ = index;
  return Ok{};
}

Status ModelCatalog::replace_active_model(Model model) {
  if (active_ < 0) return make_error(ErrorCode::bad_argument, "model", 0, tr("no model is loaded"));
  model.prepared.reset();
  if (Status prepared = prepare(model); !prepared) return prepared;
  // A new object (and a new load_serial), so that caches of the old model's results start afresh.
  auto replaced = std::make_unique<LoadedWeights>(*loaded_[std::size_t(active_)]);
  replaced->model = std::move(model);
  replaced->has_self_test = false;
  loaded_[std::size_t(active_)] = std::move(replaced);
  serials_[std::size_t(active_)] = ++last_serial_;
  return Ok{};
}

Status ModelCatalog::load_user_file(const std::string& file_name, ByteSpan bytes, int* index, const std::string& label) {
  ModelEntry entry;
  entry.name = file_name.empty() ? std::string("your file") : file_name;
  entry.file = entry.name;
  entry.user_file = true;
  entry.label = label;
  entry.bytes = bytes.size;
  int slot = -1;
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].user_file && entries_[i].name == entry.name) slot = int(i);
  // Try the bytes in a new slot first so that a rejected file leaves the catalog exactly as it was.
  add(entry);
  const int trial = int(entries_.size()) - 1;
  Status status = load(trial, bytes);  // on failure active_ is untouched
  if (slot >= 0 || !status) {  // the trial slot goes: into the earlier file's place, or away
    if (status) {
      entries_[std::size_t(slot)] = std::move(entries_.back());
      loaded_[std::size_t(slot)] = std::move(loaded_.back());
      serials_[std::size_t(slot)] = serials_.back();
      active_ = slot;
    }
    entries_.pop_back();
    loaded_.pop_back();
    serials_.pop_back();
    if (!status) return status;
  }
  if (index) *index = active_;
  return Ok{};
}

std::string format_accuracy(float fraction) {
  if (!(fraction >= 0.f) || fraction > 1.f) return tr("unknown");
  char text[32];
  std::snprintf(text, sizeof text, "%.2f %%", double(fraction) * 100.0);
  return text;
}

std::string format_bytes(std::uint64_t bytes) {
  char text[32];
  if (bytes >= (1ull << 20))
    std::snprintf(text, sizeof text, "%.1f MB", double(bytes) / double(1ull << 20));
  else if (bytes >= 1024)
    std::snprintf(text, sizeof text, "%.0f KB", double(bytes) / 1024.0);
  else
    std::snprintf(text, sizeof text, tr("%llu bytes"), static_cast<unsigned long long>(bytes));
  return text;
}

}  // namespace digitlab::app
