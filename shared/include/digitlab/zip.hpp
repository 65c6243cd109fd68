// The ZIP container of torch.save files: a strict reader of stored (uncompressed) archives, and the small
// writer that the export, the tests and the fuzzer use. Read next: shared/src/zip_archive.cpp, pytorch.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/bytes.hpp"
#include "digitlab/error.hpp"

namespace digitlab::zip {

struct Entry {
  std::string name;              // as stored ("model/data/0")
  std::uint64_t header_offset = 0;  // of its local header
  std::uint64_t data_offset = 0;    // of its bytes in the file
  std::uint64_t size = 0;           // stored = uncompressed size
  std::uint32_t crc = 0;            // from the central directory, checked against the bytes
};

struct ReadLimits {
  std::uint32_t max_entries = 8192;
  std::uint64_t max_entry_bytes = 512ull << 20;
};

struct Archive {
  std::vector<Entry> entries;  // central-directory order
  const Entry* find(const std::string& name) const;
};

// Reads the central directory (Zip64 end record + locator and Zip64 extra fields included), checks every
// local header against it, that entries lie inside the file and do not overlap, and every CRC-32.
// Errors: truncated (no end record), bad_archive (compressed, encrypted, inconsistent headers, duplicate
// names, ...), offset_out_of_range, overlapping, checksum_mismatch, over_budget.
Result<Archive> read_archive(ByteSpan file, const ReadLimits& limits = {});

inline ByteSpan entry_bytes(ByteSpan file, const Entry& entry) {
  return file.subspan(static_cast<std::size_t>(entry.data_offset), static_cast<std::size_t>(entry.size));
}

// A stored archive as PyTorch writes it: flag 0x0808 (sizes in the central directory only, UTF-8 names),
// each entry's data aligned to `alignment` bytes with an "FB" extra field, a Zip64 end record and locator.
struct WriteEntry {
  std::string name;
  std::vector<std::uint8_t> bytes;
};
std::vector<std::uint8_t> write_archive(const std::vector<WriteEntry>& entries, std::uint32_t alignment = 64);

// Rewrites every CRC-32 field (local and central) to match the entries' bytes where the archive's
// structure can be followed; leaves the rest as it is. For the fuzzer and the malformed-input tests, so
// edits reach the checks behind the checksums.
void reseal_crcs(std::vector<std::uint8_t>& file);

}  // namespace digitlab::zip
