// libFuzzer target: read_state_dict() on arbitrary bytes must give tensors that match their shapes or a
// documented Error, never crash, hang, leak or allocate past its limits. Read next: shared/src/pickle.cpp;
// runs: docs/fuzzing.md.
//
// Three ways in: the input as a file (ZIP, safetensors, anything); a ZIP input again with its CRCs re-sealed
// (zip::reseal_crcs), so mutations reach the pickle and the views behind the checksums; and "DLPK" inputs
// (u8 n, n x u32 storage sizes, then a pickle) wrapped here into a valid archive, so that insertions and
// deletions in the pickle do not break the container first. Seeds: tests/fuzz/corpus/pytorch/.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/pytorch.hpp"
#include "digitlab/zip.hpp"

namespace {

using namespace digitlab;
using namespace digitlab::pytorch;

void require(bool condition) {
  if (!condition) __builtin_trap();
}

bool is_documented(ErrorCode code) {
  switch (code) {
    case ErrorCode::truncated:
    case ErrorCode::bad_version:
    case ErrorCode::bad_dtype:
    case ErrorCode::bad_dimensions:
    case ErrorCode::size_overflow:
    case ErrorCode::over_budget:
    case ErrorCode::offset_out_of_range:
    case ErrorCode::overlapping:
    case ErrorCode::trailing_bytes:
    case ErrorCode::checksum_mismatch:
    case ErrorCode::shape_mismatch:
    case ErrorCode::bad_value:
    case ErrorCode::wrong_file_kind:
    case ErrorCode::bad_archive:
    case ErrorCode::bad_pickle:
    case ErrorCode::forbidden_global: return true;
    default: return false;
  }
}

// Small limits keep every run fast and bound memory: 4 MiB of tensors, 100k opcodes.
ReadLimits fuzz_limits() {
  ReadLimits limits;
  limits.max_file_bytes = 8u << 20;
  limits.max_tensor_bytes = 1u << 20;
  limits.max_total_tensor_bytes = 4u << 20;
  limits.max_pickle_ops = 100000;
  limits.max_stack_depth = 2000;
  limits.max_memo = 10000;
  limits.max_tensors = 512;
  return limits;
}

void check(const std::uint8_t* data, std::size_t size) {
  Result<StateDict> read = read_state_dict(ByteSpan(data, size), fuzz_limits());
  if (!read) {
    const Error& e = read.error();
    require(is_documented(e.code));
    require(e.offset <= size);
    require(!e.message.empty());
    return;
  }
  const StateDict& state = read.value();
  require(!state.tensors.empty());
  require(state.container == "torch.save zip" || state.container == "safetensors");
  for (const NamedTensor& tensor : state.tensors) {
    std::uint64_t numel = 1;
    for (std::int64_t d : tensor.shape) {
      require(d >= 0);
      numel *= static_cast<std::uint64_t>(d);
    }
    if (tensor.dtype == TensorDType::int64) require(tensor.integers.size() == numel && tensor.values.empty());
    else require(tensor.values.size() == numel && tensor.integers.empty());
    require(state.find(tensor.name) != nullptr);
  }
}

// "DLPK" n sizes pickle -> an archive with <root>/data.pkl and <root>/data/0..n-1 of those sizes.
void check_wrapped(const std::uint8_t* data, std::size_t size) {
  if (size < 5) return;
  const std::size_t count = data[4];
  std::size_t at = 5;
  if (size - at < 4 * count) return;
  std::vector<zip::WriteEntry> entries;
  entries.push_back({"f/data.pkl", {}});
  std::size_t total = 0;
  for (std::size_t k = 0; k < count; ++k, at += 4) {
    const std::size_t bytes = load_u32_le(data + at) & 0x1FFF;  // at most 8 KiB per storage
    total += bytes;
    if (total > (64u << 10)) return;
    std::vector<std::uint8_t> storage(bytes);
    for (std::size_t i = 0; i < bytes; ++i) storage[i] = std::uint8_t(i * 37 + k);
    entries.push_back({"f/data/" + std::to_string(k), std::move(storage)});
  }
  entries[0].bytes.assign(data + at, data + size);
  const std::vector<std::uint8_t> archive = zip::write_archive(entries, data[0] == 'D' ? 64 : 1);
  check(archive.data(), archive.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check(data, size);
  if (size >= 4 && data[0] == 'D' && data[1] == 'L' && data[2] == 'P' && data[3] == 'K') {
    check_wrapped(data, size);
  } else if (size >= 4 && data[0] == 'P' && data[1] == 'K' && size <= (1u << 20)) {
    std::vector<std::uint8_t> sealed(data, data + size);
    zip::reseal_crcs(sealed);
    check(sealed.data(), sealed.size());
  }
  return 0;
}
