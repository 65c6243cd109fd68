// Shared by the PyTorch reader's tests and fuzzer seeds: a pickle writer that speaks the opcodes torch.save
// uses, a tiny valid state_dict archive built from it, and byte-editing helpers for ZIP headers.
// Read next: test_pytorch_malformed.cpp, test_pytorch_reader.cpp.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "digitlab/pytorch.hpp"
#include "digitlab/zip.hpp"

namespace pytorch_test {

using namespace digitlab;

struct PickleWriter {
  std::vector<std::uint8_t> bytes;
  PickleWriter& op(std::uint8_t code) { return bytes.push_back(code), *this; }
  PickleWriter& raw(const std::string& text) { return bytes.insert(bytes.end(), text.begin(), text.end()), *this; }
  PickleWriter& u32(std::uint32_t v) {
    for (int b = 0; b < 4; ++b) bytes.push_back(std::uint8_t(v >> (8 * b)));
    return *this;
  }
  PickleWriter& proto(int version = 2) { return op(0x80).op(std::uint8_t(version)); }
  PickleWriter& global(const std::string& module, const std::string& name) { return op('c').raw(module + "\n" + name + "\n"); }
  PickleWriter& put(std::uint32_t index) { return index < 256 ? op('q').op(std::uint8_t(index)) : op('r').u32(index); }
  PickleWriter& get(std::uint32_t index) { return index < 256 ? op('h').op(std::uint8_t(index)) : op('j').u32(index); }
  PickleWriter& mark() { return op('('); }
  PickleWriter& text(const std::string& s) { return op('X').u32(std::uint32_t(s.size())).raw(s); }
  PickleWriter& integer(std::int64_t v) {
    if (v >= 0 && v < 256) return op('K').op(std::uint8_t(v));
    if (v >= INT32_MIN && v <= INT32_MAX) return op('J').u32(std::uint32_t(std::int32_t(v)));
    op(0x8a).op(8);
    for (int b = 0; b < 8; ++b) bytes.push_back(std::uint8_t(std::uint64_t(v) >> (8 * b)));
    return *this;
  }
  PickleWriter& int_tuple(const std::vector<std::int64_t>& values) {
    mark();
    for (std::int64_t v : values) integer(v);
    return op('t');
  }
};

struct TensorSpec {
  std::string name;
  std::string key;
  std::int64_t numel = 0;
  std::int64_t offset = 0;
  std::vector<std::int64_t> shape, stride;
  std::string storage_class = "FloatStorage";
};

// One tensor as torch.save pickles it: _rebuild_tensor_v2(persistent storage, offset, size, stride, False,
// OrderedDict()). Memo 0 must hold collections.OrderedDict.
inline void write_tensor(PickleWriter& w, const TensorSpec& t) {
  w.global("torch._utils", "_rebuild_tensor_v2").mark();
  w.mark().text("storage").global("torch", t.storage_class).text(t.key).text("cpu").integer(t.numel).op('t').op('Q');
  w.integer(t.offset).int_tuple(t.shape).int_tuple(t.stride).op(0x89).get(0).op(')').op('R').op('t').op('R');
}

inline PickleWriter state_dict_start() {
  PickleWriter w;
  w.proto().global("collections", "OrderedDict").put(0).op(')').op('R').put(1);
  return w;
}

inline std::vector<std::uint8_t> state_dict_pickle(const std::vector<TensorSpec>& tensors) {
  PickleWriter w = state_dict_start();
  w.mark();
  for (const TensorSpec& t : tensors) {
    w.text(t.name);
    write_tensor(w, t);
  }
  w.op('u').op('.');
  return w.bytes;
}

inline std::vector<std::uint8_t> floats(std::size_t n, float start) {
  std::vector<std::uint8_t> out(4 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const float v = start + 0.5f * float(i);
    std::memcpy(out.data() + 4 * i, &v, 4);
  }
  return out;
}

// The tiny state_dict: w (2, 3) = 1.0, 1.5, ... in storage "0"; b (3) = -1, -0.5, 0 in storage "1".
inline std::vector<TensorSpec> tiny_tensors() {
  return {{"w", "0", 6, 0, {2, 3}, {3, 1}}, {"b", "1", 3, 0, {3}, {1}}};
}

inline std::vector<zip::WriteEntry> tiny_entries(const std::vector<std::uint8_t>& pickle) {
  return {{"t/data.pkl", pickle}, {"t/data/0", floats(6, 1.f)}, {"t/data/1", floats(3, -1.f)}, {"t/version", {'3', '\n'}}};
}

inline std::vector<std::uint8_t> tiny_archive_with(const std::vector<std::uint8_t>& pickle) {
  return zip::write_archive(tiny_entries(pickle));
}
inline std::vector<std::uint8_t> tiny_archive() { return tiny_archive_with(state_dict_pickle(tiny_tensors())); }

// ---- ZIP byte positions ---------------------------------------------------------------------------------------
inline std::uint32_t get32(const std::vector<std::uint8_t>& b, std::size_t at) { return load_u32_le(b.data() + at); }
inline std::uint16_t get16(const std::vector<std::uint8_t>& b, std::size_t at) { return load_u16_le(b.data() + at); }
inline void set32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
  for (int k = 0; k < 4; ++k) b[at + k] = std::uint8_t(v >> (8 * k));
}
inline void set16(std::vector<std::uint8_t>& b, std::size_t at, std::uint16_t v) {
  b[at] = std::uint8_t(v), b[at + 1] = std::uint8_t(v >> 8);
}
inline std::size_t classic_end(const std::vector<std::uint8_t>& b) { return b.size() - 22; }
// The i-th central-directory header (archives without comments, as write_archive makes them).
inline std::size_t central(const std::vector<std::uint8_t>& b, std::size_t i) {
  std::size_t at = get32(b, classic_end(b) + 16);
  for (std::size_t k = 0; k < i; ++k) at += 46 + get16(b, at + 28) + get16(b, at + 30) + get16(b, at + 32);
  return at;
}
inline std::size_t local(const std::vector<std::uint8_t>& b, std::size_t i) { return get32(b, central(b, i) + 42); }
inline std::size_t data_start(const std::vector<std::uint8_t>& b, std::size_t i) {
  const std::size_t at = local(b, i);
  return at + 30 + get16(b, at + 26) + get16(b, at + 28);
}

}  // namespace pytorch_test
