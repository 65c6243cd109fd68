// Reading digitlab weights files: any bytes give a runnable Model or an Error. Read next:
// docs/weights-format.md (every byte and every check), digitlab/weights_format.hpp (the one declaration),
// weights_writer.cpp (the writer, which reads back through this loader).
//
// Sections of this file:
//   1. Helpers   layer kinds and tensor counts, expected shapes, text for messages, cost (shared ones:
//                weights_helpers.hpp)
//   2. Loader    identify -> header -> sections -> layer table -> tensor table -> card and self-test fields
//                -> memory budget -> card strings, self-test values, tensor data -> shapes and cost -> self-test
#include "digitlab/weights.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "digitlab/crc32.hpp"
#include "digitlab/weights_format.hpp"
#include "weights_helpers.hpp"

namespace digitlab {

namespace wf = weights_format;
using namespace weights_detail;

namespace {

// ==== 1. Helpers ============================================================================================

constexpr const char* kReexport = "re-export it with `digitlab train`";

bool is_known_kind(std::uint16_t kind) { return kind >= 1 && kind <= 11; }

// How many tensors each kind carries and what they are called (model.hpp's LayerKind comments).
std::uint32_t tensor_count_for(LayerKind kind) {
  switch (kind) {
    case LayerKind::linear:
    case LayerKind::conv2d: return 2;
    case LayerKind::batch_norm: return 4;
    default: return 0;
  }
}

template <class Int>
std::string dims_text(const Int* dims, std::size_t rank) {
  std::string text = "(";
  for (std::size_t i = 0; i < rank; ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + ")";
}

std::string hex32(std::uint32_t value) {
  char text[11];
  std::snprintf(text, sizeof text, "0x%08X", static_cast<unsigned>(value));
  return text;
}

// The expected shape of a layer's tensor, from the layer's own parameters.
std::vector<std::uint64_t> expected_dims(LayerKind kind, std::size_t slot, std::uint64_t in_features,
                                         std::uint64_t out_features, std::uint64_t in_channels,
                                         std::uint64_t out_channels, std::uint64_t kernel, std::uint64_t channels) {
  switch (kind) {
    case LayerKind::linear:
      return slot == 0 ? std::vector<std::uint64_t>{out_features, in_features}
                       : std::vector<std::uint64_t>{out_features};
    case LayerKind::conv2d:
      return slot == 0 ? std::vector<std::uint64_t>{out_channels, in_channels, kernel, kernel}
                       : std::vector<std::uint64_t>{out_channels};
    case LayerKind::batch_norm: return {channels};
    default: return {};
  }
}

// Multiply-adds of one layer for one input (elementwise layers count one per value).
bool layer_cost(const Layer& layer, const ActivationShape& in, const ActivationShape& out, std::uint64_t* cost) {
  const std::uint64_t in_size = static_cast<std::uint64_t>(in.size()),
                      out_size = static_cast<std::uint64_t>(out.size());
  switch (layer.kind) {
    case LayerKind::linear: return checked_mul(in_size, out_size, cost);
    case LayerKind::conv2d: {
      std::uint64_t per_output = 0;
      return checked_mul(std::uint64_t(layer.in_channels), std::uint64_t(layer.kernel * layer.kernel), &per_output) &&
             checked_mul(out_size, per_output, cost);
    }
    case LayerKind::max_pool2d: return checked_mul(out_size, std::uint64_t(layer.kernel * layer.kernel), cost);
    case LayerKind::flatten:
    case LayerKind::dropout: *cost = 0; return true;
    default: *cost = out_size; return true;
  }
}

// ==== 2. Loader =============================================================================================

// One tensor record, checked, with what the loader needs later.
struct TensorEntry {
  wf::TensorRecord record;
  std::string name;  // "layer[2].weight"
  std::size_t layer = 0, slot = 0;
  std::uint64_t record_offset = 0;  // where its 32-byte record is
  std::uint64_t elements = 0, data_bytes = 0;
};

class Loader {
 public:
  Loader(ByteSpan bytes, const LoadOptions& options) : bytes_(bytes), options_(options) {}

  Result<LoadedWeights> run() {
    if (Status s = identify(); !s) return s.error();
    if (Status s = read_header(); !s) return s.error();
    if (Status s = locate_sections(); !s) return s.error();
    if (Status s = read_layer_table(); !s) return s.error();
    if (Status s = read_tensor_table(); !s) return s.error();
    if (Status s = read_card_fields(); !s) return s.error();
    if (Status s = read_self_test_fields(); !s) return s.error();
    if (Status s = check_memory_budget(); !s) return s.error();
    if (Status s = read_card_strings(); !s) return s.error();
    if (Status s = read_self_test_values(); !s) return s.error();
    if (Status s = read_tensor_data(); !s) return s.error();
    if (Status s = check_shapes_and_cost(); !s) return s.error();
    if (Status s = prepare(result_.model); !s) return s.error();  // packed once for forward()'s kernels
    if (Status s = run_self_test(); !s) return s.error();
    return std::move(result_);
  }

 private:
  ByteSpan bytes_;
  LoadOptions options_;
  LoadedWeights result_;
  wf::FileHeader header_;
  std::uint64_t layer_table_ = 0, tensor_table_ = 0, card_ = 0, self_test_ = 0, metadata_end_ = 0;
  std::vector<TensorEntry> tensors_;
  std::uint64_t weights_memory_ = 0;  // bytes the decoded tensors and structures take
  std::uint32_t class_count_ = 0;
  std::uint32_t self_test_inputs_ = 0, self_test_logits_ = 0;
  std::vector<float> self_test_input_, self_test_expected_;

  // ---- What is this file? ----------------------------------------------------------------------------------
  Status identify() {
    const std::size_t present = std::min<std::size_t>(bytes_.size, sizeof wf::kMagic);
    const bool magic_so_far = present == 0 || std::memcmp(bytes_.data, wf::kMagic, present) == 0;
    if (magic_so_far) {
      if (bytes_.size >= wf::kHeaderSize) return Ok{};
      return make_error(ErrorCode::truncated, "header", bytes_.size,
                        bytes_.size == 0
                            ? "the file is empty; download or export the weights file again"
                            : "the file has only " + std::to_string(bytes_.size) +
                                  " bytes but a weights file starts with a " + std::to_string(wf::kHeaderSize) +
                                  "-byte header: it was cut short; download or export it again");
    }
    const std::string kind = sniff_file_kind(bytes_);
    auto wrong_kind = [&](const std::string& advice) {
      return make_error(ErrorCode::wrong_file_kind, "header.magic", 0,
                        "this is " + kind + ", not a digitlab weights file: " + advice);
    };
    if (kind == "a gzip stream")
      return wrong_kind("gunzip it first (`gunzip model.dlw.gz`) and load the .dlw file it gives");
    if (kind.rfind("a PNG", 0) == 0)
      return wrong_kind("draw on the canvas to classify a digit, or load a .dlw file written by `digitlab train`");
    if (kind.rfind("an HTML", 0) == 0)
      return wrong_kind("the download failed and saved an error page instead; download the weights file again");
    if (kind.rfind("a zip", 0) == 0)
      return wrong_kind("if it is a PyTorch file (.pth), convert it with `digitlab import model.pth -o model.dlw` "
                        "(docs/pytorch.md); the web page imports it when it is dropped there");
    if (kind.rfind("an idx", 0) == 0)
      return wrong_kind("that is training data; load a .dlw file written by `digitlab train`");
    if (kind == "a digitlab weights file")
      return make_error(ErrorCode::bad_magic, "header.magic", 4,
                        "the file starts like a digitlab weights file but bytes 4..7 are not 0D 0A 1A 0A: it was "
                        "probably copied in text mode, which rewrites line endings; copy it again in binary mode");
    if (!kind.empty()) return wrong_kind("load a .dlw file written by `digitlab train`");
    std::string start;
    for (std::size_t i = 0; i < present; ++i) {
      char text[4];
      std::snprintf(text, sizeof text, "%02X ", bytes_.data[i]);
      start += text;
    }
    return make_error(ErrorCode::bad_magic, "header.magic", 0,
                      "not a digitlab weights file: it should start with 89 44 4C 57 0D 0A 1A 0A but starts with " +
                          start + "; load a .dlw file written by `digitlab train`");
  }

  // ---- The 64-byte header: version, its own CRC, the file's size, the body's CRC ---------------------------
  Status read_header() {
    namespace f = wf::header_field;
    header_ = wf::decode_header(bytes_.data);
    if (header_.version != wf::kVersion) {
      return make_error(ErrorCode::bad_version, "header.version", f::version,
                        "this file is format version " + std::to_string(header_.version) +
                            "; this build reads version " + std::to_string(wf::kVersion) + ": update digitlab, or " +
                            kReexport + " with this version");
    }
    const std::uint32_t header_crc = crc32(bytes_.subspan(0, f::header_crc));
    if (header_crc != header_.header_crc) {
      return make_error(ErrorCode::checksum_mismatch, "header.header_crc", f::header_crc,
                        "the header is damaged (CRC-32 " + hex32(header_crc) + ", stored " + hex32(header_.header_crc) +
                            "): the file was corrupted in transfer or storage; download or export it again");
    }
    if (header_.header_size != wf::kHeaderSize) {
      return make_error(ErrorCode::bad_value, "header.header_size", f::header_size,
                        "header_size is " + std::to_string(header_.header_size) + ", version 1 files have " +
                            std::to_string(wf::kHeaderSize) + "; " + kReexport);
    }
    for (std::size_t i = 0; i < f::reserved_size; ++i) {
      if (header_.reserved[i] != 0) {
        return make_error(ErrorCode::bad_value, "header.reserved", f::reserved + i,
                          std::string("reserved header bytes must be zero; the file was written by another tool "
                                      "or a newer digitlab: ") + kReexport);
      }
    }
    if (bytes_.size < header_.file_size) {
      return make_error(ErrorCode::truncated, "header.file_size", bytes_.size,
                        "the file has " + std::to_string(bytes_.size) + " bytes but its header says " +
                            std::to_string(header_.file_size) +
                            ": it was cut short (an interrupted download or copy?); "
                            "download or export it again");
    }
    if (bytes_.size > header_.file_size) {
      return make_error(ErrorCode::trailing_bytes, "header.file_size", header_.file_size,
                        std::to_string(bytes_.size - header_.file_size) +
                            " bytes follow the declared end of the file (" + std::to_string(header_.file_size) +
                            " bytes): something was appended to it; download or "
                            "export it again");
    }
    const std::uint32_t body_crc = crc32(bytes_.subspan(wf::kHeaderSize, bytes_.size - wf::kHeaderSize));
    if (body_crc != header_.body_crc) {
      return make_error(ErrorCode::checksum_mismatch, "header.body_crc", wf::kHeaderSize,
                        "the file's contents are damaged (CRC-32 " + hex32(body_crc) + ", stored " +
                            hex32(header_.body_crc) + "): download or export it again");
    }
    return Ok{};
  }

  // ---- Where the tables, the card and the self-test are ----------------------------------------------------
  Status locate_sections() {
    namespace f = wf::header_field;
    if (header_.layer_count == 0 || header_.layer_count > wf::kMaxLayers) {
      return make_error(ErrorCode::bad_dimensions, "header.layer_count", f::layer_count,
                        "layer_count is " + std::to_string(header_.layer_count) + "; it must be in 1.." +
                            std::to_string(wf::kMaxLayers) + "; " + kReexport);
    }
    if (std::uint64_t(header_.tensor_count) > std::uint64_t(header_.layer_count) * wf::kMaxTensorsPerLayer) {
      return make_error(ErrorCode::bad_dimensions, "header.tensor_count", f::tensor_count,
                        "tensor_count is " + std::to_string(header_.tensor_count) + " for " +
                            std::to_string(header_.layer_count) + " layers (at most 4 per layer); " + kReexport);
    }
    // Sums of 32-bit fields and bounded counts: no 64-bit overflow is possible here.
    layer_table_ = wf::kHeaderSize;
    tensor_table_ = layer_table_ + std::uint64_t(header_.layer_count) * wf::kLayerRecordSize;
    card_ = tensor_table_ + std::uint64_t(header_.tensor_count) * wf::kTensorRecordSize;
    self_test_ = card_ + header_.card_size;
    metadata_end_ = self_test_ + header_.self_test_size;
    if (metadata_end_ > header_.file_size) {
      return make_error(ErrorCode::offset_out_of_range, "header.card_size", f::card_size,
                        "the tables, card and self-test end at byte " + std::to_string(metadata_end_) +
                            ", past the end of the file (" + std::to_string(header_.file_size) + " bytes); " +
                            kReexport);
    }
    return Ok{};
  }

  // ---- Layer table: kinds, parameters, tensor counts -------------------------------------------------------
  Status read_layer_table() {
    namespace f = wf::layer_field;
    Model& model = result_.model;
    model.layers.resize(header_.layer_count);  // bounded by kMaxLayers
    std::uint64_t tensors = 0;
    for (std::size_t i = 0; i < model.layers.size(); ++i) {
      const std::uint64_t at = layer_table_ + i * wf::kLayerRecordSize;
      const wf::LayerRecord record = wf::decode_layer(bytes_.data + at);
      const std::string name = "layer[" + std::to_string(i) + "]";
      if (!is_known_kind(record.kind)) {
        return make_error(ErrorCode::bad_layer, name + ".kind", at + f::kind,
                          "unknown layer kind " + std::to_string(record.kind) +
                              " (this build reads kinds 1..11, see LayerKind): update digitlab or " + kReexport);
      }
      Layer& layer = model.layers[i];
      layer.kind = static_cast<LayerKind>(record.kind);
      if (record.tensor_count != tensor_count_for(layer.kind)) {
        return make_error(ErrorCode::bad_layer, name + ".tensor_count", at + f::tensor_count,
                          std::string(layer_kind_name(layer.kind)) + " layers have " +
                              std::to_string(tensor_count_for(layer.kind)) + " tensors, this record says " +
                              std::to_string(record.tensor_count) + "; " + kReexport);
      }
      const std::pair<float, std::size_t> floats[] = {
          {record.alpha, f::alpha}, {record.eps, f::eps}, {record.dropout_p, f::dropout_p}};
      for (const auto& [value, field] : floats) {
        if (!std::isfinite(value)) {
          return make_error(ErrorCode::bad_value,
                            name + (field == f::alpha ? ".alpha"
                                    : field == f::eps ? ".eps"
                                                      : ".dropout_p"),
                            at + field, "a layer parameter is " + float_text(value) + "; " + kReexport);
        }
      }
      layer.in_features = record.in_features;
      layer.out_features = record.out_features;
      layer.in_channels = record.in_channels;
      layer.out_channels = record.out_channels;
      layer.kernel = record.kernel;
      layer.stride = record.stride;
      layer.padding = record.padding;
      layer.channels = record.channels;
      layer.alpha = record.alpha;
      layer.eps = record.eps;
      layer.dropout_p = record.dropout_p;
      layer.tensors.resize(record.tensor_count);  // at most 4
      tensors += record.tensor_count;
    }
    if (tensors != header_.tensor_count) {
      return make_error(ErrorCode::count_mismatch, "header.tensor_count", wf::header_field::tensor_count,
                        "the header lists " + std::to_string(header_.tensor_count) + " tensors but the layers have " +
                            std::to_string(tensors) + "; " + kReexport);
    }
    weights_memory_ = std::uint64_t(header_.layer_count) * sizeof(Layer);
    return Ok{};
  }

  // ---- Tensor table: dtype, shape (checked by name), data extent -------------------------------------------
  Status read_tensor_table() {
    namespace f = wf::tensor_field;
    const Model& model = result_.model;
    tensors_.reserve(header_.tensor_count);
    for (std::size_t i = 0; i < model.layers.size(); ++i) {
      const Layer& layer = model.layers[i];
      for (std::size_t slot = 0; slot < layer.tensors.size(); ++slot) {
        TensorEntry entry;
        entry.layer = i;
        entry.slot = slot;
        entry.name = tensor_name(i, layer.kind, slot);
        entry.record_offset = tensor_table_ + tensors_.size() * wf::kTensorRecordSize;
        const std::uint64_t at = entry.record_offset;
        const wf::TensorRecord& r = entry.record = wf::decode_tensor(bytes_.data + at);
        if (r.dtype > static_cast<std::uint8_t>(DType::int8)) {
          return make_error(ErrorCode::bad_dtype, entry.name + ".dtype", at + f::dtype,
                            entry.name + ": dtype " + std::to_string(r.dtype) +
                                " is not 0 (float32), 1 (float16) or 2 (int8); update digitlab or " + kReexport);
        }
        if (r.rank < 1 || r.rank > wf::kMaxRank) {
          return make_error(ErrorCode::bad_dimensions, entry.name + ".rank", at + f::rank,
                            entry.name + ": rank " + std::to_string(r.rank) + " is not in 1..4; " + kReexport);
        }
        for (std::uint32_t d = 0; d < wf::kMaxRank; ++d) {
          if ((d < r.rank) != (r.dims[d] != 0)) {
            return make_error(ErrorCode::bad_dimensions, entry.name + ".dims", at + f::dims + 4 * d,
                              entry.name + ": dimension " + std::to_string(d) + " is " + std::to_string(r.dims[d]) +
                                  (d < r.rank ? " (dimensions must be >= 1)" : " (unused dimensions must be 0)") +
                                  "; " + kReexport);
          }
        }
        if (r.reserved0 != 0 || r.reserved1 != 0) {
          return make_error(ErrorCode::bad_value, entry.name + ".reserved",
                            at + (r.reserved0 ? f::reserved0 : f::reserved1),
                            entry.name + ": reserved bytes must be zero; " + kReexport);
        }
        if (!wf::tensor_data_size(r, &entry.elements, &entry.data_bytes)) {
          return make_error(ErrorCode::size_overflow, entry.name + ".dims", at + f::dims,
                            entry.name + ": the shape " + dims_text(r.dims, r.rank) +
                                " holds more bytes than 64 bits can count; " + kReexport);
        }
        const std::vector<std::uint64_t> expected =
            expected_dims(layer.kind, slot, std::uint64_t(layer.in_features), std::uint64_t(layer.out_features),
                          std::uint64_t(layer.in_channels), std::uint64_t(layer.out_channels),
                          std::uint64_t(layer.kernel), std::uint64_t(layer.channels));
        bool same = expected.size() == r.rank;
        for (std::size_t d = 0; same && d < expected.size(); ++d) same = expected[d] == r.dims[d];
        if (!same) {
          return make_error(ErrorCode::shape_mismatch, entry.name, at + f::dims,
                            entry.name + ": expected " + dims_text(expected.data(), expected.size()) + ", found " +
                                dims_text(r.dims, r.rank) + "; " + kReexport);
        }
        if (r.offset % wf::kTensorAlignment != 0) {
          return make_error(ErrorCode::bad_value, entry.name + ".offset", at + f::offset,
                            entry.name + ": data offset " + std::to_string(r.offset) + " is not a multiple of " +
                                std::to_string(wf::kTensorAlignment) + "; " + kReexport);
        }
        std::uint64_t end = 0;
        if (!checked_add(r.offset, entry.data_bytes, &end) || end > header_.file_size) {
          return make_error(ErrorCode::offset_out_of_range, entry.name + ".offset", at + f::offset,
                            entry.name + ": its " + std::to_string(entry.data_bytes) + " bytes at offset " +
                                std::to_string(r.offset) + " run past the end of the file (" +
                                std::to_string(header_.file_size) + " bytes); " + kReexport);
        }
        if (r.offset < metadata_end_ && entry.data_bytes > 0) {
          return make_error(ErrorCode::overlapping, entry.name + ".offset", at + f::offset,
                            entry.name + ": its data at offset " + std::to_string(r.offset) +
                                " overlaps the tables, card or self-test (which end at byte " +
                                std::to_string(metadata_end_) + "); " + kReexport);
        }
        // Decoded: float32 values plus the Tensor and its shape. elements <= file size, so no overflow.
        weights_memory_ += sizeof(Tensor) + 8 * std::uint64_t(r.rank) + 4 * entry.elements;
        tensors_.push_back(std::move(entry));
      }
    }
    // No two tensors may share bytes; the file ends where the last tensor ends.
    std::vector<const TensorEntry*> by_offset;
    by_offset.reserve(tensors_.size());
    for (const TensorEntry& t : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](const TensorEntry* a, const TensorEntry* b) {
      return a->record.offset < b->record.offset ||
             (a->record.offset == b->record.offset && a->record_offset < b->record_offset);
    });
    std::uint64_t end_of_data = metadata_end_;
    for (std::size_t k = 0; k < by_offset.size(); ++k) {
      const TensorEntry& t = *by_offset[k];
      if (k > 0) {
        const TensorEntry& previous = *by_offset[k - 1];
        if (t.record.offset < previous.record.offset + previous.data_bytes) {
          return make_error(ErrorCode::overlapping, t.name + ".offset", t.record_offset + f::offset,
                            t.name + " (bytes " + std::to_string(t.record.offset) + ".." +
                                std::to_string(t.record.offset + t.data_bytes) + ") overlaps " + previous.name +
                                " (bytes " + std::to_string(previous.record.offset) + ".." +
                                std::to_string(previous.record.offset + previous.data_bytes) + "); " + kReexport);
        }
      }
      end_of_data = std::max(end_of_data, t.record.offset + t.data_bytes);
    }
    if (end_of_data != header_.file_size) {
      return make_error(ErrorCode::trailing_bytes, "header.file_size", end_of_data,
                        std::to_string(header_.file_size - end_of_data) + " bytes after the last tensor (byte " +
                            std::to_string(end_of_data) + ") belong to nothing; " + kReexport);
    }
    return Ok{};
  }

  // ---- Model card: fixed fields (the strings come after the memory check) ----------------------------------
  Status read_card_fields() {
    ModelCard& card = result_.model.card;
    if (header_.card_size < wf::kCardFixedSize) {
      return make_error(ErrorCode::bad_value, "header.card_size", wf::header_field::card_size,
                        "the model card has " + std::to_string(header_.card_size) + " bytes, fewer than its " +
                            std::to_string(wf::kCardFixedSize) + " fixed bytes; " + kReexport);
    }
    const std::uint8_t* p = bytes_.data + card_;
    card.input_channels = load_u32_le(p + 0);
    card.input_height = load_u32_le(p + 4);
    card.input_width = load_u32_le(p + 8);
    card.normalize_mean = load_f32(p + 12);
    card.normalize_std = load_f32(p + 16);
    card.test_accuracy = load_f32(p + 20);
    class_count_ = load_u32_le(p + 24);
    if (!std::isfinite(card.normalize_mean))
      return card_error("card.normalize_mean", 12, "normalize_mean is not finite");
    if (!(std::isfinite(card.normalize_std) && card.normalize_std > 0.f))
      return card_error("card.normalize_std", 16, "normalize_std must be a finite number > 0");
    if (!(std::isfinite(card.test_accuracy) && card.test_accuracy <= 1.f))
      return card_error("card.test_accuracy", 20, "test_accuracy must be a fraction in [0, 1] (or negative: unknown)");
    if (class_count_ == 0 || class_count_ > wf::kMaxClasses)
      return card_error("card.class_count", 24, "class_count must be in 1.." + std::to_string(wf::kMaxClasses));
    // Each class name takes at least its 4-byte length.
    if (std::uint64_t(class_count_) * 4 > header_.card_size - wf::kCardFixedSize)
      return card_error("card.class_count", 24, std::to_string(class_count_) + " class names cannot fit in the card");
    return Ok{};
  }

  Error card_error(const char* field, std::uint64_t at, const std::string& what) {
    return make_error(ErrorCode::bad_value, field, card_ + at, "the model card's " + what + "; " + kReexport);
  }

  // ---- Self-test section: counts (the values come after the memory check) ----------------------------------
  Status read_self_test_fields() {
    if (header_.self_test_size == 0) return Ok{};
    const std::uint8_t* p = bytes_.data + self_test_;
    if (header_.self_test_size < wf::kSelfTestFixedSize) {
      return make_error(ErrorCode::bad_value, "header.self_test_size", wf::header_field::self_test_size,
                        "the self-test section has " + std::to_string(header_.self_test_size) +
                            " bytes, fewer than its 8 fixed bytes; " + kReexport);
    }
    self_test_inputs_ = load_u32_le(p);
    self_test_logits_ = load_u32_le(p + 4);
    const std::uint64_t expected = wf::kSelfTestFixedSize + 4 * (std::uint64_t(self_test_inputs_) + self_test_logits_);
    if (expected != header_.self_test_size) {
      return make_error(ErrorCode::count_mismatch, "self_test", self_test_,
                        "the self-test holds " + std::to_string(self_test_inputs_) + " inputs and " +
                            std::to_string(self_test_logits_) + " logits (" + std::to_string(expected) +
                            " bytes) but its section has " + std::to_string(header_.self_test_size) + "; " + kReexport);
    }
    const ModelCard& card = result_.model.card;
    std::uint64_t input_size = 0;
    const bool fits = checked_mul(std::uint64_t(card.input_channels), std::uint64_t(card.input_height), &input_size) &&
                      checked_mul(input_size, std::uint64_t(card.input_width), &input_size);
    if (!fits || input_size != self_test_inputs_) {
      return make_error(ErrorCode::shape_mismatch, "self_test.input_count", self_test_,
                        "the self-test input has " + std::to_string(self_test_inputs_) +
                            " values but the model takes (" + std::to_string(card.input_channels) + ", " +
                            std::to_string(card.input_height) + ", " + std::to_string(card.input_width) + "); " +
                            kReexport);
    }
    if (self_test_logits_ != class_count_) {
      return make_error(ErrorCode::shape_mismatch, "self_test.logit_count", self_test_ + 4,
                        "the self-test has " + std::to_string(self_test_logits_) + " logits but the card names " +
                            std::to_string(class_count_) + " classes; " + kReexport);
    }
    return Ok{};
  }

  // ---- Nothing declared by the file is allocated before this check ----------------------------------------
  Status check_memory_budget() {
    std::uint64_t total = weights_memory_;
    total += header_.card_size + (std::uint64_t(class_count_) + 4) * sizeof(std::string);
    total += header_.self_test_size;
    return check_budget(total, "the weights");
  }

  Status check_budget(std::uint64_t total, const char* what) {
    const std::uint64_t address_space = static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max());
    if (total > options_.memory_budget || total > address_space) {
      return make_error(ErrorCode::over_budget, "memory_budget", 0,
                        std::string(what) + " need " + std::to_string(total) + " bytes of memory, more than the " +
                            std::to_string(std::min(options_.memory_budget, address_space)) +
                            "-byte budget: this is not a digit model this page can run; load a smaller model");
    }
    return Ok{};
  }

  // ---- Card strings ----------------------------------------------------------------------------------------
  Status read_card_strings() {
    ModelCard& card = result_.model.card;
    std::uint64_t at = card_ + wf::kCardFixedSize;
    const std::uint64_t end = card_ + header_.card_size;
    struct Named {
      std::string* target;
      const char* field;
    };
    const Named fixed[] = {{&card.architecture, "card.architecture"},
                           {&card.dataset, "card.dataset"},
                           {&card.recipe, "card.recipe"},
                           {&card.trainer_version, "card.trainer_version"}};
    for (const Named& n : fixed) {
      if (Status s = read_string(at, end, n.field, n.target); !s) return s;
    }
    card.class_names.resize(class_count_);
    for (std::uint32_t c = 0; c < class_count_; ++c) {
      const std::string field = "card.class_names[" + std::to_string(c) + "]";
      if (Status s = read_string(at, end, field.c_str(), &card.class_names[c]); !s) return s;
    }
    if (at != end) {
      return make_error(
          ErrorCode::bad_value, "card", at,
          std::to_string(end - at) + " bytes at the end of the model card belong to no field; " + kReexport);
    }
    return Ok{};
  }

  // u32 byte length, then that many bytes of one-line UTF-8.
  Status read_string(std::uint64_t& at, std::uint64_t end, const char* field, std::string* out) {
    if (end - at < 4) {
      return make_error(ErrorCode::truncated, field, at,
                        std::string(field) + ": the model card ends before this string's length; " + kReexport);
    }
    const std::uint32_t length = load_u32_le(bytes_.data + at);
    if (length > wf::kMaxStringBytes || length > end - at - 4) {
      return make_error(length > wf::kMaxStringBytes ? ErrorCode::bad_value : ErrorCode::truncated, field, at,
                        std::string(field) + ": a " + std::to_string(length) + "-byte string " +
                            (length > wf::kMaxStringBytes
                                 ? "is longer than the " + std::to_string(wf::kMaxStringBytes) + "-byte limit"
                                 : "runs past the end of the model card") +
                            "; " + kReexport);
    }
    const std::uint8_t* text = bytes_.data + at + 4;
    if (!is_plain_text(text, length)) {
      return make_error(ErrorCode::bad_value, field, at + 4,
                        std::string(field) + " is not one line of UTF-8 text; " + kReexport);
    }
    out->assign(reinterpret_cast<const char*>(text), length);
    at += 4 + std::uint64_t(length);
    return Ok{};
  }

  // ---- Self-test values ------------------------------------------------------------------------------------
  Status read_self_test_values() {
    if (header_.self_test_size == 0) return Ok{};
    result_.has_self_test = true;
    const std::uint64_t inputs_at = self_test_ + wf::kSelfTestFixedSize;
    const std::uint64_t logits_at = inputs_at + 4 * std::uint64_t(self_test_inputs_);
    self_test_input_.resize(self_test_inputs_);
    self_test_expected_.resize(self_test_logits_);
    bool bad_scale = false;
    std::uint64_t first_bad = decode_values(bytes_.data + inputs_at, DType::float32, self_test_inputs_, 1,
                                            self_test_input_.data(), &bad_scale);
    if (first_bad != self_test_inputs_) {
      return make_error(ErrorCode::bad_value, "self_test.input", inputs_at + 4 * first_bad,
                        "self-test input value " + std::to_string(first_bad) + " is not finite; " + kReexport);
    }
    first_bad = decode_values(bytes_.data + logits_at, DType::float32, self_test_logits_, 1, self_test_expected_.data(),
                              &bad_scale);
    if (first_bad != self_test_logits_) {
      return make_error(ErrorCode::bad_value, "self_test.logits", logits_at + 4 * first_bad,
                        "self-test logit " + std::to_string(first_bad) + " is not finite; " + kReexport);
    }
    return Ok{};
  }

  // ---- Tensor data: decoded to float32, every value finite -------------------------------------------------
  Status read_tensor_data() {
    Model& model = result_.model;
    bool file_dtype_set = false;
    for (const TensorEntry& entry : tensors_) {
      const wf::TensorRecord& r = entry.record;
      Tensor& tensor = model.layers[entry.layer].tensors[entry.slot];
      tensor.shape.assign(r.dims, r.dims + r.rank);
      tensor.values.resize(static_cast<std::size_t>(entry.elements));  // fits: checked against the budget
      const DType dtype = static_cast<DType>(r.dtype);
      if (!file_dtype_set && is_weight_matrix(model.layers[entry.layer].kind, entry.slot)) {
        result_.dtype = dtype;
        file_dtype_set = true;
      }
      bool bad_scale = false;
      const std::uint64_t first_bad =
          decode_values(bytes_.data + r.offset, dtype, entry.elements, r.dims[0], tensor.values.data(), &bad_scale);
      if (bad_scale) {
        return make_error(ErrorCode::bad_value, entry.name, r.offset + 4 * first_bad,
                          entry.name + ": int8 scale of row " + std::to_string(first_bad) +
                              " is not a finite number >= 0; " + kReexport);
      }
      if (first_bad != entry.elements) {
        const std::uint64_t scales = dtype == DType::int8 ? 4 * std::uint64_t(r.dims[0]) : 0;
        const std::uint64_t at = r.offset + scales + first_bad * wf::dtype_element_size(dtype);
        return make_error(ErrorCode::bad_value, entry.name, at,
                          entry.name + ": value " + std::to_string(first_bad) + " is " +
                              float_text(tensor.values[static_cast<std::size_t>(first_bad)]) +
                              " (weights must be finite; was training diverging?); " + kReexport);
      }
    }
    return Ok{};
  }

  // ---- The layers chain (infer_shapes), and running them fits the budgets ----------------------------------
  Status check_shapes_and_cost() {
    const Model& model = result_.model;
    Result<std::vector<ActivationShape>> shapes = infer_shapes(model);
    if (!shapes) {
      Error error = shapes.error();
      error.offset = layer_offset_of(error.field);
      error.message += " (" + std::string(kReexport) + ")";
      return error;
    }
    // Every layer's output may be kept (the teaching panels ask for all activations).
    ActivationShape input{{model.card.input_channels, model.card.input_height, model.card.input_width}};
    std::uint64_t activation_floats = static_cast<std::uint64_t>(input.size()), multiply_adds = 0;
    const ActivationShape* previous = &input;
    for (std::size_t i = 0; i < model.layers.size(); ++i) {
      const ActivationShape& out = shapes.value()[i];
      std::uint64_t cost = 0;
      if (!layer_cost(model.layers[i], *previous, out, &cost) || !checked_add(multiply_adds, cost, &multiply_adds)) {
        multiply_adds = UINT64_MAX;
        break;
      }
      activation_floats += static_cast<std::uint64_t>(out.size());  // each <= 2^28 (infer_shapes), <= 1024 layers
      previous = &out;
    }
    if (multiply_adds > options_.max_multiply_adds) {
      return make_error(
          ErrorCode::over_budget, "layers", layer_table_,
          "the network needs " +
              (multiply_adds == UINT64_MAX ? std::string("more than 2^64") : std::to_string(multiply_adds)) +
              " multiply-adds per input, more than the limit of " + std::to_string(options_.max_multiply_adds) +
              ": it would be far too slow to run here");
    }
    result_.multiply_adds = multiply_adds;
    // The weights twice (as loaded, and packed by prepare()) plus every activation.
    std::uint64_t total = 0;
    if (!checked_mul(activation_floats, 4, &total) || !checked_add(total, 2 * weights_memory_, &total))
      total = UINT64_MAX;
    return check_budget(total, "the weights and the activations");
  }

  // "layer[3].in_features" -> the byte offset of layer 3's record.
  std::uint64_t layer_offset_of(const std::string& field) const {
    if (field.rfind("layer[", 0) != 0) return field.rfind("card", 0) == 0 ? card_ : layer_table_;
    std::uint64_t index = 0;
    for (std::size_t i = 6; i < field.size() && field[i] >= '0' && field[i] <= '9' && index < header_.layer_count; ++i)
      index = index * 10 + std::uint64_t(field[i] - '0');
    return layer_table_ + std::min<std::uint64_t>(index, header_.layer_count) * wf::kLayerRecordSize;
  }

  // ---- Self-test: the stored input must give the stored logits ---------------------------------------------
  Status run_self_test() {
    if (!result_.has_self_test || !options_.run_self_test) return Ok{};
    Result<Prediction> prediction = forward(result_.model, self_test_input_.data(), self_test_input_.size());
    if (!prediction) return prediction.error();  // cannot happen: shapes and input size were checked
    const std::vector<float>& logits = prediction.value().logits;
    if (logits.size() != self_test_expected_.size()) {  // cannot happen: infer_shapes checked the class count
      return make_error(ErrorCode::self_test_failed, "self_test.logits", self_test_,
                        "the model gives " + std::to_string(logits.size()) + " logits, the self-test expects " +
                            std::to_string(self_test_expected_.size()) + "; " + kReexport);
    }
    float largest = 0.f;
    std::size_t worst = 0;
    bool failed = false;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      const float expected = self_test_expected_[i];
      const float difference = std::fabs(logits[i] - expected);
      if (!(difference <= wf::kSelfTestAbsTolerance + wf::kSelfTestRelTolerance * std::fabs(expected))) failed = true;
      if (!(difference <= largest)) {  // a NaN difference counts as the largest
        largest = difference;
        worst = i;
      }
    }
    result_.self_test_max_abs_diff = largest;
    if (failed) {
      return make_error(ErrorCode::self_test_failed, "self_test.logits",
                        self_test_ + wf::kSelfTestFixedSize + 4 * (std::uint64_t(self_test_inputs_) + worst),
                        "the stored self-test input gives logit " + std::to_string(worst) + " = " +
                            float_text(logits[worst]) + ", the file expects " + float_text(self_test_expected_[worst]) +
                            " (largest |difference| " + float_text(largest) +
                            ", tolerance 1e-4 + 1e-4*|expected|): the weights do not compute what the trainer saw; " +
                            kReexport);
    }
    return Ok{};
  }
};

}  // namespace

Result<LoadedWeights> load_weights(ByteSpan bytes, const LoadOptions& options) {
  if (bytes.data == nullptr && bytes.size != 0) {
    return make_error(ErrorCode::bad_argument, "bytes", 0, "load_weights got a null pointer with a non-zero size");
  }
  return Loader(bytes, options).run();
}

Result<LoadedWeights> load_weights_file(const std::string& path, const LoadOptions& options) {
  Result<std::vector<std::uint8_t>> bytes = read_file(path, options.memory_budget);
  if (!bytes) return bytes.error();
  Result<LoadedWeights> loaded = load_weights(bytes.value(), options);
  if (!loaded) {
    Error error = loaded.error();
    error.message = path + ": " + error.message;
    return error;
  }
  return loaded;
}

}  // namespace digitlab
