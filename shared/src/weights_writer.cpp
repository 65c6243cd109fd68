// Writing digitlab weights files: a Model gives canonical bytes, returned only once the reader accepts
// them. Read next: docs/weights-format.md (the canonical writer), weights_reader.cpp (the loader it reads
// back through).
//
// Sections of this file:
//   1. Helpers   little-endian stores (the shared ones: weights_helpers.hpp)
//   2. Writer    validate -> lay out -> encode tensors -> self-test logits -> tables, card, header -> seal
//                -> read back with the loader (a file the writer returns always loads)
#include "digitlab/weights.hpp"

#include <cmath>
#include <cstring>

#include "digitlab/weights_format.hpp"
#include "weights_helpers.hpp"

namespace digitlab {

namespace wf = weights_format;
using namespace weights_detail;

namespace {

// ==== 1. Helpers ============================================================================================

void store_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = std::uint8_t(v >> (8 * i));
}

void store_f32(std::uint8_t* p, float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, 4);
  store_u32(p, bits);
}

}  // namespace

// ==== 2. Writer =============================================================================================

namespace {

class Writer {
 public:
  Writer(const Model& model, const WriteOptions& options) : model_(model), options_(options) {}

  Result<std::vector<std::uint8_t>> run() {
    if (Status s = validate(); !s) return s.error();
    lay_out();
    out_.assign(static_cast<std::size_t>(file_size_), 0);  // zero padding everywhere
    if (Status s = encode_tensors(); !s) return s.error();
    if (Status s = compute_self_test(); !s) return s.error();
    write_tables_card_and_header();
    wf::reseal_checksums(out_);
    return read_back();
  }

 private:
  const Model& model_;
  const WriteOptions& options_;
  struct Planned {
    const Tensor* tensor;
    std::string name;
    DType dtype;
    wf::TensorRecord record;
    std::uint64_t elements, data_bytes;
  };
  std::vector<Planned> planned_;
  std::vector<std::uint8_t> card_bytes_;
  std::vector<float> self_test_logits_;
  std::uint64_t tensor_table_ = 0, card_ = 0, self_test_ = 0, self_test_size_ = 0, file_size_ = 0;
  std::vector<std::uint8_t> out_;

  static Error invalid(const std::string& field, const std::string& message) {
    return make_error(ErrorCode::bad_argument, field, 0, "write_weights: " + field + ": " + message);
  }

  // Everything that the loader would refuse, refused here first with the field named.
  Status validate() {
    const ModelCard& card = model_.card;
    if (options_.dtype != DType::float32 && options_.dtype != DType::float16 && options_.dtype != DType::int8)
      return invalid("options.dtype", "is not float32, float16 or int8");
    Result<std::vector<ActivationShape>> shapes = infer_shapes(model_);
    if (!shapes) {
      Error error = shapes.error();
      error.message = "write_weights: " + error.message;
      return error;
    }
    const std::int64_t outputs = shapes.value().back().dims[0];
    if (card.class_names.empty() || static_cast<std::int64_t>(card.class_names.size()) != outputs)
      return invalid("card.class_names",
                     "name each of the " + std::to_string(outputs) + " outputs (the file is self-describing)");
    if (card.class_names.size() > wf::kMaxClasses) return invalid("card.class_names", "too many classes");
    if (model_.layers.size() > wf::kMaxLayers)
      return invalid("layers", "more than " + std::to_string(wf::kMaxLayers) + " layers");
    if (!std::isfinite(card.normalize_mean)) return invalid("card.normalize_mean", "must be finite");
    if (!(std::isfinite(card.normalize_std) && card.normalize_std > 0.f))
      return invalid("card.normalize_std", "must be finite and > 0");
    if (!(std::isfinite(card.test_accuracy) && card.test_accuracy <= 1.f))
      return invalid("card.test_accuracy", "must be a fraction in [0, 1], or negative for unknown");
    std::vector<std::pair<const std::string*, std::string>> strings = {{&card.architecture, "card.architecture"},
                                                                       {&card.dataset, "card.dataset"},
                                                                       {&card.recipe, "card.recipe"},
                                                                       {&card.trainer_version, "card.trainer_version"}};
    for (std::size_t c = 0; c < card.class_names.size(); ++c)
      strings.push_back({&card.class_names[c], "card.class_names[" + std::to_string(c) + "]"});
    for (const auto& [text, field] : strings) {
      if (text->size() > wf::kMaxStringBytes)
        return invalid(field, "is longer than " + std::to_string(wf::kMaxStringBytes) + " bytes");
      if (!is_plain_text(reinterpret_cast<const std::uint8_t*>(text->data()), text->size()))
        return invalid(field, "must be one line of UTF-8 text (no control characters)");
    }
    for (std::size_t i = 0; i < model_.layers.size(); ++i) {
      const Layer& layer = model_.layers[i];
      const std::string name = "layer[" + std::to_string(i) + "]";
      const std::int64_t params[] = {layer.in_features, layer.out_features, layer.in_channels, layer.out_channels,
                                     layer.kernel,      layer.stride,       layer.padding,     layer.channels};
      for (std::int64_t p : params) {
        if (p < 0 || p > std::int64_t(UINT32_MAX))
          return invalid(name, "a parameter does not fit 32 bits: " + std::to_string(p));
      }
      if (!std::isfinite(layer.alpha) || !std::isfinite(layer.eps) || !std::isfinite(layer.dropout_p))
        return invalid(name, "alpha, eps and dropout_p must be finite");
      for (std::size_t t = 0; t < layer.tensors.size(); ++t) {
        const std::vector<float>& values = layer.tensors[t].values;
        for (std::size_t k = 0; k < values.size(); ++k) {
          if (!std::isfinite(values[k]))
            return invalid(tensor_name(i, layer.kind, t), "value " + std::to_string(k) + " is not finite");
        }
      }
    }
    if (!options_.self_test_input.empty()) {
      const std::int64_t input_size = card.input_channels * card.input_height * card.input_width;
      if (static_cast<std::int64_t>(options_.self_test_input.size()) != input_size)
        return invalid("options.self_test_input", "has " + std::to_string(options_.self_test_input.size()) +
                                                      " values, the model takes " + std::to_string(input_size));
      for (float v : options_.self_test_input)
        if (!std::isfinite(v)) return invalid("options.self_test_input", "values must be finite");
    }
    return Ok{};
  }

  // Tables, card, self-test, then each tensor at the next multiple of 64, in layer order.
  void lay_out() {
    const ModelCard& card = model_.card;
    auto put_u32 = [&](std::uint32_t v) {
      for (int i = 0; i < 4; ++i) card_bytes_.push_back(std::uint8_t(v >> (8 * i)));
    };
    auto put_f32 = [&](float v) {
      std::uint32_t bits;
      std::memcpy(&bits, &v, 4);
      put_u32(bits);
    };
    auto put_string = [&](const std::string& s) {
      put_u32(std::uint32_t(s.size()));
      card_bytes_.insert(card_bytes_.end(), s.begin(), s.end());
    };
    put_u32(std::uint32_t(card.input_channels));
    put_u32(std::uint32_t(card.input_height));
    put_u32(std::uint32_t(card.input_width));
    put_f32(card.normalize_mean);
    put_f32(card.normalize_std);
    put_f32(card.test_accuracy);
    put_u32(std::uint32_t(card.class_names.size()));
    for (const std::string* s : {&card.architecture, &card.dataset, &card.recipe, &card.trainer_version})
      put_string(*s);
    for (const std::string& s : card.class_names) put_string(s);

    for (std::size_t i = 0; i < model_.layers.size(); ++i) {
      const Layer& layer = model_.layers[i];
      for (std::size_t t = 0; t < layer.tensors.size(); ++t) {
        Planned p;
        p.tensor = &layer.tensors[t];
        p.name = tensor_name(i, layer.kind, t);
        p.dtype = is_weight_matrix(layer.kind, t) ? options_.dtype : DType::float32;
        p.record.dtype = static_cast<std::uint8_t>(p.dtype);
        p.record.rank = static_cast<std::uint8_t>(p.tensor->shape.size());
        for (std::size_t d = 0; d < p.tensor->shape.size(); ++d) p.record.dims[d] = std::uint32_t(p.tensor->shape[d]);
        wf::tensor_data_size(p.record, &p.elements, &p.data_bytes);  // shapes were checked by infer_shapes
        planned_.push_back(std::move(p));
      }
    }
    tensor_table_ = wf::kHeaderSize + std::uint64_t(model_.layers.size()) * wf::kLayerRecordSize;
    card_ = tensor_table_ + planned_.size() * wf::kTensorRecordSize;
    self_test_ = card_ + card_bytes_.size();
    self_test_size_ =
        options_.self_test_input.empty()
            ? 0
            : wf::kSelfTestFixedSize + 4 * (options_.self_test_input.size() + model_.card.class_names.size());
    std::uint64_t at = self_test_ + self_test_size_;
    file_size_ = at;
    for (Planned& p : planned_) {
      at = (at + wf::kTensorAlignment - 1) / wf::kTensorAlignment * wf::kTensorAlignment;
      p.record.offset = at;
      at += p.data_bytes;
      file_size_ = at;
    }
  }

  Status encode_tensors() {
    for (const Planned& p : planned_) {
      std::uint8_t* data = out_.data() + p.record.offset;
      const std::vector<float>& values = p.tensor->values;
      switch (p.dtype) {
        case DType::float32:
          for (std::size_t k = 0; k < values.size(); ++k) store_f32(data + 4 * k, values[k]);
          break;
        case DType::float16:
          for (std::size_t k = 0; k < values.size(); ++k) {
            const std::uint16_t half = wf::float_to_half(values[k]);
            if ((half & 0x7C00u) == 0x7C00u) {
              return invalid(p.name, "value " + std::to_string(k) + " = " + float_text(values[k]) +
                                         " does not fit float16 (largest 65504): write float32 or int8");
            }
            data[2 * k] = std::uint8_t(half);
            data[2 * k + 1] = std::uint8_t(half >> 8);
          }
          break;
        case DType::int8: {
          const std::uint64_t rows = p.record.dims[0];
          std::vector<float> scales(static_cast<std::size_t>(rows));
          std::vector<std::int8_t> quantized(values.size());
          wf::quantize_int8(values.data(), rows, values.size() / rows, scales.data(), quantized.data());
          for (std::size_t r = 0; r < scales.size(); ++r) store_f32(data + 4 * r, scales[r]);
          std::memcpy(data + 4 * rows, quantized.data(), quantized.size());
          break;
        }
      }
    }
    return Ok{};
  }

  // The logits of the model as the loader will see it: quantised tensors decoded back from the bytes.
  Status compute_self_test() {
    if (options_.self_test_input.empty()) return Ok{};
    const Model* as_read = &model_;
    Model dequantised;
    if (options_.dtype != DType::float32) {
      dequantised.card = model_.card;
      dequantised.layers = model_.layers;  // not the packed weights of the original: those would be stale
      std::size_t index = 0;
      for (std::size_t i = 0; i < dequantised.layers.size(); ++i) {
        for (std::size_t t = 0; t < dequantised.layers[i].tensors.size(); ++t, ++index) {
          const Planned& p = planned_[index];
          bool bad_scale = false;
          decode_values(out_.data() + p.record.offset, p.dtype, p.elements, p.record.dims[0],
                        dequantised.layers[i].tensors[t].values.data(), &bad_scale);
        }
      }
      if (Status s = prepare(dequantised); !s) return s.error();
      as_read = &dequantised;
    }
    Result<Prediction> prediction = forward(*as_read, options_.self_test_input.data(), options_.self_test_input.size());
    if (!prediction) return prediction.error();
    self_test_logits_ = prediction.value().logits;
    for (float v : self_test_logits_) {
      if (!std::isfinite(v))
        return invalid("options.self_test_input", "gives a non-finite logit; choose another input");
    }
    return Ok{};
  }

  void write_tables_card_and_header() {
    for (std::size_t i = 0; i < model_.layers.size(); ++i) {
      const Layer& layer = model_.layers[i];
      wf::LayerRecord r;
      r.kind = static_cast<std::uint16_t>(layer.kind);
      r.tensor_count = static_cast<std::uint16_t>(layer.tensors.size());
      r.in_features = std::uint32_t(layer.in_features);
      r.out_features = std::uint32_t(layer.out_features);
      r.in_channels = std::uint32_t(layer.in_channels);
      r.out_channels = std::uint32_t(layer.out_channels);
      r.kernel = std::uint32_t(layer.kernel);
      r.stride = std::uint32_t(layer.stride);
      r.padding = std::uint32_t(layer.padding);
      r.channels = std::uint32_t(layer.channels);
      r.alpha = layer.alpha;
      r.eps = layer.eps;
      r.dropout_p = layer.dropout_p;
      wf::encode_layer(r, out_.data() + wf::kHeaderSize + i * wf::kLayerRecordSize);
    }
    for (std::size_t k = 0; k < planned_.size(); ++k)
      wf::encode_tensor(planned_[k].record, out_.data() + tensor_table_ + k * wf::kTensorRecordSize);
    std::memcpy(out_.data() + card_, card_bytes_.data(), card_bytes_.size());
    if (self_test_size_ > 0) {
      std::uint8_t* p = out_.data() + self_test_;
      store_u32(p, std::uint32_t(options_.self_test_input.size()));
      store_u32(p + 4, std::uint32_t(self_test_logits_.size()));
      p += wf::kSelfTestFixedSize;
      for (float v : options_.self_test_input) store_f32(p, v), p += 4;
      for (float v : self_test_logits_) store_f32(p, v), p += 4;
    }
    wf::FileHeader h;
    std::memcpy(h.magic, wf::kMagic, sizeof h.magic);
    h.version = wf::kVersion;
    h.header_size = wf::kHeaderSize;
    h.file_size = file_size_;
    h.layer_count = std::uint32_t(model_.layers.size());
    h.tensor_count = std::uint32_t(planned_.size());
    h.card_size = std::uint32_t(card_bytes_.size());
    h.self_test_size = std::uint32_t(self_test_size_);
    wf::encode_header(h, out_.data());  // the CRCs are sealed next
  }

  // The file is returned only if the loader accepts it (same code path as every reader).
  Result<std::vector<std::uint8_t>> read_back() {
    LoadOptions options;
    options.memory_budget = UINT64_MAX;
    options.max_multiply_adds = UINT64_MAX;
    Result<LoadedWeights> loaded = load_weights(out_, options);
    if (!loaded) {
      const Error& e = loaded.error();
      return make_error(ErrorCode::bad_argument, e.field, e.offset,
                        "write_weights: the model cannot be stored in a version 1 file: " + e.to_string());
    }
    return std::move(out_);
  }
};

}  // namespace

Result<std::vector<std::uint8_t>> write_weights(const Model& model, const WriteOptions& options) {
  return Writer(model, options).run();
}

}  // namespace digitlab
