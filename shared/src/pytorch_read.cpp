// read_state_dict: tells a torch.save archive, a .safetensors file and the files people drop by mistake
// apart by their bytes, finds the archive's root folder and its pickle, removes wrappers' key prefixes.
// Read next: zip_archive.cpp (the container), pickle.cpp (data.pkl), safetensors.cpp.
#include <algorithm>

#include "pytorch_internal.hpp"

namespace digitlab::pytorch {

const char* tensor_dtype_name(TensorDType dtype) {
  switch (dtype) {
    case TensorDType::float32: return "float32";
    case TensorDType::float16: return "float16";
    case TensorDType::bfloat16: return "bfloat16";
    case TensorDType::float64: return "float64";
    case TensorDType::int64: return "int64";
  }
  return "unknown";
}

const NamedTensor* StateDict::find(const std::string& name) const {
  for (const NamedTensor& tensor : tensors)
    if (tensor.name == name) return &tensor;
  return nullptr;
}

namespace detail {

Status remove_prefixes(StateDict& state) {
  for (bool again = true; again && !state.tensors.empty();) {
    again = false;
    for (const char* prefix : {"module.", "_orig_mod."}) {
      const std::string p = prefix;
      const bool all = std::all_of(state.tensors.begin(), state.tensors.end(), [&](const NamedTensor& t) {
        return t.name.size() > p.size() && t.name.compare(0, p.size(), p) == 0;
      });
      if (!all) continue;
      for (NamedTensor& tensor : state.tensors) tensor.name.erase(0, p.size());
      state.unwrapped += std::string(state.unwrapped.empty() ? "" : ", ") + "prefix '" + p + "'";
      again = true;
    }
  }
  std::vector<const std::string*> names;
  for (const NamedTensor& tensor : state.tensors) names.push_back(&tensor.name);
  std::sort(names.begin(), names.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
  for (std::size_t k = 1; k < names.size(); ++k)
    if (*names[k] == *names[k - 1])
      return make_error(ErrorCode::bad_pickle, "state_dict", 0, "the name '" + *names[k] + "' appears twice in the state_dict");
  return Ok{};
}

namespace {

bool starts_with(ByteSpan bytes, const char* prefix, std::size_t n) {
  return bytes.size >= n && std::equal(prefix, prefix + n, reinterpret_cast<const char*>(bytes.data));
}

Result<StateDict> read_torch_zip(ByteSpan file, const ReadLimits& limits) {
  zip::ReadLimits zip_limits;
  zip_limits.max_entries = limits.max_tensors + 64;
  zip_limits.max_entry_bytes = limits.max_file_bytes;  // storages are bounded by the pickle reader
  Result<zip::Archive> read = zip::read_archive(file, zip_limits);
  if (!read) return read.error();
  const zip::Archive& archive = read.value();
  if (archive.entries.empty())
    return make_error(ErrorCode::bad_archive, "zip", 0, "the archive is empty: a torch.save file holds data.pkl and its tensors");
  // The root folder is whatever the archive's entries share ("model" for model.pth in 1.x, "archive" in 2.x).
  const std::string& first = archive.entries.front().name;
  const std::size_t slash = first.find('/');
  if (slash == std::string::npos || slash == 0)
    return make_error(ErrorCode::bad_archive, "zip.root", archive.entries.front().header_offset,
                      "entry '" + first + "' is not inside a folder; a torch.save archive keeps everything under one "
                      "root folder (e.g. 'model/data.pkl')");
  const std::string root = first.substr(0, slash);
  for (const zip::Entry& entry : archive.entries)
    if (entry.name.compare(0, root.size() + 1, root + "/") != 0)
      return make_error(ErrorCode::bad_archive, "zip.root", entry.header_offset,
                        "entries under two root folders ('" + root + "/' and '" + entry.name +
                            "'): not a torch.save archive");
  const zip::Entry* pickle = archive.find(root + "/data.pkl");
  if (pickle == nullptr) {
    const bool torchscript = archive.find(root + "/constants.pkl") != nullptr;
    return make_error(ErrorCode::bad_archive, "zip.data_pkl", 0,
                      torchscript ? "this is a TorchScript archive (torch.jit.save), which holds code; digitlab reads "
                                    "state_dicts. In Python: torch.save(model.state_dict(), \"model.pth\")"
                                  : "the archive has no '" + root + "/data.pkl', so it is not a torch.save file");
  }
  if (const zip::Entry* order = archive.find(root + "/byteorder")) {
    const ByteSpan text = zip::entry_bytes(file, *order);
    const std::string value(reinterpret_cast<const char*>(text.data), std::min<std::size_t>(text.size, 16));
    if (value != "little")
      return make_error(ErrorCode::bad_archive, "zip.byteorder", order->data_offset,
                        value == "big" ? "the tensors were saved on a big-endian machine (byteorder 'big'); digitlab "
                                         "reads little-endian files. Load and save it again on a little-endian machine"
                                       : "the byteorder entry says '" + value + "', neither 'little' nor 'big'");
  }
  Result<StateDict> state = read_torch_pickle(file, archive, root, *pickle, limits);
  if (!state) return state.error();
  state.value().container = "torch.save zip";
  state.value().root = root;
  Status prefixes = remove_prefixes(state.value());
  if (!prefixes) return prefixes.error();
  return state;
}

}  // namespace
}  // namespace detail

Result<StateDict> read_state_dict(ByteSpan file, const ReadLimits& limits) {
  if (file.size == 0) return make_error(ErrorCode::truncated, "file", 0, "the file is empty");
  if (file.size > limits.max_file_bytes)
    return make_error(ErrorCode::over_budget, "file", 0,
                      "the file is " + std::to_string(file.size) + " bytes; at most " +
                          std::to_string(limits.max_file_bytes) + " are read");
  if (detail::starts_with(file, "PK\x03\x04", 4)) return detail::read_torch_zip(file, limits);
  if (detail::starts_with(file, "PK\x05\x06", 4))
    return make_error(ErrorCode::bad_archive, "zip", 0, "an empty ZIP archive: a torch.save file holds data.pkl and its tensors");
  // Before 1.6, torch.save wrote pickles one after another, starting with a pickled magic number (LONG1).
  if (detail::starts_with(file, "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 14))
    return make_error(ErrorCode::bad_version, "file", 0,
                      "a PyTorch file in the legacy format (before PyTorch 1.6), which digitlab does not read. Load it "
                      "with PyTorch and save it again: torch.save(torch.load(\"old.pth\"), \"model.pth\")");
  if (detail::looks_like_safetensors(file)) return detail::read_safetensors(file, limits);
  const std::string kind = sniff_file_kind(file);
  if (detail::starts_with(file, "\x80", 1) && file.size > 1 && file.data[1] >= 2 && file.data[1] <= 5)
    return make_error(ErrorCode::wrong_file_kind, "file", 0,
                      "a bare pickle, not a torch.save archive; digitlab reads the ZIP files torch.save writes "
                      "(PyTorch 1.6 or later): torch.save(model.state_dict(), \"model.pth\")");
  return make_error(ErrorCode::wrong_file_kind, "file", 0,
                    (kind.empty() ? std::string("not a PyTorch file") : "this is " + kind + ", not a PyTorch file") +
                        (kind == "a digitlab weights file" ? ": open it as a digitlab model (.dlw)" : "") +
                        "; expected a torch.save archive (.pth/.pt, a ZIP starting with 'PK') or a .safetensors file");
}

}  // namespace digitlab::pytorch
