// The ZIP container of torch.save files, read strictly: stored entries only, sizes from the central
// directory, Zip64 records, every CRC-32 checked, every length bounded before use. Read next: pickle.cpp.
//
// Sections: little helpers · the end records · the central directory · local headers, overlap, CRCs ·
// the writer · re-sealing CRCs (tests and fuzzer).
#include "digitlab/zip.hpp"

#include <algorithm>
#include <unordered_set>

#include "digitlab/crc32.hpp"

namespace digitlab::zip {
namespace {

constexpr std::uint32_t kLocalSignature = 0x04034b50;
constexpr std::uint32_t kCentralSignature = 0x02014b50;
constexpr std::uint32_t kEndSignature = 0x06054b50;
constexpr std::uint32_t kZip64EndSignature = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::size_t kLocalSize = 30, kCentralSize = 46, kEndSize = 22, kZip64EndSize = 56, kLocatorSize = 20;

Error fail(ErrorCode code, std::string field, std::uint64_t offset, std::string message) {
  return make_error(code, std::move(field), offset, std::move(message));
}

std::string quoted(const std::string& name) { return "'" + name + "'"; }

// Names must be plain relative paths: no absolute path, no "..", no backslash, no control characters.
bool plain_name(const std::string& name) {
  if (name.empty() || name.front() == '/' || name.find('\\') != std::string::npos) return false;
  for (unsigned char c : name)
    if (c < 0x20) return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    const std::string part = name.substr(start, end - start);
    if (part == "..") return false;
    start = end + 1;
  }
  return true;
}

struct EndRecord {
  std::uint64_t position = 0;         // of the first end record (Zip64 one if present)
  std::uint64_t entry_count = 0;
  std::uint64_t directory_offset = 0;
  std::uint64_t directory_size = 0;
};

Result<EndRecord> find_end_record(ByteSpan file) {
  if (file.size < kEndSize)
    return fail(ErrorCode::truncated, "zip.end", file.size,
                "the archive is only " + std::to_string(file.size) +
                    " bytes, too short for a ZIP end record: the file is cut off (an incomplete download?)");
  // The classic end record is the last 22 bytes plus its comment (at most 65535 bytes).
  const std::size_t lowest = file.size > kEndSize + 65535 ? file.size - kEndSize - 65535 : 0;
  std::size_t at = file.size - kEndSize;
  bool found = false;
  for (;; --at) {
    const std::uint8_t* p = file.data + at;
    if (load_u32_le(p) == kEndSignature && at + kEndSize + load_u16_le(p + 20) == file.size) {
      found = true;
      break;
    }
    if (at == lowest) break;
  }
  if (!found)
    return fail(ErrorCode::truncated, "zip.end", file.size,
                "no ZIP end-of-central-directory record at the end of the file: the archive is cut off (an "
                "incomplete download or copy?); save or download it again");
  const std::uint8_t* p = file.data + at;
  EndRecord end;
  end.position = at;
  const std::uint16_t disk = load_u16_le(p + 4), directory_disk = load_u16_le(p + 6);
  const std::uint16_t entries_here = load_u16_le(p + 8), entries_total = load_u16_le(p + 10);
  const std::uint32_t directory_size = load_u32_le(p + 12), directory_offset = load_u32_le(p + 16);
  end.entry_count = entries_total;
  end.directory_size = directory_size;
  end.directory_offset = directory_offset;
  bool zip64 = false;
  if (at >= kLocatorSize && load_u32_le(file.data + at - kLocatorSize) == kZip64LocatorSignature) {
    const std::uint8_t* locator = file.data + at - kLocatorSize;
    const std::uint64_t record = load_u64_le(locator + 8);
    if (load_u32_le(locator + 4) != 0 || load_u32_le(locator + 16) > 1)
      return fail(ErrorCode::bad_archive, "zip64.locator", at - kLocatorSize,
                  "the archive spans several disks; only single-file archives are read");
    if (record > at - kLocatorSize || at - kLocatorSize - record < kZip64EndSize)
      return fail(ErrorCode::offset_out_of_range, "zip64.locator", at - kLocatorSize,
                  "the Zip64 locator points to byte " + std::to_string(record) +
                      ", where no Zip64 end record fits before the locator");
    const std::uint8_t* q = file.data + record;
    if (load_u32_le(q) != kZip64EndSignature)
      return fail(ErrorCode::bad_archive, "zip64.end", record, "the Zip64 locator points to no Zip64 end record");
    if (load_u32_le(q + 16) != 0 || load_u32_le(q + 20) != 0 || load_u64_le(q + 24) != load_u64_le(q + 32))
      return fail(ErrorCode::bad_archive, "zip64.end", record,
                  "the Zip64 end record describes a multi-disk archive; only single-file archives are read");
    const std::uint64_t count = load_u64_le(q + 32), size = load_u64_le(q + 40), offset = load_u64_le(q + 48);
    // The classic record holds the real values below its limits, or saturated ones.
    if ((entries_total != 0xFFFF && entries_total != count) ||
        (directory_size != 0xFFFFFFFFu && directory_size != size) ||
        (directory_offset != 0xFFFFFFFFu && directory_offset != offset))
      return fail(ErrorCode::bad_archive, "zip64.end", record,
                  "the classic and the Zip64 end records disagree on the central directory (entries " +
                      std::to_string(entries_total) + " vs " + std::to_string(count) + ", offset " +
                      std::to_string(directory_offset) + " vs " + std::to_string(offset) + ")");
    end.entry_count = count;
    end.directory_size = size;
    end.directory_offset = offset;
    end.position = record;
    zip64 = true;
  }
  if (!zip64) {
    if (disk != 0 || directory_disk != 0 || entries_here != entries_total)
      return fail(ErrorCode::bad_archive, "zip.end", at, "the archive spans several disks; only single-file archives are read");
    if (entries_total == 0xFFFF || directory_size == 0xFFFFFFFFu || directory_offset == 0xFFFFFFFFu)
      return fail(ErrorCode::bad_archive, "zip.end", at,
                  "the end record says its values are in a Zip64 record, but there is no Zip64 locator before it");
  }
  std::uint64_t directory_end = 0;
  if (!checked_add(end.directory_offset, end.directory_size, &directory_end) || directory_end > end.position)
    return fail(ErrorCode::offset_out_of_range, "zip.central_directory", end.position,
                "the central directory (" + std::to_string(end.directory_size) + " bytes at " +
                    std::to_string(end.directory_offset) + ") does not lie before the end record at " +
                    std::to_string(end.position));
  return end;
}

// Zip64 extended information: the 8-byte values of the fields saturated in the fixed header, in order.
Status read_zip64_extra(const std::uint8_t* extra, std::size_t length, std::uint64_t base, bool need_size,
                        bool need_compressed, bool need_offset, std::uint64_t* size, std::uint64_t* compressed,
                        std::uint64_t* offset, const std::string& name) {
  std::size_t at = 0;
  bool seen = false;
  while (at + 4 <= length) {
    const std::uint16_t id = load_u16_le(extra + at), field_length = load_u16_le(extra + at + 2);
    if (at + 4 + field_length > length)
      return fail(ErrorCode::bad_archive, "zip.extra", base + at,
                  "an extra field of entry " + quoted(name) + " runs past the end of its extra data");
    if (id == 0x0001 && !seen) {
      seen = true;
      std::size_t q = at + 4;
      const std::size_t end = q + field_length;
      auto take = [&](bool needed, std::uint64_t* out) {
        if (!needed) return true;
        if (q + 8 > end) return false;
        *out = load_u64_le(extra + q);
        q += 8;
        return true;
      };
      if (!take(need_size, size) || !take(need_compressed, compressed) || !take(need_offset, offset))
        return fail(ErrorCode::bad_archive, "zip.zip64_extra", base + at,
                    "the Zip64 extra field of entry " + quoted(name) + " is too short for the sizes it must hold");
    }
    at += 4 + std::size_t(field_length);
  }
  if ((need_size || need_compressed || need_offset) && !seen)
    return fail(ErrorCode::bad_archive, "zip.zip64_extra", base,
                "entry " + quoted(name) + " has saturated sizes but no Zip64 extra field");
  return Ok{};
}

}  // namespace

const Entry* Archive::find(const std::string& name) const {
  for (const Entry& entry : entries)
    if (entry.name == name) return &entry;
  return nullptr;
}

Result<Archive> read_archive(ByteSpan file, const ReadLimits& limits) {
  Result<EndRecord> found = find_end_record(file);
  if (!found) return found.error();
  const EndRecord end = found.value();
  if (end.entry_count > limits.max_entries)
    return fail(ErrorCode::over_budget, "zip.end.entries", end.position,
                "the archive lists " + std::to_string(end.entry_count) + " entries; at most " +
                    std::to_string(limits.max_entries) + " are read");
  if (end.entry_count * kCentralSize > end.directory_size)
    return fail(ErrorCode::bad_archive, "zip.central_directory", end.directory_offset,
                "the end record lists " + std::to_string(end.entry_count) + " entries, which do not fit in a " +
                    std::to_string(end.directory_size) + "-byte central directory");

  Archive archive;
  archive.entries.reserve(static_cast<std::size_t>(end.entry_count));
  std::unordered_set<std::string> names;
  std::size_t at = static_cast<std::size_t>(end.directory_offset);
  const std::size_t directory_end = static_cast<std::size_t>(end.directory_offset + end.directory_size);
  for (std::uint64_t i = 0; i < end.entry_count; ++i) {
    const std::string field = "zip.central[" + std::to_string(i) + "]";
    if (directory_end - at < kCentralSize)
      return fail(ErrorCode::bad_archive, field, at, "the central directory ends inside entry " + std::to_string(i));
    const std::uint8_t* p = file.data + at;
    if (load_u32_le(p) != kCentralSignature)
      return fail(ErrorCode::bad_archive, field, at, "no central-directory header signature where entry " +
                                                         std::to_string(i) + " should start");
    const std::uint16_t flags = load_u16_le(p + 8), method = load_u16_le(p + 10);
    const std::uint32_t crc = load_u32_le(p + 16);
    std::uint64_t compressed = load_u32_le(p + 20), size = load_u32_le(p + 24);
    const std::size_t name_length = load_u16_le(p + 28), extra_length = load_u16_le(p + 30),
                      comment_length = load_u16_le(p + 32);
    const std::uint16_t disk = load_u16_le(p + 34);
    std::uint64_t header_offset = load_u32_le(p + 42);
    if (directory_end - at - kCentralSize < name_length + extra_length + comment_length)
      return fail(ErrorCode::bad_archive, field, at, "the name, extra field and comment of entry " +
                                                         std::to_string(i) + " run past the central directory");
    Entry entry;
    entry.name.assign(reinterpret_cast<const char*>(p + kCentralSize), name_length);
    if (!plain_name(entry.name))
      return fail(ErrorCode::bad_archive, field, at + kCentralSize,
                  "entry " + std::to_string(i) + " has the name " + quoted(entry.name) +
                      ", not a plain relative path (empty, absolute, '..', backslash or control characters)");
    Status extra = read_zip64_extra(p + kCentralSize + name_length, extra_length, at + kCentralSize + name_length,
                                    size == 0xFFFFFFFFu, compressed == 0xFFFFFFFFu, header_offset == 0xFFFFFFFFu,
                                    &size, &compressed, &header_offset, entry.name);
    if (!extra) return extra.error();
    if (flags & 0x0041)
      return fail(ErrorCode::bad_archive, field, at + 8,
                  "entry " + quoted(entry.name) + " is encrypted; torch.save archives never are");
    if (method != 0)
      return fail(ErrorCode::bad_archive, field, at + 10,
                  "entry " + quoted(entry.name) + " is compressed (method " + std::to_string(method) +
                      (method == 8 ? ", deflate" : "") +
                      "); torch.save writes stored entries only. Was the file re-zipped? Save it again with torch.save");
    if (compressed != size)
      return fail(ErrorCode::bad_archive, field, at + 20,
                  "stored entry " + quoted(entry.name) + " has a compressed size (" + std::to_string(compressed) +
                      ") different from its size (" + std::to_string(size) + ")");
    if (disk != 0)
      return fail(ErrorCode::bad_archive, field, at + 34, "entry " + quoted(entry.name) + " starts on another disk");
    if (size > limits.max_entry_bytes)
      return fail(ErrorCode::over_budget, field, at + 24,
                  "entry " + quoted(entry.name) + " holds " + std::to_string(size) + " bytes; at most " +
                      std::to_string(limits.max_entry_bytes) + " are read");
    if (!names.insert(entry.name).second)
      return fail(ErrorCode::bad_archive, field, at + kCentralSize,
                  "the archive has two entries named " + quoted(entry.name));
    entry.header_offset = header_offset;
    entry.size = size;
    entry.crc = crc;

    // The local header must agree with the central one; its data must lie before the central directory.
    std::uint64_t local_end = 0;
    if (!checked_add(header_offset, kLocalSize, &local_end) || local_end > end.directory_offset)
      return fail(ErrorCode::offset_out_of_range, field, at + 42,
                  "entry " + quoted(entry.name) + " has its local header at byte " + std::to_string(header_offset) +
                      ", not before the central directory at " + std::to_string(end.directory_offset));
    const std::uint8_t* local = file.data + header_offset;
    if (load_u32_le(local) != kLocalSignature)
      return fail(ErrorCode::bad_archive, field, header_offset,
                  "no local header signature at byte " + std::to_string(header_offset) + " where entry " +
                      quoted(entry.name) + " should start");
    const std::uint16_t local_flags = load_u16_le(local + 6), local_method = load_u16_le(local + 8);
    const std::size_t local_name_length = load_u16_le(local + 26), local_extra_length = load_u16_le(local + 28);
    if (local_method != method || (local_flags & 0x0008) != (flags & 0x0008))
      return fail(ErrorCode::bad_archive, field, header_offset,
                  "the local header of entry " + quoted(entry.name) +
                      " disagrees with the central directory on its method or flags");
    std::uint64_t data_offset = 0, data_end = 0;
    if (!checked_add(local_end, local_name_length + local_extra_length, &data_offset) ||
        !checked_add(data_offset, size, &data_end) || data_end > end.directory_offset)
      return fail(ErrorCode::offset_out_of_range, field, header_offset,
                  "the data of entry " + quoted(entry.name) + " (" + std::to_string(size) +
                      " bytes) runs past the start of the central directory at " +
                      std::to_string(end.directory_offset));
    if (local_name_length != name_length ||
        std::string(reinterpret_cast<const char*>(local + kLocalSize), local_name_length) != entry.name)
      return fail(ErrorCode::bad_archive, field, header_offset + kLocalSize,
                  "the local header of entry " + quoted(entry.name) + " names another file");
    if (!(flags & 0x0008)) {
      // Without bit 3 the local header holds the CRC and sizes too (or saturated sizes and a Zip64 field).
      const std::uint32_t local_crc = load_u32_le(local + 14);
      const std::uint32_t local_compressed = load_u32_le(local + 18), local_size = load_u32_le(local + 22);
      const bool sizes_agree = (local_size == size || local_size == 0xFFFFFFFFu) &&
                               (local_compressed == compressed || local_compressed == 0xFFFFFFFFu);
      if (local_crc != crc || !sizes_agree)
        return fail(ErrorCode::bad_archive, field, header_offset + 14,
                    "the local header of entry " + quoted(entry.name) +
                        " disagrees with the central directory on its CRC or sizes");
    }
    entry.data_offset = data_offset;
    archive.entries.push_back(std::move(entry));
    at += kCentralSize + name_length + extra_length + comment_length;
  }
  if (at != directory_end)
    return fail(ErrorCode::bad_archive, "zip.central_directory", at,
                std::to_string(directory_end - at) + " bytes of the central directory follow its last entry");

  // No two entries share bytes: sorted by position, each ends before the next header starts.
  std::vector<const Entry*> by_position;
  by_position.reserve(archive.entries.size());
  for (const Entry& entry : archive.entries) by_position.push_back(&entry);
  std::sort(by_position.begin(), by_position.end(),
            [](const Entry* a, const Entry* b) { return a->header_offset < b->header_offset; });
  for (std::size_t k = 1; k < by_position.size(); ++k) {
    const Entry& before = *by_position[k - 1];
    if (before.data_offset + before.size > by_position[k]->header_offset)
      return fail(ErrorCode::overlapping, "zip.entries", by_position[k]->header_offset,
                  "entries " + quoted(before.name) + " and " + quoted(by_position[k]->name) + " overlap");
  }
  for (const Entry& entry : archive.entries) {
    const std::uint32_t actual = crc32(entry_bytes(file, entry));
    if (actual != entry.crc)
      return fail(ErrorCode::checksum_mismatch, "zip.crc32", entry.data_offset,
                  "entry " + quoted(entry.name) + " has CRC-32 " + std::to_string(actual) + " but the archive says " +
                      std::to_string(entry.crc) + ": the file is damaged; save or download it again");
  }
  return archive;
}

// ---- the writer -------------------------------------------------------------------------------------------
namespace {
void put16(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(std::uint8_t(v));
  out.push_back(std::uint8_t(v >> 8));
}
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  put16(out, v & 0xFFFF);
  put16(out, v >> 16);
}
void put64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  put32(out, std::uint32_t(v));
  put32(out, std::uint32_t(v >> 32));
}
}  // namespace

std::vector<std::uint8_t> write_archive(const std::vector<WriteEntry>& entries, std::uint32_t alignment) {
  std::vector<std::uint8_t> out;
  std::vector<std::uint64_t> offsets;
  std::vector<std::uint32_t> crcs;
  if (alignment == 0) alignment = 1;
  for (const WriteEntry& entry : entries) {
    offsets.push_back(out.size());
    crcs.push_back(crc32(entry.bytes));
    const std::size_t unpadded = out.size() + kLocalSize + entry.name.size() + 4;
    const std::size_t padding = (alignment - unpadded % alignment) % alignment;
    put32(out, kLocalSignature);
    put16(out, 20);      // version needed
    put16(out, 0x0808);  // bit 3: sizes in the central directory; bit 11: UTF-8 names
    put16(out, 0);       // stored
    put32(out, 0);       // time, date
    put32(out, 0), put32(out, 0), put32(out, 0);  // CRC and sizes: see the central directory
    put16(out, std::uint32_t(entry.name.size()));
    put16(out, std::uint32_t(4 + padding));
    out.insert(out.end(), entry.name.begin(), entry.name.end());
    out.push_back('F'), out.push_back('B');
    put16(out, std::uint32_t(padding));
    out.insert(out.end(), padding, 'Z');
    out.insert(out.end(), entry.bytes.begin(), entry.bytes.end());
    put32(out, 0x08074b50);  // data descriptor
    put32(out, crcs.back());
    put32(out, std::uint32_t(entry.bytes.size()));
    put32(out, std::uint32_t(entry.bytes.size()));
  }
  const std::uint64_t directory_offset = out.size();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    put32(out, kCentralSignature);
    put16(out, 0x031e), put16(out, 20), put16(out, 0x0808), put16(out, 0);
    put32(out, 0);
    put32(out, crcs[i]);
    put32(out, std::uint32_t(entries[i].bytes.size()));
    put32(out, std::uint32_t(entries[i].bytes.size()));
    put16(out, std::uint32_t(entries[i].name.size()));
    put16(out, 0), put16(out, 0), put16(out, 0), put16(out, 0);
    put32(out, 0);
    put32(out, std::uint32_t(offsets[i]));
    out.insert(out.end(), entries[i].name.begin(), entries[i].name.end());
  }
  const std::uint64_t directory_size = out.size() - directory_offset;
  const std::uint64_t zip64_end = out.size();
  put32(out, kZip64EndSignature);
  put64(out, kZip64EndSize - 12);
  put16(out, 0x031e), put16(out, 45);
  put32(out, 0), put32(out, 0);
  put64(out, entries.size()), put64(out, entries.size());
  put64(out, directory_size), put64(out, directory_offset);
  put32(out, kZip64LocatorSignature);
  put32(out, 0);
  put64(out, zip64_end);
  put32(out, 1);
  put32(out, kEndSignature);
  put16(out, 0), put16(out, 0);
  put16(out, std::uint32_t(entries.size())), put16(out, std::uint32_t(entries.size()));
  put32(out, std::uint32_t(directory_size));
  put32(out, std::uint32_t(directory_offset));
  put16(out, 0);
  return out;
}

// ---- re-sealing CRCs -----------------------------------------------------------------------------------------
void reseal_crcs(std::vector<std::uint8_t>& file) {
  Result<EndRecord> found = find_end_record(file);
  if (!found) return;
  const EndRecord end = found.value();
  std::size_t at = static_cast<std::size_t>(end.directory_offset);
  const std::size_t directory_end = static_cast<std::size_t>(end.directory_offset + end.directory_size);
  for (std::uint64_t i = 0; i < end.entry_count && directory_end - at >= kCentralSize; ++i) {
    std::uint8_t* p = file.data() + at;
    if (load_u32_le(p) != kCentralSignature) return;
    std::uint64_t size = load_u32_le(p + 24), compressed = load_u32_le(p + 20), header_offset = load_u32_le(p + 42);
    const std::size_t name_length = load_u16_le(p + 28), extra_length = load_u16_le(p + 30),
                      comment_length = load_u16_le(p + 32);
    if (directory_end - at - kCentralSize < name_length + extra_length + comment_length) return;
    Status extra = read_zip64_extra(p + kCentralSize + name_length, extra_length, 0, size == 0xFFFFFFFFu,
                                    compressed == 0xFFFFFFFFu, header_offset == 0xFFFFFFFFu, &size, &compressed,
                                    &header_offset, "");
    at += kCentralSize + name_length + extra_length + comment_length;
    if (!extra || header_offset > file.size() || file.size() - header_offset < kLocalSize) continue;
    std::uint8_t* local = file.data() + header_offset;
    const std::uint64_t data_offset =
        header_offset + kLocalSize + load_u16_le(local + 26) + load_u16_le(local + 28);
    if (data_offset > file.size() || file.size() - data_offset < size) continue;
    const std::uint32_t crc = crc32(ByteSpan(file.data() + data_offset, static_cast<std::size_t>(size)));
    for (int b = 0; b < 4; ++b) p[16 + b] = std::uint8_t(crc >> (8 * b));
    if (!(load_u16_le(local + 6) & 0x0008))
      for (int b = 0; b < 4; ++b) local[14 + b] = std::uint8_t(crc >> (8 * b));
  }
}

}  // namespace digitlab::zip
