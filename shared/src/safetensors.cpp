// .safetensors files: an 8-byte little-endian header length, a JSON header (name -> dtype, shape,
// data_offsets; optional __metadata__), then the tensors' bytes. Read strictly and bounded; the JSON parser
// knows only what this header holds. Read next: pytorch_read.cpp, pickle.cpp.
#include <algorithm>

#include "pytorch_internal.hpp"

namespace digitlab::pytorch::detail {
namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;  // as the safetensors library itself
constexpr std::uint64_t kMaxInteger = 1ull << 53;

struct Header {
  std::string name, dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;
  bool has_dtype = false, has_shape = false, has_offsets = false;
};

class Json {
 public:
  Json(ByteSpan text, std::uint64_t base) : text_(text), base_(base) {}

  Error fail(const std::string& message) const {
    return make_error(ErrorCode::bad_value, "safetensors.header", base_ + at_,
                      "the safetensors header is not valid: " + message + " (header byte " + std::to_string(at_) + ")");
  }
  void skip_space() {
    while (at_ < text_.size && (text_.data[at_] == ' ' || text_.data[at_] == '\n' || text_.data[at_] == '\r' ||
                                text_.data[at_] == '\t'))
      ++at_;
  }
  bool peek(char c) {
    skip_space();
    return at_ < text_.size && text_.data[at_] == std::uint8_t(c);
  }
  bool take(char c) {
    if (!peek(c)) return false;
    ++at_;
    return true;
  }
  bool at_end() {
    skip_space();
    return at_ == text_.size;
  }

  Status string(std::string* out) {
    if (!take('"')) return fail("expected a string");
    out->clear();
    while (at_ < text_.size) {
      const std::uint8_t c = text_.data[at_++];
      if (c == '"') return Ok{};
      if (c < 0x20) return fail("a control character inside a string");
      if (c != '\\') {
        out->push_back(char(c));
        continue;
      }
      if (at_ >= text_.size) break;
      const std::uint8_t e = text_.data[at_++];
      switch (e) {
        case '"': case '\\': case '/': out->push_back(char(e)); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          if (text_.size - at_ < 4) return fail("a \\u escape is cut off");
          std::uint32_t code = 0;
          for (int k = 0; k < 4; ++k) {
            const std::uint8_t h = text_.data[at_++];
            const int digit = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
            if (digit < 0) return fail("a bad \\u escape");
            code = code * 16 + std::uint32_t(digit);
          }
          // UTF-8 of the code unit (surrogates are kept as they are: names are compared, never shown as text)
          if (code < 0x80) out->push_back(char(code));
          else if (code < 0x800) out->push_back(char(0xC0 | (code >> 6))), out->push_back(char(0x80 | (code & 63)));
          else out->push_back(char(0xE0 | (code >> 12))), out->push_back(char(0x80 | ((code >> 6) & 63))),
               out->push_back(char(0x80 | (code & 63)));
          break;
        }
        default: return fail("an unknown escape in a string");
      }
    }
    return fail("a string is not closed");
  }

  Status integer(std::uint64_t* out) {
    skip_space();
    std::uint64_t value = 0;
    std::size_t digits = 0;
    while (at_ < text_.size && text_.data[at_] >= '0' && text_.data[at_] <= '9') {
      value = value * 10 + (text_.data[at_++] - '0');
      if (++digits > 16 || value > kMaxInteger) return fail("an integer larger than 2^53");
    }
    if (digits == 0) return fail("expected a non-negative integer");
    if (at_ < text_.size && (text_.data[at_] == '.' || text_.data[at_] == 'e' || text_.data[at_] == 'E'))
      return fail("expected an integer, not a fraction");
    *out = value;
    return Ok{};
  }

  Status integer_list(std::vector<std::uint64_t>* out, std::size_t max_items) {
    out->clear();
    if (!take('[')) return fail("expected a list of integers");
    if (take(']')) return Ok{};
    for (;;) {
      if (out->size() >= max_items) return fail("a list of more than " + std::to_string(max_items) + " integers");
      std::uint64_t value = 0;
      Status status = integer(&value);
      if (!status) return status;
      out->push_back(value);
      if (take(']')) return Ok{};
      if (!take(',')) return fail("expected ',' or ']' in a list");
    }
  }

  std::size_t position() const { return at_; }

 private:
  ByteSpan text_;
  std::uint64_t base_;
  std::size_t at_ = 0;
};

bool parse_dtype(const std::string& name, TensorDType* dtype) {
  if (name == "F32") *dtype = TensorDType::float32;
  else if (name == "F16") *dtype = TensorDType::float16;
  else if (name == "BF16") *dtype = TensorDType::bfloat16;
  else if (name == "F64") *dtype = TensorDType::float64;
  else if (name == "I64") *dtype = TensorDType::int64;
  else return false;
  return true;
}

}  // namespace

bool looks_like_safetensors(ByteSpan file) {
  if (file.size < 10) return false;
  const std::uint64_t length = load_u64_le(file.data);
  if (length < 2 || length > file.size - 8) return false;
  std::size_t at = 8;
  while (at < 8 + length && file.data[at] == ' ') ++at;
  return at < 8 + length && file.data[at] == '{';
}

Result<StateDict> read_safetensors(ByteSpan file, const ReadLimits& limits) {
  const std::uint64_t header_length = load_u64_le(file.data);
  if (header_length > kMaxHeaderBytes)
    return make_error(ErrorCode::over_budget, "safetensors.header_length", 0,
                      "the safetensors header is " + std::to_string(header_length) + " bytes; at most " +
                          std::to_string(kMaxHeaderBytes) + " are read");
  const std::uint64_t data_start = 8 + header_length;
  const std::uint64_t data_size = file.size - data_start;
  Json json(file.subspan(8, static_cast<std::size_t>(header_length)), 8);
  std::vector<Header> headers;
  if (!json.take('{')) return json.fail("expected '{'");
  bool metadata_seen = false;
  if (!json.take('}')) {
    for (;;) {
      std::string name;
      Status status = json.string(&name);
      if (!status) return status.error();
      if (!json.take(':')) return json.fail("expected ':' after a name");
      if (name == "__metadata__") {
        // {"key": "value", ...}: strings only, as the format says; read and dropped.
        if (metadata_seen) return json.fail("two __metadata__ entries");
        metadata_seen = true;
        if (!json.take('{')) return json.fail("__metadata__ is not an object");
        if (!json.take('}')) {
          for (;;) {
            std::string key, value;
            if (!(status = json.string(&key)) || !json.take(':') || !(status = json.string(&value)))
              return status ? json.fail("__metadata__ holds something other than string -> string") : status.error();
            if (json.take('}')) break;
            if (!json.take(',')) return json.fail("expected ',' or '}' in __metadata__");
          }
        }
      } else {
        if (headers.size() >= limits.max_tensors)
          return make_error(ErrorCode::over_budget, "safetensors.header", 8 + json.position(),
                            "more than " + std::to_string(limits.max_tensors) + " tensors");
        Header header;
        header.name = name;
        if (!json.take('{')) return json.fail("the entry of '" + name + "' is not an object");
        for (;;) {
          std::string field;
          if (!(status = json.string(&field))) return status.error();
          if (!json.take(':')) return json.fail("expected ':' after '" + field + "'");
          if (field == "dtype" && !header.has_dtype) {
            if (!(status = json.string(&header.dtype))) return status.error();
            header.has_dtype = true;
          } else if (field == "shape" && !header.has_shape) {
            std::vector<std::uint64_t> dims;
            if (!(status = json.integer_list(&dims, limits.max_tensor_dims))) return status.error();
            for (std::uint64_t d : dims) header.shape.push_back(static_cast<std::int64_t>(d));
            header.has_shape = true;
          } else if (field == "data_offsets" && !header.has_offsets) {
            std::vector<std::uint64_t> offsets;
            if (!(status = json.integer_list(&offsets, 2))) return status.error();
            if (offsets.size() != 2) return json.fail("data_offsets of '" + name + "' is not [begin, end]");
            header.begin = offsets[0];
            header.end = offsets[1];
            header.has_offsets = true;
          } else {
            return json.fail("unexpected or repeated field '" + field + "' in the entry of '" + name + "'");
          }
          if (json.take('}')) break;
          if (!json.take(',')) return json.fail("expected ',' or '}' in the entry of '" + name + "'");
        }
        if (!header.has_dtype || !header.has_shape || !header.has_offsets)
          return json.fail("the entry of '" + name + "' lacks dtype, shape or data_offsets");
        headers.push_back(std::move(header));
      }
      if (json.take('}')) break;
      if (!json.take(',')) return json.fail("expected ',' or '}' between entries");
    }
  }
  if (!json.at_end()) return json.fail("bytes after the header's closing '}' (only spaces may pad it)");
  if (headers.empty())
    return make_error(ErrorCode::bad_value, "safetensors.header", 8,
                      "the safetensors file holds no tensors; save the model's weights: "
                      "safetensors.torch.save_file(model.state_dict(), \"model.safetensors\")");

  StateDict state;
  state.container = "safetensors";
  std::uint64_t total = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (const Header& header : headers) {
    TensorDType dtype;
    if (!parse_dtype(header.dtype, &dtype))
      return make_error(ErrorCode::bad_dtype, "safetensors." + header.name, 8,
                        "tensor '" + header.name + "' has dtype " + header.dtype +
                            "; digitlab reads F32, F16, BF16, F64 and I64. Convert the weights (model.float()) and save again");
    std::uint64_t numel = 1, bytes = 0, out_bytes = 0;
    for (std::int64_t d : header.shape)
      if (!checked_mul(numel, static_cast<std::uint64_t>(d), &numel))
        return make_error(ErrorCode::size_overflow, "safetensors." + header.name, 8,
                          "tensor '" + header.name + "' has sizes whose product overflows");
    if (!checked_mul(numel, element_size(dtype), &bytes) || bytes > limits.max_tensor_bytes ||
        !checked_mul(numel, dtype == TensorDType::int64 ? 8 : 4, &out_bytes) || out_bytes > limits.max_tensor_bytes)
      return make_error(ErrorCode::over_budget, "safetensors." + header.name, 8,
                        "tensor '" + header.name + "' has " + std::to_string(numel) + " elements, more than the " +
                            std::to_string(limits.max_tensor_bytes) + " bytes read per tensor");
    if (header.begin > header.end || header.end > data_size)
      return make_error(ErrorCode::offset_out_of_range, "safetensors." + header.name, data_start,
                        "tensor '" + header.name + "' has data_offsets [" + std::to_string(header.begin) + ", " +
                            std::to_string(header.end) + "], outside the " + std::to_string(data_size) + " data bytes");
    if (header.end - header.begin != bytes)
      return make_error(ErrorCode::shape_mismatch, "safetensors." + header.name, data_start + header.begin,
                        "tensor '" + header.name + "' spans " + std::to_string(header.end - header.begin) +
                            " bytes, but its shape and dtype need " + std::to_string(bytes));
    total += out_bytes;
    if (total > limits.max_total_tensor_bytes)
      return make_error(ErrorCode::over_budget, "safetensors", 0,
                        "the tensors hold more than " + std::to_string(limits.max_total_tensor_bytes) + " bytes in all");
    if (bytes > 0) ranges.push_back({header.begin, header.end});
    NamedTensor tensor;
    tensor.name = header.name;
    tensor.dtype = dtype;
    tensor.shape = header.shape;
    const std::uint8_t* p = file.data + data_start + header.begin;
    const std::uint32_t width = element_size(dtype);
    if (dtype == TensorDType::int64) {
      tensor.integers.resize(static_cast<std::size_t>(numel));
      for (std::uint64_t i = 0; i < numel; ++i) tensor.integers[i] = static_cast<std::int64_t>(load_u64_le(p + i * 8));
    } else {
      tensor.values.resize(static_cast<std::size_t>(numel));
      for (std::uint64_t i = 0; i < numel; ++i) tensor.values[i] = read_float(dtype, p + i * width);
    }
    state.tensors.push_back(std::move(tensor));
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t k = 1; k < ranges.size(); ++k)
    if (ranges[k].first < ranges[k - 1].second)
      return make_error(ErrorCode::overlapping, "safetensors.data_offsets", data_start + ranges[k].first,
                        "two tensors share the bytes from " + std::to_string(ranges[k].first) + " of the data");
  Status prefixes = remove_prefixes(state);
  if (!prefixes) return prefixes.error();
  return state;
}

}  // namespace digitlab::pytorch::detail
