// Keeps docs/weights-format.md's check table true: reads the table from the doc, breaks a file for each row and
// requires the row's code and field, and a file broken twice the row listed first. Read next: docs/weights-format.md.
#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <tuple>

#include "test_weights_util.hpp"

using namespace weights_test;

namespace {

const std::string kDocPath = std::string(DIGITLAB_SOURCE_DIR) + "/docs/weights-format.md";
const std::string kTableMarker = "<!-- check-table:";  // the line just above the table

// ---- The table, as the doc writes it ------------------------------------------------------------------------

struct DocRow {
  int line = 0;  // in the doc
  std::string order, id, field, condition, code;
  std::string text;  // the row as written, for messages
};

std::string trim_cell(const std::string& cell) {
  std::size_t begin = 0, end = cell.size();
  while (begin < end && (cell[begin] == ' ' || cell[begin] == '`')) ++begin;
  while (end > begin && (cell[end - 1] == ' ' || cell[end - 1] == '`')) --end;
  return cell.substr(begin, end - begin);
}

// The rows of the first markdown table after the marker line. Sets *problem when the doc cannot be read.
std::vector<DocRow> read_check_table(std::string* problem) {
  std::ifstream in(kDocPath);
  if (!in) {
    *problem = "cannot open " + kDocPath;
    return {};
  }
  std::vector<DocRow> rows;
  std::string line;
  int number = 0, table_lines = 0;
  bool marker = false;
  while (std::getline(in, line)) {
    ++number;
    if (!marker) {
      marker = line.rfind(kTableMarker, 0) == 0;
      continue;
    }
    if (line.empty() || line[0] != '|') {
      if (table_lines > 0) break;  // the end of the table
      continue;
    }
    if (++table_lines <= 2) continue;  // the column names and the |---| line
    std::vector<std::string> cells;
    std::size_t at = 1;
    for (std::size_t bar; (bar = line.find('|', at)) != std::string::npos; at = bar + 1)
      cells.push_back(trim_cell(line.substr(at, bar - at)));
    if (cells.size() != 5) {
      *problem = kDocPath + ":" + std::to_string(number) + ": a check row needs 5 cells (#, id, field, " +
                 "fails when, error), this one has " + std::to_string(cells.size()) + ": " + line;
      return {};
    }
    rows.push_back(DocRow{number, cells[0], cells[1], cells[2], cells[3], cells[4], line});
  }
  if (!marker) *problem = kDocPath + " has no line starting with '" + kTableMarker + "' above its check table";
  return rows;
}

// The loader's field in the doc's notation: layer[6].weight.dims -> layer[i].<tensor>.dims,
// card.class_names[2] -> card.<string>.
std::string as_doc_field(std::string field) {
  for (std::size_t at = 0; (at = field.find("layer[", at)) != std::string::npos;) {
    const std::size_t close = field.find(']', at);
    if (close == std::string::npos) break;
    field.replace(at + 6, close - at - 6, "i");
    at += 8;
  }
  for (const char* role : {"weight", "bias", "gamma", "beta", "running_mean", "running_var"}) {
    const std::string prefix = std::string("layer[i].") + role;
    if (field.rfind(prefix, 0) == 0 && (field.size() == prefix.size() || field[prefix.size()] == '.'))
      field.replace(9, prefix.size() - 9, "<tensor>");
  }
  for (const char* name : {"card.architecture", "card.dataset", "card.recipe", "card.trainer_version"}) {
    if (field == name) return "card.<string>";
  }
  if (field.rfind("card.class_names[", 0) == 0) return "card.<string>";
  return field;
}

// ---- Valid files to break -----------------------------------------------------------------------------------

// Records of the tiny model (test_weights_util.hpp), in file order.
enum TinyLayer { conv = 0, norm = 1, leaky = 2, pool = 3, flatten = 4, dropout = 5, linear = 6 };
enum TinyTensor { conv_weight = 0, conv_bias = 1, norm_gamma = 2, norm_var = 5, linear_weight = 6, linear_bias = 7 };

// The tiny model without a self-test: for edits of the card's input shape or size, which a self-test would
// report first (rows 44-47).
const std::vector<std::uint8_t>& tiny_plain() {
  static const std::vector<std::uint8_t> bytes = write_weights(tiny_model()).value();
  return bytes;
}

const std::vector<std::uint8_t>& tiny_int8() {
  static const std::vector<std::uint8_t> bytes = [] {
    WriteOptions options;
    options.dtype = DType::int8;
    return write_weights(tiny_model(), options).value();
  }();
  return bytes;
}

wf::TensorRecord tensor_at(const std::vector<std::uint8_t>& bytes, std::size_t k) {
  return wf::decode_tensor(bytes.data() + tensor_record(bytes, k));
}

// Where the length of card string n is (0 architecture, 1 dataset, 2 recipe, 3 trainer_version, 4+c class c).
std::size_t card_string_at(const std::vector<std::uint8_t>& bytes, std::size_t n) {
  std::size_t at = card_offset(bytes) + wf::kCardFixedSize;
  for (std::size_t s = 0; s < n; ++s) at += 4 + load_u32_le(bytes.data() + at);
  return at;
}

std::vector<std::uint8_t> bytes_of(const std::string& text, std::size_t pad_to = 64) {
  std::vector<std::uint8_t> bytes(text.begin(), text.end());
  if (bytes.size() < pad_to) bytes.resize(pad_to, ' ');
  return bytes;
}

std::vector<std::uint8_t> flip(std::vector<std::uint8_t> bytes, std::size_t at) {
  bytes[at] ^= 0x10;  // no re-seal: the CRC check is the one under test
  return bytes;
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(std::uint8_t(v >> (8 * i)));
}
void put_f32(std::vector<std::uint8_t>& out, float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, 4);
  put_u32(out, bits);
}

// A model encoded byte by byte as the doc describes, with no checks at all: write_weights refuses the models
// whose shapes do not chain, which rows 58-76 need. A tensor whose values do not match its shape is written as
// zeros (so a huge tensor costs no float buffer); weight matrices (slot 0 of linear and conv2d) are written in
// `weight_dtype` (int8: scale 1, q = the value rounded), everything else as float32; no self-test.
std::vector<std::uint8_t> encode_unchecked(const Model& model, DType weight_dtype = DType::float32) {
  const ModelCard& c = model.card;
  std::vector<std::uint8_t> card;
  for (std::int64_t v : {c.input_channels, c.input_height, c.input_width}) put_u32(card, std::uint32_t(v));
  for (float v : {c.normalize_mean, c.normalize_std, c.test_accuracy}) put_f32(card, v);
  put_u32(card, std::uint32_t(c.class_names.size()));
  std::vector<std::string> strings = {c.architecture, c.dataset, c.recipe, c.trainer_version};
  strings.insert(strings.end(), c.class_names.begin(), c.class_names.end());
  for (const std::string& s : strings) {
    put_u32(card, std::uint32_t(s.size()));
    card.insert(card.end(), s.begin(), s.end());
  }
  struct Planned {
    const Tensor* tensor;
    wf::TensorRecord record;
    std::uint64_t elements = 0, bytes = 0;
  };
  std::vector<Planned> planned;
  for (const Layer& layer : model.layers) {
    for (std::size_t t = 0; t < layer.tensors.size(); ++t) {
      Planned p{&layer.tensors[t], {}};
      const bool weight = t == 0 && (layer.kind == LayerKind::linear || layer.kind == LayerKind::conv2d);
      p.record.dtype = std::uint8_t(weight ? weight_dtype : DType::float32);
      p.record.rank = std::uint8_t(p.tensor->shape.size());
      for (std::size_t d = 0; d < p.tensor->shape.size(); ++d) p.record.dims[d] = std::uint32_t(p.tensor->shape[d]);
      wf::tensor_data_size(p.record, &p.elements, &p.bytes);
      planned.push_back(p);
    }
  }
  const std::uint64_t tensor_table = wf::kHeaderSize + wf::kLayerRecordSize * model.layers.size();
  const std::uint64_t card_at = tensor_table + wf::kTensorRecordSize * planned.size();
  std::uint64_t end = card_at + card.size();
  for (Planned& p : planned) {
    p.record.offset = (end + 63) / 64 * 64;
    end = p.record.offset + p.bytes;
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(end), 0);
  wf::FileHeader h;
  std::memcpy(h.magic, wf::kMagic, 8);
  h.version = wf::kVersion;
  h.header_size = wf::kHeaderSize;
  h.file_size = end;
  h.layer_count = std::uint32_t(model.layers.size());
  h.tensor_count = std::uint32_t(planned.size());
  h.card_size = std::uint32_t(card.size());
  wf::encode_header(h, out.data());
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& l = model.layers[i];
    wf::LayerRecord r;
    r.kind = std::uint16_t(l.kind);
    r.tensor_count = std::uint16_t(l.tensors.size());
    r.in_features = std::uint32_t(l.in_features), r.out_features = std::uint32_t(l.out_features);
    r.in_channels = std::uint32_t(l.in_channels), r.out_channels = std::uint32_t(l.out_channels);
    r.kernel = std::uint32_t(l.kernel), r.stride = std::uint32_t(l.stride), r.padding = std::uint32_t(l.padding);
    r.channels = std::uint32_t(l.channels);
    r.alpha = l.alpha, r.eps = l.eps, r.dropout_p = l.dropout_p;
    wf::encode_layer(r, out.data() + wf::kHeaderSize + i * wf::kLayerRecordSize);
  }
  for (std::size_t k = 0; k < planned.size(); ++k) {
    const Planned& p = planned[k];
    wf::encode_tensor(p.record, out.data() + tensor_table + k * wf::kTensorRecordSize);
    std::uint8_t* data = out.data() + p.record.offset;
    const std::vector<float>& values = p.tensor->values;
    const bool has_values = values.size() == p.elements;
    if (p.record.dtype == std::uint8_t(DType::int8)) {
      const float one = 1.f;
      for (std::uint32_t row = 0; row < p.record.dims[0]; ++row) std::memcpy(data + 4 * row, &one, 4);
      for (std::size_t i = 0; has_values && i < values.size(); ++i)
        data[4 * p.record.dims[0] + i] =
            std::uint8_t(std::int8_t(std::lround(std::fmax(-127.f, std::fmin(127.f, values[i])))));
    } else {
      for (std::size_t i = 0; has_values && i < values.size(); ++i) std::memcpy(data + 4 * i, &values[i], 4);
    }
  }
  std::memcpy(out.data() + card_at, card.data(), card.size());
  wf::reseal_checksums(out);
  return out;
}

Tensor shaped(std::vector<std::int64_t> shape) { return Tensor{std::move(shape), {}}; }  // zeros when encoded

// A model on a (channels, height, width) input with the given layers and class count, tiny_model's card otherwise.
Model model_of(std::int64_t channels, std::int64_t height, std::int64_t width, std::vector<Layer> layers,
               std::size_t classes = 1) {
  Model model;
  model.card = tiny_model().card;
  model.card.input_channels = channels, model.card.input_height = height, model.card.input_width = width;
  model.card.class_names.assign(classes, "c");
  model.layers = std::move(layers);
  return model;
}

Layer conv_layer(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride, std::int64_t padding) {
  Layer layer;
  layer.kind = LayerKind::conv2d;
  layer.in_channels = in, layer.out_channels = out, layer.kernel = kernel, layer.stride = stride;
  layer.padding = padding;
  layer.tensors = {shaped({out, in, kernel, kernel}), shaped({out})};
  return layer;
}

Layer linear_layer(std::int64_t in, std::int64_t out) {
  Layer layer;
  layer.kind = LayerKind::linear;
  layer.in_features = in, layer.out_features = out;
  layer.tensors = {shaped({out, in}), shaped({out})};
  return layer;
}

// ---- One file per row: it breaks that check and no earlier one -----------------------------------------------

struct Case {
  std::vector<std::uint8_t> bytes;
  LoadOptions options = {};
};
using MakeCase = std::function<Case()>;

const std::map<std::string, MakeCase>& cases() {
  static const std::map<std::string, MakeCase> all = [] {
    std::map<std::string, MakeCase> m;
    const std::vector<std::uint8_t>& valid = tiny_file();  // float32, with a self-test
    const std::size_t card = card_offset(valid), self_test = self_test_offset(valid);
    auto header = [=](std::function<void(wf::FileHeader&)> edit) { return with_header(valid, edit); };

    // What the file is (rows 1-9).
    m["short_file"] = [=] { return Case{std::vector<std::uint8_t>(valid.begin(), valid.begin() + 63)}; };
    m["png"] = [] { return Case{bytes_of(std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16))}; };
    m["text_mode"] = [=] {
      std::vector<std::uint8_t> bytes = valid;
      bytes.erase(bytes.begin() + 4);  // the CR of the magic's CR LF
      return Case{bytes};
    };
    m["gzip"] = [] { return Case{bytes_of(std::string("\x1f\x8b\x08\0\0\0\0\0\0\xff", 10))}; };
    m["zip"] = [] { return Case{bytes_of(std::string("PK\x03\x04", 4) + "archive/data.pkl")}; };
    m["idx"] = [] { return Case{bytes_of(std::string("\0\0\x08\x03\0\0\x27\x10", 8))}; };
    m["html"] = [] { return Case{bytes_of("\xEF\xBB\xBF \r\n<!DOCTYPE html><html><body>404</body></html>")}; };
    m["json"] = [] { return Case{bytes_of("\n\t{\"error\": \"not found\"}")}; };
    m["not_weights"] = [] { return Case{bytes_of("hello, this is not a model at all")}; };

    // The header (rows 10-19).
    m["version"] = [=] { return Case{header([](wf::FileHeader& h) { h.version = 2; })}; };
    m["header_crc"] = [=] { return Case{flip(valid, wf::header_field::layer_count)}; };
    m["header_size"] = [=] { return Case{header([](wf::FileHeader& h) { h.header_size = 128; })}; };
    m["header_reserved"] = [=] { return Case{header([](wf::FileHeader& h) { h.reserved[5] = 1; })}; };
    m["file_short"] = [=] { return Case{std::vector<std::uint8_t>(valid.begin(), valid.end() - 1)}; };
    m["file_long"] = [=] {
      std::vector<std::uint8_t> bytes = valid;
      bytes.push_back(0);
      return Case{bytes};
    };
    m["body_crc"] = [=] { return Case{flip(valid, 100)}; };
    m["layer_count"] = [=] { return Case{header([](wf::FileHeader& h) { h.layer_count = 0; })}; };
    m["tensor_count_limit"] = [=] {
      return Case{header([](wf::FileHeader& h) { h.tensor_count = 4 * h.layer_count + 1; })};
    };
    m["sections_end"] = [=] {  // self_test_size too big: the error still names card_size
      return Case{header([](wf::FileHeader& h) { h.self_test_size = 0xFFFFFFF0u; })};
    };

    // Layer records (rows 20-25).
    m["layer_kind"] = [=] { return Case{with_layer(valid, leaky, [](wf::LayerRecord& r) { r.kind = 12; })}; };
    m["layer_tensor_count"] = [=] {
      return Case{with_layer(valid, pool, [](wf::LayerRecord& r) { r.tensor_count = 1; })};
    };
    m["layer_alpha"] = [=] { return Case{with_layer(valid, leaky, [](wf::LayerRecord& r) { r.alpha = NAN; })}; };
    m["layer_eps"] = [=] { return Case{with_layer(valid, norm, [](wf::LayerRecord& r) { r.eps = INFINITY; })}; };
    m["layer_dropout_p"] = [=] {
      return Case{with_layer(valid, dropout, [](wf::LayerRecord& r) { r.dropout_p = NAN; })};
    };
    m["tensor_total"] = [=] { return Case{header([](wf::FileHeader& h) { h.tensor_count -= 1; })}; };

    // Tensor records (rows 26-37).
    auto tensor = [=](std::size_t k, std::function<void(wf::TensorRecord&)> edit) {
      return Case{with_tensor(valid, k, edit)};
    };
    m["tensor_dtype"] = [=] { return tensor(conv_weight, [](wf::TensorRecord& r) { r.dtype = 3; }); };
    m["tensor_rank"] = [=] { return tensor(conv_bias, [](wf::TensorRecord& r) { r.rank = 5; }); };
    m["tensor_dim_zero"] = [=] { return tensor(conv_bias, [](wf::TensorRecord& r) { r.dims[0] = 0; }); };
    m["tensor_dim_unused"] = [=] { return tensor(conv_bias, [](wf::TensorRecord& r) { r.dims[2] = 5; }); };
    m["tensor_reserved"] = [=] { return tensor(linear_bias, [](wf::TensorRecord& r) { r.reserved1 = 1; }); };
    m["tensor_size_overflow"] = [=] {
      return tensor(conv_weight,
                    [](wf::TensorRecord& r) { r.dims[0] = r.dims[1] = r.dims[2] = r.dims[3] = 0xFFFFFFFFu; });
    };
    m["tensor_shape"] = [=] { return tensor(linear_weight, [](wf::TensorRecord& r) { r.dims[1] = 7; }); };
    m["tensor_alignment"] = [=] { return tensor(linear_bias, [](wf::TensorRecord& r) { r.offset -= 4; }); };
    m["tensor_extent"] = [=] {
      const std::uint64_t past = (valid.size() / 64 + 10) * 64;
      return tensor(linear_bias, [=](wf::TensorRecord& r) { r.offset = past; });
    };
    m["tensor_in_metadata"] = [=] { return tensor(conv_bias, [](wf::TensorRecord& r) { r.offset = 64; }); };
    m["tensor_overlap"] = [=] {
      const std::uint64_t gamma = tensor_at(valid, norm_gamma).offset;
      return tensor(norm_var, [=](wf::TensorRecord& r) { r.offset = gamma; });
    };
    m["tensor_end"] = [=] {
      std::vector<std::uint8_t> bytes = valid;
      bytes.resize(bytes.size() + 64, 0);
      const std::uint64_t size = bytes.size();
      return Case{with_header(bytes, [=](wf::FileHeader& h) { h.file_size = size; })};
    };

    // Card fields and self-test counts (rows 38-47).
    m["card_size_min"] = [=] { return Case{header([](wf::FileHeader& h) { h.card_size = 20; })}; };
    m["normalize_mean"] = [=] { return Case{with_f32(valid, card + 12, NAN)}; };
    m["normalize_std"] = [=] { return Case{with_f32(valid, card + 16, 0.f)}; };
    m["test_accuracy"] = [=] { return Case{with_f32(valid, card + 20, 1.5f)}; };
    m["class_count_range"] = [=] { return Case{with_u32(valid, card + 24, 0)}; };
    m["class_count_fit"] = [=] { return Case{with_u32(valid, card + 24, 1000)}; };
    m["self_test_min"] = [=] { return Case{header([](wf::FileHeader& h) { h.self_test_size = 4; })}; };
    m["self_test_size"] = [=] { return Case{with_u32(valid, self_test, 15)}; };
    m["self_test_inputs"] = [=] { return Case{with_u32(with_u32(valid, self_test, 15), self_test + 4, 4)}; };
    m["self_test_logits"] = [=] { return Case{with_u32(valid, card + 24, 4)}; };  // the card names 4 classes

    // The first memory check (row 48).
    m["memory_budget"] = [=] {
      Case c{valid};
      c.options.memory_budget = 100;
      return c;
    };

    // Card strings (rows 49-53).
    m["string_room"] = [] {
      // Cut the card 6 bytes short: 1 byte is left where the last class name's length starts.
      return Case{with_header(tiny_plain(), [](wf::FileHeader& h) { h.card_size -= 6; })};
    };
    m["string_limit"] = [=] { return Case{with_u32(valid, card + wf::kCardFixedSize, 5000)}; };
    m["string_extent"] = [=] { return Case{with_u32(valid, card + wf::kCardFixedSize, 400)}; };
    m["string_text"] = [=] {
      const std::uint8_t tab = '\t';  // "tiny-test" -> "tiny\ttest"
      return Case{with_bytes(valid, card + wf::kCardFixedSize + 4 + 4, &tab, 1)};
    };
    m["card_rest"] = [=] {
      const std::size_t last = card_string_at(valid, 4 + 2);  // "two" -> "tw", and 1 byte left over
      return Case{with_u32(valid, last, load_u32_le(valid.data() + last) - 1)};
    };

    // Self-test values and tensor data (rows 54-57).
    m["self_test_input_value"] = [=] { return Case{with_f32(valid, self_test + 8, NAN)}; };
    m["self_test_logit_value"] = [=] { return Case{with_f32(valid, self_test + 8 + 4 * 16, INFINITY)}; };
    m["int8_scale"] = [] {
      const std::vector<std::uint8_t>& bytes = tiny_int8();
      return Case{with_f32(bytes, tensor_at(bytes, linear_weight).offset + 4, -0.5f)};
    };
    m["tensor_value"] = [=] { return Case{with_f32(valid, tensor_at(valid, linear_weight).offset + 4 * 5, NAN)}; };

    // infer_shapes (rows 58-74).
    m["input_shape"] = [] { return Case{with_u32(tiny_plain(), card_offset(tiny_plain()), 0)}; };
    m["linear_input"] = [=] {  // the flatten before the linear layer becomes a dropout
      return Case{with_layer(valid, flatten, [](wf::LayerRecord& r) { r.kind = std::uint16_t(LayerKind::dropout); })};
    };
    m["linear_features"] = [] {  // in_features 2^24 + 1: a 16 MiB int8 weight
      return Case{encode_unchecked(
          model_of(1, 4, 4, {make_simple_layer(LayerKind::flatten), linear_layer((1 << 24) + 1, 1)}), DType::int8)};
    };
    m["linear_in_features"] = [] {
      Model model = tiny_model();
      model.layers[linear] = linear_layer(2, 3);
      return Case{encode_unchecked(model)};
    };
    m["conv_input"] = [] {
      return Case{
          encode_unchecked(model_of(1, 4, 4, {make_simple_layer(LayerKind::flatten), conv_layer(1, 1, 1, 1, 0)}))};
    };
    m["conv_params"] = [] { return Case{with_layer(tiny_plain(), conv, [](wf::LayerRecord& r) { r.stride = 0; })}; };
    m["conv_channels"] = [] { return Case{encode_unchecked(model_of(1, 4, 4, {conv_layer(2, 1, 1, 1, 0)}))}; };
    m["conv_kernel_fit"] = [] { return Case{encode_unchecked(model_of(1, 4, 4, {conv_layer(1, 1, 5, 1, 0)}))}; };
    m["conv_kernel_volume"] = [] {  // 17 * 1024 * 1024 > 2^24: a 17 MiB int8 kernel on a (17, 1, 1) input
      return Case{encode_unchecked(model_of(17, 1, 1, {conv_layer(17, 1, 1024, 1, 512)}), DType::int8)};
    };
    m["conv_output_size"] = [] {  // (1, 4096, 4096) -> (2, 4096, 4096): 2^25 values
      return Case{encode_unchecked(model_of(1, 4096, 4096, {conv_layer(1, 2, 1, 1, 0)}))};
    };
    m["batch_norm_channels"] = [] {
      Model model = tiny_model();
      model.layers[norm].channels = 3;
      for (Tensor& t : model.layers[norm].tensors) t = shaped({3});
      return Case{encode_unchecked(model)};
    };
    m["batch_norm_eps"] = [] { return Case{with_layer(tiny_plain(), norm, [](wf::LayerRecord& r) { r.eps = -1.f; })}; };
    m["batch_norm_running_var"] = [] {
      Model model = tiny_model();
      model.layers[norm].eps = 0.f;
      model.layers[norm].tensors[3].values.back() = 0.f;
      return Case{encode_unchecked(model)};
    };
    m["pool_input"] = [] {
      return Case{
          encode_unchecked(model_of(1, 4, 4, {make_simple_layer(LayerKind::flatten), make_max_pool2d_layer(1, 1)}))};
    };
    m["pool_params"] = [] { return Case{with_layer(tiny_plain(), pool, [](wf::LayerRecord& r) { r.stride = 0; })}; };
    m["pool_fit"] = [] { return Case{with_layer(tiny_plain(), pool, [](wf::LayerRecord& r) { r.kernel = 5; })}; };
    m["output_rank"] = [] { return Case{encode_unchecked(model_of(1, 4, 4, {make_simple_layer(LayerKind::relu)}))}; };
    m["output_classes"] = [] {
      Model model = tiny_model();
      model.card.class_names.push_back("three");
      return Case{encode_unchecked(model)};
    };

    // Cost, the second memory check, the self-test (rows 76-78).
    m["multiply_adds"] = [=] {
      Case c{valid};
      c.options.max_multiply_adds = 100;
      return c;
    };
    m["run_memory"] = [] {  // small weights, a 4 MiB input: passes row 48's estimate, not row 76's
      Case c{encode_unchecked(
          model_of(1, 1024, 1024,
                   {make_max_pool2d_layer(1024, 1024), make_simple_layer(LayerKind::flatten), linear_layer(1, 2)}, 2))};
      c.options.memory_budget = 2 << 20;
      return c;
    };
    m["self_test"] = [=] {
      const std::size_t first_logit = self_test + 8 + 4 * 16;
      float stored;
      std::memcpy(&stored, valid.data() + first_logit, 4);
      return Case{with_f32(valid, first_logit, stored + 0.5f)};
    };
    return m;
  }();
  return all;
}

// Words only this check's message has, for the rows that share their code and field with another row: the
// case must reach the check its row names, not a neighbour with the same code.
const std::map<std::string, std::string>& telltales() {
  static const std::map<std::string, std::string> words = {
      {"png", "PNG image"},
      {"text_mode", "binary mode"},
      {"gzip", "gunzip"},
      {"zip", "zip archive"},
      {"idx", "idx file"},
      {"html", "HTML page"},
      {"json", "JSON document"},
      {"not_weights", "should start with"},
      {"file_long", "follow the declared end"},
      {"tensor_end", "belong to nothing"},
      {"tensor_dim_zero", "must be >= 1"},
      {"tensor_dim_unused", "unused dimensions must be 0"},
      {"tensor_in_metadata", "overlaps the tables"},
      {"tensor_overlap", "overlaps layer["},
      {"class_count_range", "must be in 1.."},
      {"class_count_fit", "cannot fit"},
      {"memory_budget", "the weights need"},
      {"run_memory", "the weights and the activations need"},
      {"string_room", "ends before this string's length"},
      {"string_extent", "runs past the end of the model card"},
      {"string_limit", "-byte limit"},
      {"string_text", "not one line of UTF-8"},
      {"int8_scale", "int8 scale"},
      {"tensor_value", "must be finite"},
      {"layer_eps", "a layer parameter is"},
      {"batch_norm_eps", "batch_norm eps"},
      {"batch_norm_running_var", "running_var["},
      {"linear_input", "linear needs a flat input"},
      {"conv_input", "conv2d needs"},
      {"pool_input", "max_pool2d needs"},
      {"conv_params", "conv2d parameters out of range"},
      {"conv_kernel_volume", "kernel volume"},
      {"pool_params", "max_pool2d kernel and stride"},
      {"conv_kernel_fit", "larger than its padded input"},
      {"pool_fit", "larger than its input"},
  };
  return words;
}

// What a row expects of a loader's error, or why the error is not it ("" when it is).
std::string mismatch(const DocRow& row, const Result<LoadedWeights>& loaded) {
  const std::string code = loaded.ok() ? "(loaded)" : error_code_name(loaded.error().code);
  const std::string field = loaded.ok() ? "" : as_doc_field(loaded.error().field);
  const auto words = telltales().find(row.id);
  const bool said =
      words == telltales().end() || (!loaded.ok() && loaded.error().message.find(words->second) != std::string::npos);
  if (code == row.code && field == row.field && said) return "";
  std::string text = "  expected " + row.code + " on " + row.field;
  if (words != telltales().end()) text += ", saying \"" + words->second + "\"";
  text += "\n  loader   " + code + " on " + field;
  if (!loaded.ok()) text += " (" + loaded.error().field + "): " + loaded.error().message;
  return text;
}

// ---- Two checks broken at once ------------------------------------------------------------------------------

// The loop a row runs in ("each layer", "each tensor", "each string"), or "" for a row that runs once.
std::string loop_of(const DocRow& row) {
  if (row.condition.rfind("each ", 0) != 0) return "";
  return row.condition.substr(0, row.condition.find_first_of(":,"));
}

// Which turn of its loop an error is from: layer N (and the tensor's slot in it), or the string's place.
std::uint64_t turn_of(const std::string& field) {
  if (field.rfind("layer[", 0) == 0) {
    const std::uint64_t layer = std::stoull(field.substr(6));
    const std::string rest = field.substr(field.find(']') + 1);
    std::uint64_t slot = 0;
    if (rest.rfind(".bias", 0) == 0 || rest.rfind(".beta", 0) == 0) slot = 1;
    if (rest.rfind(".running_mean", 0) == 0) slot = 2;
    if (rest.rfind(".running_var", 0) == 0) slot = 3;
    return layer * 8 + slot;
  }
  const char* strings[] = {"card.architecture", "card.dataset", "card.recipe", "card.trainer_version"};
  for (std::uint64_t k = 0; k < 4; ++k)
    if (field == strings[k]) return k;
  if (field.rfind("card.class_names[", 0) == 0) return 4 + std::stoull(field.substr(17));
  return 0;
}

// A case that is the valid tiny file with some bytes changed and its CRCs re-sealed: the bytes it changed
// (CRC fields left out), so that two such cases can be applied to one file. Empty when it is not one.
std::vector<std::size_t> edited_bytes(const Case& c) {
  const std::vector<std::uint8_t>& valid = tiny_file();
  const LoadOptions defaults;
  if (c.bytes.size() != valid.size() || c.options.memory_budget != defaults.memory_budget ||
      c.options.max_multiply_adds != defaults.max_multiply_adds || c.options.run_self_test != defaults.run_self_test)
    return {};
  std::vector<std::uint8_t> resealed = c.bytes;
  wf::reseal_checksums(resealed);
  if (resealed != c.bytes) return {};  // a CRC broken on purpose
  std::vector<std::size_t> at;
  for (std::size_t k = 0; k < valid.size(); ++k) {
    const bool crc = (k >= wf::header_field::body_crc && k < wf::header_field::body_crc + 4) ||
                     k >= wf::header_field::header_crc && k < wf::kHeaderSize;
    if (!crc && c.bytes[k] != valid[k]) at.push_back(k);
  }
  return at;
}

}  // namespace

TEST_CASE("docs/weights-format.md's check table: one row per check the loader runs, and a file for each",
          "[weights][docs]") {
  std::string problem;
  const std::vector<DocRow> rows = read_check_table(&problem);
  INFO(problem);
  REQUIRE(problem.empty());
  REQUIRE_FALSE(rows.empty());

  // A row added to the doc without a case here, or a case without a row, fails.
  std::set<std::string> in_doc;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const DocRow& row = rows[k];
    INFO(kDocPath << ":" << row.line << ": " << row.text);
    CHECK(row.order == std::to_string(k + 1));  // numbered 1, 2, ... in the order the checks run
    CHECK(in_doc.insert(row.id).second);        // ids are unique
    if (cases().count(row.id) == 0) FAIL_CHECK("the doc has check '" << row.id << "' but this test cannot trigger it");
  }
  for (const auto& [id, make] : cases()) {
    if (in_doc.count(id) == 0)
      FAIL_CHECK("this test triggers check '" << id << "' but the doc's table has no row for it");
  }
  CHECK(rows.size() == cases().size());
  for (const auto& [id, words] : telltales()) {
    if (cases().count(id) == 0) FAIL_CHECK("telltale words for '" << id << "', which is no case");
  }

  int wrong = 0;
  for (const DocRow& row : rows) {
    const auto found = cases().find(row.id);
    if (found == cases().end()) continue;
    const Case c = found->second();
    const Result<LoadedWeights> loaded = load_weights(c.bytes, c.options);
    const std::string why = mismatch(row, loaded);
    if (!why.empty()) {
      ++wrong;
      FAIL_CHECK(kDocPath << ":" << row.line << ": " << row.text << "\n" << why);
    }
  }
  CHECK(wrong == 0);
}

TEST_CASE("two checks broken in one file: the loader reports the one the doc's order puts first", "[weights][docs]") {
  std::string problem;
  const std::vector<DocRow> rows = read_check_table(&problem);
  INFO(problem);
  REQUIRE(problem.empty());
  // Where each row runs: (the first row of its loop, the loop's turn, the row), compared in that order.
  struct Broken {
    std::size_t row;
    std::size_t loop_start;
    std::uint64_t turn;
    Case c;
    std::vector<std::size_t> bytes;
  };
  std::vector<Broken> edits;
  std::size_t loop_start = 0;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (loop_of(rows[k]).empty() || k == 0 || loop_of(rows[k]) != loop_of(rows[k - 1])) loop_start = k;
    const auto found = cases().find(rows[k].id);
    if (found == cases().end()) continue;  // reported by the test above
    Case c = found->second();
    std::vector<std::size_t> bytes = edited_bytes(c);
    const Result<LoadedWeights> alone = load_weights(c.bytes);
    if (bytes.empty() || alone.ok()) continue;
    edits.push_back(Broken{k, loop_start, turn_of(alone.error().field), std::move(c), std::move(bytes)});
  }
  INFO(edits.size() << " of " << rows.size() << " rows' cases are byte edits of the valid tiny file");
  REQUIRE(edits.size() >= 30);

  int pairs = 0, wrong = 0;
  for (std::size_t a = 0; a < edits.size(); ++a) {
    for (std::size_t b = a + 1; b < edits.size(); ++b) {
      const Broken &x = edits[a], &y = edits[b];
      std::vector<std::size_t> both;
      std::set_intersection(x.bytes.begin(), x.bytes.end(), y.bytes.begin(), y.bytes.end(), std::back_inserter(both));
      if (!both.empty()) continue;  // the two edits change the same bytes: one file cannot hold both
      std::vector<std::uint8_t> bytes = x.c.bytes;
      for (std::size_t k : y.bytes) bytes[k] = y.c.bytes[k];
      wf::reseal_checksums(bytes);
      const bool x_first = std::make_tuple(x.loop_start, x.turn, x.row) < std::make_tuple(y.loop_start, y.turn, y.row);
      const DocRow& first = rows[x_first ? x.row : y.row];
      const std::string why = mismatch(first, load_weights(bytes));
      ++pairs;
      if (!why.empty() && wrong++ < 10) {
        FAIL_CHECK("rows " << rows[x.row].order << " (" << rows[x.row].id << ") and " << rows[y.row].order << " ("
                           << rows[y.row].id << ") broken together: the doc puts row " << first.order << " first\n"
                           << why);
      }
    }
  }
  INFO(pairs << " pairs tried");
  CHECK(pairs >= 400);
  CHECK(wrong == 0);
}

TEST_CASE("the doc's rules outside the table, as the loader applies them", "[weights][docs]") {
  const std::vector<std::uint8_t>& valid = tiny_file();
  auto loads = [](const std::vector<std::uint8_t>& bytes) {
    const Result<LoadedWeights> loaded = load_weights(bytes);
    INFO((loaded.ok() ? std::string("loaded") : loaded.error().to_string()));
    CHECK(loaded.ok());
    return loaded.ok();
  };
  SECTION("Padding and gaps: non-zero padding, a wider gap and tensors out of order all load") {
    const std::size_t metadata_end = self_test_offset(valid) + wf::decode_header(valid.data()).self_test_size;
    REQUIRE(tensor_at(valid, 0).offset > metadata_end);  // there is padding before the first tensor
    const std::uint8_t junk = 0xAB;
    loads(with_bytes(valid, metadata_end, &junk, 1));
    const std::uint64_t last = tensor_at(valid, linear_bias).offset;  // the last tensor moves 64 bytes on
    std::vector<std::uint8_t> wider = valid;
    wider.insert(wider.begin() + static_cast<std::ptrdiff_t>(last), 64, 0);
    wider = with_tensor(wider, linear_bias, [](wf::TensorRecord& r) { r.offset += 64; });
    const std::uint64_t size = wider.size();
    loads(with_header(wider, [=](wf::FileHeader& h) { h.file_size = size; }));
    // conv bias and the first batch_norm tensor (both 2 floats) swap places: records stay, data moves.
    std::vector<std::uint8_t> swapped = valid;
    const std::uint64_t bias = tensor_at(valid, conv_bias).offset, gamma = tensor_at(valid, norm_gamma).offset;
    std::memcpy(swapped.data() + bias, valid.data() + gamma, 8);
    std::memcpy(swapped.data() + gamma, valid.data() + bias, 8);
    swapped = with_tensor(swapped, conv_bias, [=](wf::TensorRecord& r) { r.offset = gamma; });
    swapped = with_tensor(swapped, norm_gamma, [=](wf::TensorRecord& r) { r.offset = bias; });
    loads(swapped);
  }
  SECTION("Card strings: control characters are 00-1F, 7F and C1; U+2028 and U+2029 are refused; empty strings are text") {
    const std::size_t arch = card_string_at(valid, 0) + 4;  // "tiny-test": 9 bytes, replaced by 9 others
    REQUIRE(load_u32_le(valid.data() + arch - 4) == 9);
    auto with_arch = [&](const char* nine) { return with_bytes(valid, arch, nine, 9); };
    auto refused = [](const std::vector<std::uint8_t>& bytes) {
      const Result<LoadedWeights> loaded = load_weights(bytes);
      return !loaded.ok() && loaded.error().code == ErrorCode::bad_value && loaded.error().field == "card.architecture";
    };
    int wrong = 0;
    for (int b = 0; b < 256; ++b) {  // one byte in place of the 'n': only 20..7E pass (80..FF alone are not UTF-8)
      const char text[9] = {'t', 'i', char(b), 'y', '-', 't', 'e', 's', 't'};
      const bool text_ok = b >= 0x20 && b <= 0x7E;
      if (refused(with_arch(text)) == text_ok && wrong++ < 3)
        FAIL_CHECK("byte " << b << (text_ok ? " refused" : " passed"));
    }
    CHECK(wrong == 0);
    CHECK(refused(with_arch("tin\xC2\x85test")));        // U+0085 (NEL), a C1 control
    CHECK(refused(with_arch("tin\xC2\x80test")));        // U+0080, the first C1 control
    CHECK(refused(with_arch("tin\xC2\x9Ftest")));        // U+009F, the last
    loads(with_arch("tin\xC2\xA0test"));                 // U+00A0 (no-break space): text
    CHECK(refused(with_arch("ti\xE2\x80\xA8test")));     // U+2028 LINE SEPARATOR
    CHECK(refused(with_arch("ti\xE2\x80\xA9test")));     // U+2029 PARAGRAPH SEPARATOR
    loads(with_arch("ti\xE2\x80\xA7test"));              // U+2027 (hyphenation point): text
    loads(with_arch("t\xF4\x8F\xBF\xBFtest"));           // U+10FFFF, the largest
    CHECK(refused(with_arch("ti\xE0\x9F\xBFtest")));     // U+07FF in 3 bytes: overlong
    CHECK(refused(with_arch("ti\xED\xA0\x80test")));     // U+D800: a surrogate
    CHECK(refused(with_arch("t\xF0\x8F\xBF\xBFtest")));  // U+FFFF in 4 bytes: overlong
    CHECK(refused(with_arch("t\xF4\x90\x80\x80test")));  // U+110000: past the end of Unicode
    CHECK(refused(with_arch("tiny-tes\xC3")));           // cut short by the end of the string
    Model model = tiny_model();
    model.card.trainer_version.clear();
    loads(write_weights(model).value());
  }
  SECTION("batch_norm eps: 0 is accepted, and running_var + eps = 0 is refused before anything runs") {
    const std::vector<std::uint8_t> zero_eps = with_layer(tiny_plain(), norm, [](wf::LayerRecord& r) { r.eps = 0.f; });
    loads(zero_eps);
    const std::vector<std::uint8_t> zero_var = with_f32(zero_eps, tensor_at(zero_eps, norm_var).offset, 0.f);
    const Result<LoadedWeights> loaded = load_weights(zero_var);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().code == ErrorCode::bad_value);
    CHECK(loaded.error().field == "layer[" + std::to_string(norm) + "].running_var");
    const std::vector<std::uint8_t> tiny_var = with_f32(zero_eps, tensor_at(zero_eps, norm_var).offset, 1e-30f);
    loads(tiny_var);  // > 0 is enough: the rule is about the sign, not about size
  }
  SECTION("Output sizes floor: the doc's two examples") {
    // 28x28, conv kernel 3 stride 2 padding 1: 27 / 2 = 13, + 1 = 14; two 2/2 max-pools: 7, then 3 (not 4).
    Model model = model_of(1, 28, 28,
                           {make_conv2d_layer(1, 1, 3, 2, 1), make_max_pool2d_layer(2, 2), make_max_pool2d_layer(2, 2),
                            make_simple_layer(LayerKind::flatten)},
                           9);
    randomize_parameters(model, 2);
    const Result<std::vector<ActivationShape>> shapes = infer_shapes(model);
    REQUIRE(shapes.ok());
    CHECK(shapes.value()[0].dims == std::vector<std::int64_t>{1, 14, 14});
    CHECK(shapes.value()[2].dims == std::vector<std::int64_t>{1, 3, 3});
    loads(write_weights(model).value());  // and the loader agrees: 9 outputs for 9 classes
  }
  SECTION("Multiply-adds: the doc's counting rule gives the loader's figure, and the figures it quotes") {
    // The rule, from the doc's table: in * out, out * in_channels * k * k, out * k * k, 0, or out.
    const Model model = tiny_model();
    const std::vector<ActivationShape> shapes = infer_shapes(model).value();
    std::uint64_t expected = 0, in = std::uint64_t(input_size(model));
    for (std::size_t i = 0; i < model.layers.size(); ++i) {
      const Layer& l = model.layers[i];
      const std::uint64_t out = std::uint64_t(shapes[i].size());
      switch (l.kind) {
        case LayerKind::linear:
          expected += in * out;
          break;
        case LayerKind::conv2d:
          expected += out * std::uint64_t(l.in_channels * l.kernel * l.kernel);
          break;
        case LayerKind::max_pool2d:
          expected += out * std::uint64_t(l.kernel * l.kernel);
          break;
        case LayerKind::flatten:
        case LayerKind::dropout:
          break;
        default:
          expected += out;
      }
      in = out;
    }
    CHECK(expected == 411);  // 288 conv + 32 batch_norm + 32 leaky_relu + 32 pool + 24 linear + 3 softmax
    CHECK(load_weights(valid).value().multiply_adds == expected);
    CHECK(load_weights(write_weights(make_mlp(1)).value()).value().multiply_adds == 669696);
    CHECK(load_weights(write_weights(make_mlp_deep(1)).value()).value().multiply_adds == 2646016);
    CHECK(load_weights(write_weights(make_cnn(1)).value()).value().multiply_adds == 8440320);
  }
}

TEST_CASE("the doc's field notation reads the loader's fields", "[weights][docs]") {
  CHECK(as_doc_field("layer[12].running_var.offset") == "layer[i].<tensor>.offset");
  CHECK(as_doc_field("layer[0].weight") == "layer[i].<tensor>");
  CHECK(as_doc_field("layer[3].in_features") == "layer[i].in_features");
  CHECK(as_doc_field("card.class_names[2]") == "card.<string>");
  CHECK(as_doc_field("card.class_names") == "card.class_names");
  CHECK(as_doc_field("card.recipe") == "card.<string>");
  CHECK(as_doc_field("header.magic") == "header.magic");
}
