// A digitlab Model written as a torch.save archive of the tutorial's state_dict, which the tutorial's own
// classes load with model.load_state_dict(torch.load(path)). Read next: docs/pytorch.md, pytorch_import.cpp.
//
// What torch.save (1.13 and 2.x) writes, and so this file: a ZIP of stored entries, each entry's data
// aligned to 64 bytes by an "FB" extra field, real CRC-32s; archive/data.pkl (a protocol-2 pickle of an
// OrderedDict name -> _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()), with the
// `_metadata` attribute set by BUILD), archive/data/<key> (one storage per tensor), archive/byteorder
// ("little") and archive/version ("3\n"). docs/pytorch.md lists what the .dlw cannot carry back.
//
// Sections: the tutorial's names for the layer list | the pickle | the ZIP | entry point.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "digitlab/crc32.hpp"
#include "digitlab/pytorch.hpp"

namespace digitlab::pytorch {

namespace {

// ---- the tutorial's names for the layer list -----------------------------------------------------------------

struct ExportTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  const std::vector<float>* values = nullptr;  // float32 tensor; nullptr: an int64 scalar 0 (num_batches_tracked)
};

struct ExportModule {
  std::string name;  // "linear_relu_stack", "conv1", ... for _metadata
  int version = 1;   // the module's _version: BatchNorm 2, the rest 1
};

struct Named {
  std::vector<ExportTensor> tensors;   // in the tutorial's registration order
  std::vector<ExportModule> modules;   // for the _metadata attribute
};

bool is_activation(LayerKind kind) {
  return kind == LayerKind::relu || kind == LayerKind::leaky_relu || kind == LayerKind::sigmoid ||
         kind == LayerKind::tanh;
}

Error no_tutorial_class(std::size_t layer, const Layer& found, const std::string& expected) {
  return make_error(ErrorCode::unknown_architecture, "layers[" + std::to_string(layer) + "]", 0,
                    std::string("layer ") + std::to_string(layer) + " is " + layer_kind_name(found.kind) +
                        " where the tutorial's " + expected +
                        "; only the tutorial's MLP (flatten, linear, activation, ..., linear) and CNN "
                        "(conv, batch_norm, activation, max_pool2d blocks, flatten, linear, batch_norm, "
                        "activation, dropout, ..., linear) have a Python class to load them");
}

void add_linear(Named* named, const std::string& module, const Layer& layer) {
  named->tensors.push_back({module + ".weight", layer.tensors[0].shape, &layer.tensors[0].values});
  named->tensors.push_back({module + ".bias", layer.tensors[1].shape, &layer.tensors[1].values});
}

void add_batch_norm(Named* named, const std::string& module, const Layer& layer) {
  const char* params[] = {".weight", ".bias", ".running_mean", ".running_var"};
  for (int t = 0; t < 4; ++t)
    named->tensors.push_back({module + params[t], layer.tensors[t].shape, &layer.tensors[t].values});
  named->tensors.push_back({module + ".num_batches_tracked", {}, nullptr});
}

// NeuralNetwork / NeuralNetwork_v1: Flatten, then linear_relu_stack = Sequential(Linear, ReLU, Linear, ...).
Result<Named> name_mlp(const Model& model) {
  Named named;
  named.modules = {{"", 1}, {"flatten", 1}, {"linear_relu_stack", 1}};
  const std::vector<Layer>& layers = model.layers;
  int position = 0;  // the index inside the Sequential
  for (std::size_t i = 1; i < layers.size(); ++i) {
    const bool expect_linear = i % 2 == 1;
    if (expect_linear && layers[i].kind != LayerKind::linear)
      return no_tutorial_class(i, layers[i], "MLP has a linear layer");
    if (!expect_linear && !is_activation(layers[i].kind))
      return no_tutorial_class(i, layers[i], "MLP has an activation (ReLU) between linear layers");
    const std::string module = "linear_relu_stack." + std::to_string(position);
    if (expect_linear) add_linear(&named, module, layers[i]);
    named.modules.push_back({module, 1});
    ++position;
  }
  if (layers.size() < 2 || layers.back().kind != LayerKind::linear)
    return no_tutorial_class(layers.size() - 1, layers.back(), "MLP ends with a linear layer");
  return named;
}

// The tutorial's CNN: conv1..3, fc1..3, dropout, batch_norm1..3, batch_norm_fc1..2, registered in this order.
Result<Named> name_cnn(const Model& model) {
  Named named;
  std::vector<ExportTensor> norms;
  std::vector<ExportModule> norm_modules;
  const std::vector<Layer>& layers = model.layers;
  std::size_t i = 0;
  int conv = 0, fc = 0;
  while (i < layers.size() && layers[i].kind == LayerKind::conv2d) {
    const std::string index = std::to_string(++conv);
    add_linear(&named, "conv" + index, layers[i]);
    named.modules.push_back({"conv" + index, 1});
    ++i;
    if (i < layers.size() && layers[i].kind == LayerKind::batch_norm) {
      Named bn;
      add_batch_norm(&bn, "batch_norm" + index, layers[i]);
      norms.insert(norms.end(), bn.tensors.begin(), bn.tensors.end());
      norm_modules.push_back({"batch_norm" + index, 2});
      ++i;
    }
    if (i >= layers.size() || !is_activation(layers[i].kind))
      return no_tutorial_class(std::min(i, layers.size() - 1), layers[std::min(i, layers.size() - 1)],
                               "CNN has an activation after each convolution");
    ++i;
    if (i >= layers.size() || layers[i].kind != LayerKind::max_pool2d || layers[i].kernel != 2 || layers[i].stride != 2)
      return no_tutorial_class(std::min(i, layers.size() - 1), layers[std::min(i, layers.size() - 1)],
                               "CNN has a 2x2 max-pool after each convolution block");
    ++i;
  }
  if (i >= layers.size() || layers[i].kind != LayerKind::flatten)
    return no_tutorial_class(std::min(i, layers.size() - 1), layers[std::min(i, layers.size() - 1)],
                             "CNN flattens after the convolution blocks");
  named.modules.push_back({"flatten", 1});
  ++i;
  std::vector<ExportModule> fc_modules;
  while (i < layers.size()) {
    if (layers[i].kind != LayerKind::linear) return no_tutorial_class(i, layers[i], "CNN has a linear layer (fc)");
    const std::string index = std::to_string(++fc);
    add_linear(&named, "fc" + index, layers[i]);
    fc_modules.push_back({"fc" + index, 1});
    ++i;
    if (i == layers.size()) break;
    if (layers[i].kind == LayerKind::batch_norm) {
      Named bn;
      add_batch_norm(&bn, "batch_norm_fc" + index, layers[i]);
      norms.insert(norms.end(), bn.tensors.begin(), bn.tensors.end());
      norm_modules.push_back({"batch_norm_fc" + index, 2});
      ++i;
    }
    if (i >= layers.size() || !is_activation(layers[i].kind))
      return no_tutorial_class(std::min(i, layers.size() - 1), layers[std::min(i, layers.size() - 1)],
                               "CNN has an activation after each hidden fc layer");
    ++i;
    if (i < layers.size() && layers[i].kind == LayerKind::dropout) ++i;
  }
  if (fc == 0) return no_tutorial_class(layers.size() - 1, layers.back(), "CNN ends with fc layers");
  // Module registration order in the tutorial's __init__: convs, flatten, fcs, dropout, then the norms.
  named.tensors.insert(named.tensors.end(), norms.begin(), norms.end());
  named.modules.insert(named.modules.begin(), ExportModule{"", 1});
  named.modules.insert(named.modules.end(), fc_modules.begin(), fc_modules.end());
  named.modules.push_back({"dropout", 1});
  named.modules.insert(named.modules.end(), norm_modules.begin(), norm_modules.end());
  return named;
}

// ---- the pickle (protocol 2, the opcodes torch.save uses) ----------------------------------------------------

class Pickle {
 public:
  std::vector<std::uint8_t> bytes;

  void op(char code) { bytes.push_back(static_cast<std::uint8_t>(code)); }
  void global(const char* module, const char* name) {
    op('c');
    append(module);
    op('\n');
    append(name);
    op('\n');
  }
  void text(const std::string& value) {  // BINUNICODE
    op('X');
    u32(static_cast<std::uint32_t>(value.size()));
    append(value);
  }
  void integer(std::int64_t value) {
    if (value >= 0 && value < 256) {
      op('K');
      bytes.push_back(static_cast<std::uint8_t>(value));
    } else if (value >= 0 && value < 65536) {
      op('M');
      bytes.push_back(static_cast<std::uint8_t>(value & 0xff));
      bytes.push_back(static_cast<std::uint8_t>(value >> 8));
    } else if (value >= INT32_MIN && value <= INT32_MAX) {
      op('J');
      u32(static_cast<std::uint32_t>(static_cast<std::int32_t>(value)));
    } else {  // LONG1: 8 bytes, two's complement, little-endian
      op('\x8a');
      bytes.push_back(8);
      for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) >> (8 * b)));
    }
  }
  void int_tuple(const std::vector<std::int64_t>& values) {
    if (values.empty()) return op(')');
    op('(');
    for (std::int64_t v : values) integer(v);
    op('t');
  }
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    op(')');
    op('R');
  }

 private:
  void append(const std::string& s) { bytes.insert(bytes.end(), s.begin(), s.end()); }
  void u32(std::uint32_t v) {
    for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
  }
};

std::vector<std::int64_t> contiguous_strides(const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (std::size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

std::vector<std::uint8_t> state_dict_pickle(const Named& named) {
  Pickle p;
  p.op('\x80');
  p.bytes.push_back(2);  // PROTO 2
  p.empty_ordered_dict();
  p.op('(');
  for (std::size_t t = 0; t < named.tensors.size(); ++t) {
    const ExportTensor& tensor = named.tensors[t];
    std::int64_t numel = 1;
    for (std::int64_t d : tensor.shape) numel *= d;
    p.text(tensor.name);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.op('(');
    // the persistent id ('storage', StorageClass, key, location, numel), resolved by torch.load
    p.op('(');
    p.text("storage");
    p.global("torch", tensor.values ? "FloatStorage" : "LongStorage");
    p.text(std::to_string(t));
    p.text("cpu");
    p.integer(numel);
    p.op('t');
    p.op('Q');  // BINPERSID
    p.integer(0);  // storage_offset
    p.int_tuple(tensor.shape);
    p.int_tuple(contiguous_strides(tensor.shape));
    p.op('\x89');  // requires_grad = False
    p.empty_ordered_dict();  // backward hooks
    p.op('t');
    p.op('R');
  }
  p.op('u');  // SETITEMS
  // state_dict()._metadata: each module's version, which load_state_dict passes to the modules.
  p.op('}');
  p.text("_metadata");
  p.empty_ordered_dict();
  p.op('(');
  for (const ExportModule& module : named.modules) {
    p.text(module.name);
    p.op('}');
    p.text("version");
    p.integer(module.version);
    p.op('s');
  }
  p.op('u');
  p.op('s');
  p.op('b');  // BUILD: OrderedDict.__dict__.update({'_metadata': ...})
  p.op('.');
  return std::move(p.bytes);
}

// ---- the ZIP (stored entries, data 64-byte aligned as torch.save writes them) --------------------------------

class ZipWriter {
 public:
  void add(const std::string& name, const std::uint8_t* data, std::size_t size) {
    Entry entry{name, crc32(ByteSpan(data, size)), static_cast<std::uint64_t>(size), out_.size()};
    // The "FB" extra field pads the local header so that the data starts at a multiple of 64.
    const std::size_t header_end = out_.size() + 30 + name.size() + 4;
    const std::size_t padding = (64 - header_end % 64) % 64;
    u32(0x04034b50);
    u16(20);  // version needed: 2.0
    u16(0);   // flags: sizes and CRC are in this header
    u16(0);   // stored
    u16(0);   // time
    u16(0x21);  // date: 1980-01-01
    u32(entry.crc);
    u32(static_cast<std::uint32_t>(size));
    u32(static_cast<std::uint32_t>(size));
    u16(static_cast<std::uint16_t>(name.size()));
    u16(static_cast<std::uint16_t>(4 + padding));
    append(name);
    out_.push_back('F');
    out_.push_back('B');
    u16(static_cast<std::uint16_t>(padding));
    out_.insert(out_.end(), padding, 'Z');
    out_.insert(out_.end(), data, data + size);
    entries_.push_back(std::move(entry));
  }

  Result<std::vector<std::uint8_t>> finish() {
    const std::uint64_t directory_start = out_.size();
    for (const Entry& entry : entries_) {
      u32(0x02014b50);
      u16(20);  // made by
      u16(20);  // needed
      u16(0);
      u16(0);
      u16(0);
      u16(0x21);
      u32(entry.crc);
      u32(static_cast<std::uint32_t>(entry.size));
      u32(static_cast<std::uint32_t>(entry.size));
      u16(static_cast<std::uint16_t>(entry.name.size()));
      u16(0);  // extra
      u16(0);  // comment
      u16(0);  // disk
      u16(0);  // internal attributes
      u32(0);  // external attributes
      u32(static_cast<std::uint32_t>(entry.local_offset));
      append(entry.name);
    }
    const std::uint64_t directory_size = out_.size() - directory_start;
    if (out_.size() > 0xFFFFFFFFull || entries_.size() > 0xFFFF)
      return make_error(ErrorCode::over_budget, "export", 0,
                        "the model is too large for a ZIP without Zip64 records (over 4 GiB or 65535 tensors)");
    u32(0x06054b50);
    u16(0);
    u16(0);
    u16(static_cast<std::uint16_t>(entries_.size()));
    u16(static_cast<std::uint16_t>(entries_.size()));
    u32(static_cast<std::uint32_t>(directory_size));
    u32(static_cast<std::uint32_t>(directory_start));
    u16(0);  // comment
    return std::move(out_);
  }

 private:
  struct Entry {
    std::string name;
    std::uint32_t crc;
    std::uint64_t size;
    std::uint64_t local_offset;
  };
  void append(const std::string& s) { out_.insert(out_.end(), s.begin(), s.end()); }
  void u16(std::uint16_t v) {
    out_.push_back(static_cast<std::uint8_t>(v));
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
  }
  void u32(std::uint32_t v) {
    for (int b = 0; b < 4; ++b) out_.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
  }
  std::vector<std::uint8_t> out_;
  std::vector<Entry> entries_;
};

std::vector<std::uint8_t> little_endian_floats(const std::vector<float>& values) {
  std::vector<std::uint8_t> bytes(values.size() * 4);
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, &values[i], 4);
    for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<std::uint8_t>(bits >> (8 * b));
  }
  return bytes;
}

}  // namespace

// ---- entry point ----------------------------------------------------------------------------------------------

Result<std::vector<std::uint8_t>> export_state_dict(const Model& model) {
  if (auto shapes = infer_shapes(model); !shapes) return shapes.error();
  if (model.layers.empty())
    return make_error(ErrorCode::bad_argument, "layers", 0, "the model has no layers to export");
  Result<Named> named = model.layers[0].kind == LayerKind::flatten ? name_mlp(model) : name_cnn(model);
  if (!named) return named.error();

  const std::string root = "archive/";
  ZipWriter zip;
  const std::vector<std::uint8_t> pickle = state_dict_pickle(named.value());
  zip.add(root + "data.pkl", pickle.data(), pickle.size());
  static const char kLittle[] = "little";
  zip.add(root + "byteorder", reinterpret_cast<const std::uint8_t*>(kLittle), 6);
  const std::uint8_t zero_int64[8] = {};
  for (std::size_t t = 0; t < named.value().tensors.size(); ++t) {
    const ExportTensor& tensor = named.value().tensors[t];
    const std::string key = root + "data/" + std::to_string(t);
    if (tensor.values) {
      const std::vector<std::uint8_t> bytes = little_endian_floats(*tensor.values);
      zip.add(key, bytes.data(), bytes.size());
    } else {
      zip.add(key, zero_int64, 8);  // num_batches_tracked: the .dlw does not keep the count
    }
  }
  static const char kVersion[] = "3\n";
  zip.add(root + "version", reinterpret_cast<const std::uint8_t*>(kVersion), 2);
  return zip.finish();
}

}  // namespace digitlab::pytorch
