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

#include "digitlab/pytorch.hpp"
#include "digitlab/zip.hpp"

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

  // Stored entries, data 64-byte aligned, Zip64 end record: the layout torch.save writes (zip.hpp).
  const std::string root = "archive/";
  std::vector<zip::WriteEntry> entries;
  entries.push_back({root + "data.pkl", state_dict_pickle(named.value())});
  entries.push_back({root + "byteorder", {'l', 'i', 't', 't', 'l', 'e'}});
  for (std::size_t t = 0; t < named.value().tensors.size(); ++t) {
    const ExportTensor& tensor = named.value().tensors[t];
    // num_batches_tracked: the .dlw does not keep the count, so it goes back as 0 (int64).
    entries.push_back({root + "data/" + std::to_string(t),
                       tensor.values ? little_endian_floats(*tensor.values) : std::vector<std::uint8_t>(8, 0)});
  }
  entries.push_back({root + "version", {'3', '\n'}});
  return zip::write_archive(entries);
}

}  // namespace digitlab::pytorch
