// gzip (RFC 1952) and DEFLATE (RFC 1951) decoding with a hard output budget (CRC-32 is in crc32.cpp).
// Read next: idx.cpp, which reads .gz idx files through gunzip().
//
// Sections: output buffer with a budget | Huffman tables | bit reader + block decoder | gzip wrapper.
// Every error names the byte of the compressed input where the problem starts. Nothing here throws,
// asserts or reads outside the input; all sizes are checked in 64 bits so wasm32 behaves like native.
#include "digitlab/inflate.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace digitlab {

namespace {

// ------------------------------------------------------------------------------ output buffer with a budget
// The decoded bytes live in one vector that only grows when a symbol needs room, never past `limit`: a
// gzip bomb fails with over_budget while the vector is still at most `limit` bytes. bytes.size() is the
// room allocated; [0, written) is the data.
struct Output {
  std::vector<std::uint8_t> bytes;
  std::size_t written = 0;
  std::size_t limit = 0;
  std::uint64_t requested_limit = 0;  // the caller's max_output_bytes, for messages

  explicit Output(std::uint64_t max_output_bytes) : requested_limit(max_output_bytes) {
    // In wasm32 a vector cannot reach 4 GiB, whatever the caller allows.
    std::uint64_t platform_max = bytes.max_size();
    limit = static_cast<std::size_t>(std::min(max_output_bytes, platform_max));
  }

  // Makes bytes.size() >= needed (doubling, at least 64 KiB, capped at limit); false when over the limit.
  // reserve() before resize() so the vector allocates exactly the target, not its own geometric growth;
  // within a capacity reserved from a hint, it only zero-fills (no copy).
  bool grow(std::size_t needed) {
    if (needed > limit) return false;
    if (needed <= bytes.size()) return true;
    std::size_t target = bytes.size() > limit / 2 ? limit : std::max<std::size_t>(bytes.size() * 2, 1 << 16);
    target = std::min(std::max(target, needed), limit);
    if (needed <= bytes.capacity()) target = std::min(target, bytes.capacity());
    bytes.reserve(target);
    bytes.resize(target);
    return true;
  }

  // Reserves from an untrusted size hint (gzip's ISIZE), clamped to the budget, so the usual single-member
  // file is decoded without reallocating and copying. Pages are only touched as output arrives.
  void reserve_hint(std::uint64_t hint) {
    bytes.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(hint, limit)));
  }

  Error over_budget(std::uint64_t offset, std::uint64_t wanted) const {
    std::string why = "the decompressed data would exceed the budget of " + std::to_string(requested_limit) +
                      " bytes (at least " + std::to_string(wanted) + " bytes)";
    if (limit < requested_limit) why += ", more than this platform can hold in memory";
    return make_error(ErrorCode::over_budget, "output", offset,
                      why + "; if the file is genuine, raise max_output_bytes, otherwise it is a gzip bomb");
  }
};

// ------------------------------------------------------------------------------------------ Huffman tables
// A decode table is indexed by the next `primary_bits` input bits (DEFLATE sends Huffman codes bit-reversed,
// so the low bits of the bit buffer are the start of the code). Codes longer than that go through one
// subtable, indexed by the following bits. Each 32-bit entry is already resolved to what the decoder needs:
//   bits 0..4 code length (bits to consume), 5..8 extra bits, 9..11 kind, 16..31 value
// where value is the literal byte, the base length/distance, or (for kSubtable) the subtable's start index
// with the subtable's index width in the extra-bits field.
enum EntryKind : std::uint32_t { kLiteral = 0, kBaseAndExtra = 1, kEndOfBlock = 2, kInvalid = 3, kSubtable = 4 };

constexpr std::uint32_t make_entry(std::uint32_t kind, std::uint32_t code_bits, std::uint32_t extra,
                                   std::uint32_t value) {
  return code_bits | (extra << 5) | (kind << 9) | (value << 16);
}
inline unsigned entry_code_bits(std::uint32_t e) { return e & 31; }
inline unsigned entry_extra(std::uint32_t e) { return (e >> 5) & 15; }
inline unsigned entry_kind(std::uint32_t e) { return (e >> 9) & 7; }
inline unsigned entry_value(std::uint32_t e) { return e >> 16; }

constexpr std::uint32_t kInvalidEntry = make_entry(kInvalid, 0, 0, 0);

constexpr std::uint16_t kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                           31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr std::uint8_t kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                           2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr std::uint16_t kDistanceBase[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                             33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                             1025, 1537, 2049, 3073, 4097, 6145,  8193,  12289, 16385, 24577};
constexpr std::uint8_t kDistanceExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3,  3,  4,  4,  5,  5,  6,
                                             6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
// Order in which a dynamic block sends the code-length code's lengths (RFC 1951, 3.2.7).
constexpr std::uint8_t kCodeLengthOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

enum class Alphabet { code_lengths, literal_length, distance };

constexpr unsigned kLiteralLengthPrimaryBits = 10;
constexpr unsigned kDistancePrimaryBits = 8;
constexpr unsigned kCodeLengthPrimaryBits = 7;  // code-length codes are at most 7 bits: never a subtable
constexpr unsigned kMaxCodeBits = 15;
// Only complete codes get subtables (incomplete ones are rejected first, except a lone 1-bit code). In a
// complete code every primary slot holding long codes holds at least two, so at most n/2 subtables of
// 2^(15 - primary) entries each.
constexpr std::size_t kLiteralLengthTableSize = (1u << kLiteralLengthPrimaryBits) + (288 / 2) * (1u << 5);
constexpr std::size_t kDistanceTableSize = (1u << kDistancePrimaryBits) + (32 / 2) * (1u << 7);
constexpr std::size_t kCodeLengthTableSize = 1u << kCodeLengthPrimaryBits;

std::uint32_t symbol_entry(Alphabet alphabet, unsigned symbol, unsigned code_bits) {
  switch (alphabet) {
    case Alphabet::code_lengths: return make_entry(kLiteral, code_bits, 0, symbol);
    case Alphabet::literal_length:
      if (symbol < 256) return make_entry(kLiteral, code_bits, 0, symbol);
      if (symbol == 256) return make_entry(kEndOfBlock, code_bits, 0, 0);
      if (symbol < 286) return make_entry(kBaseAndExtra, code_bits, kLengthExtra[symbol - 257], kLengthBase[symbol - 257]);
      return make_entry(kInvalid, code_bits, 0, 0);  // 286 and 287 exist in the fixed code but are never sent
    case Alphabet::distance:
      if (symbol < 30) return make_entry(kBaseAndExtra, code_bits, kDistanceExtra[symbol], kDistanceBase[symbol]);
      return make_entry(kInvalid, code_bits, 0, 0);  // 30 and 31, likewise
  }
  return kInvalidEntry;
}

enum class TableStatus { ok, over_subscribed, incomplete, too_large };

// Builds the decode table of the canonical Huffman code given by lengths[0..count) (0 = symbol unused).
// Over-subscribed codes are rejected; incomplete ones too, like zlib, except a code with a single 1-bit
// symbol or (distances only) no symbol at all, which RFC 1951 allows.
TableStatus build_table(const std::uint8_t* lengths, unsigned count, Alphabet alphabet, unsigned primary_bits,
                        std::uint32_t* table, std::size_t table_size) {
  unsigned length_count[kMaxCodeBits + 1] = {};
  for (unsigned s = 0; s < count; ++s) ++length_count[lengths[s]];
  length_count[0] = 0;
  unsigned max_bits = 0;
  for (unsigned len = 1; len <= kMaxCodeBits; ++len)
    if (length_count[len]) max_bits = len;

  std::int32_t left = 1;  // Kraft sum still unassigned, in units of 2^-len
  for (unsigned len = 1; len <= kMaxCodeBits; ++len) {
    left = left * 2 - std::int32_t(length_count[len]);
    if (left < 0) return TableStatus::over_subscribed;
  }
  std::size_t primary_size = std::size_t(1) << primary_bits;
  // Slots no symbol fills exist only in the incomplete codes allowed below (a lone 1-bit code leaves the
  // other 1-bit pattern unused): they read as invalid and say how many bits that pattern has, so an error
  // there can tell a cut-off stream (the bits lie past the end) from a corrupt one.
  std::fill(table, table + primary_size, make_entry(kInvalid, max_bits <= 1 ? max_bits : 0, 0, 0));
  if (left > 0) {
    bool allowed = alphabet != Alphabet::code_lengths && max_bits <= 1;
    if (alphabet == Alphabet::literal_length && max_bits == 0) allowed = false;
    if (!allowed) return TableStatus::incomplete;
  }

  std::uint32_t next_code[kMaxCodeBits + 1] = {};
  std::uint32_t code = 0;
  for (unsigned len = 1; len <= kMaxCodeBits; ++len) {
    code = (code + length_count[len - 1]) << 1;
    next_code[len] = code;
  }
  unsigned subtable_bits = max_bits > primary_bits ? max_bits - primary_bits : 0;
  std::size_t next_free = primary_size;
  for (unsigned s = 0; s < count; ++s) {
    unsigned len = lengths[s];
    if (len == 0) continue;
    std::uint32_t canonical = next_code[len]++;
    std::uint32_t reversed = 0;
    for (unsigned i = 0; i < len; ++i) reversed |= ((canonical >> i) & 1u) << (len - 1 - i);
    std::uint32_t entry = symbol_entry(alphabet, s, len);
    if (len <= primary_bits) {
      for (std::size_t i = reversed; i < primary_size; i += std::size_t(1) << len) table[i] = entry;
      continue;
    }
    std::size_t slot = reversed & (primary_size - 1);
    if (entry_kind(table[slot]) != kSubtable) {
      std::size_t sub_size = std::size_t(1) << subtable_bits;
      if (next_free + sub_size > table_size) return TableStatus::too_large;
      table[slot] = make_entry(kSubtable, primary_bits, subtable_bits, std::uint32_t(next_free));
      std::fill(table + next_free, table + next_free + sub_size, kInvalidEntry);
      next_free += sub_size;
    }
    std::size_t base = entry_value(table[slot]);
    for (std::size_t i = reversed >> primary_bits; i < (std::size_t(1) << subtable_bits);
         i += std::size_t(1) << (len - primary_bits))
      table[base + i] = entry;
  }
  return TableStatus::ok;
}

inline std::uint32_t lookup(const std::uint32_t* table, unsigned primary_bits, std::uint64_t bits) {
  std::uint32_t e = table[bits & ((std::uint64_t(1) << primary_bits) - 1)];
  if (entry_kind(e) == kSubtable)
    e = table[entry_value(e) + ((bits >> primary_bits) & ((std::uint64_t(1) << entry_extra(e)) - 1))];
  return e;
}

// ------------------------------------------------------------------------------ bit reader + block decoder
// The longest a match can be, and the slack the fast copy needs: it copies whole 8-byte words, so it may
// write up to 7 bytes past a match's end (later output overwrites them).
constexpr std::size_t kMaxMatch = 258;
constexpr std::size_t kFastOutputRoom = kMaxMatch + 8;

// Decodes DEFLATE streams from one input buffer into an Output. Offsets in errors are absolute in that
// buffer, so a problem in gzip member 3 is reported where it is in the file.
class Inflater {
 public:
  Inflater(ByteSpan input, Output* out)
      : data_(input.data), size_(input.size), out_(out), literal_length_(kLiteralLengthTableSize),
        distance_(kDistanceTableSize), code_length_(kCodeLengthTableSize) {}

  // Decodes one stream that starts at byte `start`. Back-references may not reach before the output
  // written so far at the time of the call (each gzip member is independent).
  Status inflate(std::size_t start) {
    pos_ = start;
    bit_buffer_ = 0;
    bit_count_ = 0;
    window_start_ = out_->written;
    for (;;) {
      std::uint64_t block_start = consumed_bits();
      refill_slow();
      std::uint32_t header = take_bits(3);
      if (overran()) return truncated("deflate.block_header");
      bool final_block = header & 1;
      unsigned type = header >> 1;
      Status status = Ok{};
      if (type == 0) {
        status = stored_block();
      } else if (type == 1) {
        if (!fixed_tables_loaded_) load_fixed_tables();
        status = huffman_block();
      } else if (type == 2) {
        fixed_tables_loaded_ = false;
        status = read_dynamic_tables();
        if (status.ok()) status = huffman_block();
      } else {
        return fail(ErrorCode::bad_gzip, "deflate.block_type", block_start / 8,
                    "reserved DEFLATE block type 3: the stream is corrupt (or not DEFLATE data)");
      }
      if (!status.ok()) return status;
      if (final_block) break;
    }
    return Ok{};
  }

  // First byte after the stream (DEFLATE streams end on a bit; the gzip trailer starts at the next byte).
  std::uint64_t end_offset() const { return (consumed_bits() + 7) / 8; }

 private:
  // ---- bit reader. pos_ may run past the end: refill_slow() then feeds zero bytes, and overran() tells
  // whether any of them were consumed, which makes every later error a "truncated" one.
  std::uint64_t consumed_bits() const { return std::uint64_t(pos_) * 8 - bit_count_; }
  bool overran() const { return consumed_bits() > std::uint64_t(size_) * 8; }

  // Needs 8 readable bytes at pos_. Leaves 56..63 valid bits. Bits above bit_count_ may hold the following
  // input bits; later refills OR the same bits there, so they never corrupt the buffer (libdeflate's trick).
  void refill_fast() {
    bit_buffer_ |= load_u64_le(data_ + pos_) << bit_count_;
    pos_ += (63 - bit_count_) >> 3;
    bit_count_ |= 56;
  }
  void refill_slow() {
    while (bit_count_ <= 55) {
      std::uint64_t byte = pos_ < size_ ? data_[pos_] : 0;
      bit_buffer_ |= byte << bit_count_;
      ++pos_;
      bit_count_ += 8;
    }
  }
  void consume(unsigned n) {
    bit_buffer_ >>= n;
    bit_count_ -= n;
  }
  std::uint32_t take_bits(unsigned n) {  // n <= 32 and n <= bit_count_
    std::uint32_t v = std::uint32_t(bit_buffer_ & ((std::uint64_t(1) << n) - 1));
    consume(n);
    return v;
  }
  std::uint32_t read_bits(unsigned n) {
    if (bit_count_ < n) refill_slow();
    return take_bits(n);
  }

  Error truncated(const char* field) const {
    return make_error(ErrorCode::truncated, field, size_,
                      "the compressed data ends in the middle of a DEFLATE stream (after " + std::to_string(size_) +
                          " bytes): the file is cut short; download or copy it again");
  }
  // Any error found after reading past the end is really a truncation.
  Error fail(ErrorCode code, const char* field, std::uint64_t offset, const std::string& message) const {
    if (overran()) return truncated(field);
    return make_error(code, field, offset, message + " (corrupt DEFLATE data)");
  }

  // ---- stored block: byte-aligned LEN, NLEN = ~LEN, then LEN raw bytes.
  Status stored_block() {
    consume(bit_count_ & 7);
    if (overran()) return truncated("deflate.stored_length");
    pos_ = std::size_t(consumed_bits() / 8);  // rewind over whole bytes still in the bit buffer
    bit_buffer_ = 0;
    bit_count_ = 0;
    if (size_ - pos_ < 4) return truncated("deflate.stored_length");
    std::size_t length = load_u16_le(data_ + pos_);
    std::size_t inverted = load_u16_le(data_ + pos_ + 2);
    if ((length ^ 0xffff) != inverted)
      return fail(ErrorCode::bad_gzip, "deflate.stored_length", pos_,
                  "stored block length " + std::to_string(length) + " does not match its complement " +
                      std::to_string(inverted));
    pos_ += 4;
    if (size_ - pos_ < length) return truncated("deflate.stored_data");
    if (!out_->grow(out_->written + length)) return out_->over_budget(pos_, std::uint64_t(out_->written) + length);
    if (length) std::memcpy(out_->bytes.data() + out_->written, data_ + pos_, length);
    out_->written += length;
    pos_ += length;
    return Ok{};
  }

  // ---- fixed Huffman codes (RFC 1951, 3.2.6)
  void load_fixed_tables() {
    std::uint8_t lengths[288 + 32];
    std::fill(lengths, lengths + 144, 8);
    std::fill(lengths + 144, lengths + 256, 9);
    std::fill(lengths + 256, lengths + 280, 7);
    std::fill(lengths + 280, lengths + 288, 8);
    std::fill(lengths + 288, lengths + 320, 5);
    // Complete codes that fit the tables: these cannot fail.
    (void)build_table(lengths, 288, Alphabet::literal_length, kLiteralLengthPrimaryBits, literal_length_.data(),
                      literal_length_.size());
    (void)build_table(lengths + 288, 32, Alphabet::distance, kDistancePrimaryBits, distance_.data(), distance_.size());
    fixed_tables_loaded_ = true;
  }

  static const char* table_problem(TableStatus status) {
    switch (status) {
      case TableStatus::over_subscribed: return "is over-subscribed (more codes than the bit lengths allow)";
      case TableStatus::incomplete: return "is incomplete (it leaves bit patterns unused)";
      case TableStatus::too_large: return "needs a larger decode table than any valid code";
      case TableStatus::ok: break;
    }
    return "is fine";
  }

  // ---- dynamic block header: the code-length code, then the literal/length and distance code lengths.
  Status read_dynamic_tables() {
    std::uint64_t header_start = consumed_bits() / 8;
    refill_slow();
    unsigned literal_count = take_bits(5) + 257;
    unsigned distance_count = take_bits(5) + 1;
    unsigned code_length_count = take_bits(4) + 4;
    if (literal_count > 286 || distance_count > 30)
      return fail(ErrorCode::bad_gzip, "deflate.dynamic_header", header_start,
                  "dynamic block declares " + std::to_string(literal_count) + " literal/length and " +
                      std::to_string(distance_count) + " distance codes (at most 286 and 30 exist)");

    std::uint8_t code_length_lengths[19] = {};
    for (unsigned i = 0; i < code_length_count; ++i) code_length_lengths[kCodeLengthOrder[i]] = std::uint8_t(read_bits(3));
    if (overran()) return truncated("deflate.dynamic_header");
    TableStatus status = build_table(code_length_lengths, 19, Alphabet::code_lengths, kCodeLengthPrimaryBits,
                                     code_length_.data(), code_length_.size());
    if (status != TableStatus::ok)
      return fail(ErrorCode::bad_gzip, "deflate.code_length_code", header_start,
                  std::string("the code-length code ") + table_problem(status));

    std::uint8_t lengths[286 + 30] = {};
    unsigned total = literal_count + distance_count;
    unsigned i = 0;
    while (i < total) {
      std::uint64_t symbol_start = consumed_bits() / 8;
      refill_slow();
      std::uint32_t e = lookup(code_length_.data(), kCodeLengthPrimaryBits, bit_buffer_);
      consume(entry_code_bits(e));
      if (entry_kind(e) != kLiteral)  // cannot happen: the code-length code is complete
        return fail(ErrorCode::bad_gzip, "deflate.code_lengths", symbol_start, "invalid code-length symbol");
      unsigned symbol = entry_value(e);
      if (symbol < 16) {
        lengths[i++] = std::uint8_t(symbol);
        continue;
      }
      std::uint8_t value = 0;
      unsigned repeat = 0;
      if (symbol == 16) {
        if (i == 0)
          return fail(ErrorCode::bad_gzip, "deflate.code_lengths", symbol_start,
                      "code-length repeat (16) with no previous length to repeat");
        value = lengths[i - 1];
        repeat = 3 + take_bits(2);
      } else if (symbol == 17) {
        repeat = 3 + take_bits(3);
      } else {
        repeat = 11 + take_bits(7);
      }
      if (repeat > total - i)
        return fail(ErrorCode::bad_gzip, "deflate.code_lengths", symbol_start,
                    "code-length repeat runs past the " + std::to_string(total) + " declared code lengths");
      std::fill(lengths + i, lengths + i + repeat, value);
      i += repeat;
    }
    if (overran()) return truncated("deflate.code_lengths");
    if (lengths[256] == 0)
      return fail(ErrorCode::bad_gzip, "deflate.code_lengths", header_start,
                  "the literal/length code has no end-of-block symbol");
    status = build_table(lengths, literal_count, Alphabet::literal_length, kLiteralLengthPrimaryBits,
                         literal_length_.data(), literal_length_.size());
    if (status != TableStatus::ok)
      return fail(ErrorCode::bad_gzip, "deflate.literal_length_code", header_start,
                  std::string("the literal/length code ") + table_problem(status));
    status = build_table(lengths + literal_count, distance_count, Alphabet::distance, kDistancePrimaryBits,
                         distance_.data(), distance_.size());
    if (status != TableStatus::ok)
      return fail(ErrorCode::bad_gzip, "deflate.distance_code", header_start,
                  std::string("the distance code ") + table_problem(status));
    return Ok{};
  }

  // ---- the symbols of a fixed or dynamic block, up to its end-of-block code.
  // Fast path (the usual case): 8 input bytes readable and room for the longest match plus the copy slack,
  // so one refill covers a whole length/distance pair (at most 15+5+15+13 = 48 bits) and nothing needs a
  // bounds check. Slow path (the last bytes of input or of the allocated output): checks every step.
  Status huffman_block() {
    const std::uint32_t* literal_length = literal_length_.data();
    const std::uint32_t* distance_table = distance_.data();
    std::uint8_t* out = out_->bytes.data();
    std::size_t room = out_->bytes.size();
    std::size_t written = out_->written;
    const std::size_t window_start = window_start_;
    for (;;) {
      const std::uint64_t symbol_start = consumed_bits();
      const bool fast = pos_ + 8 <= size_ && room - written >= kFastOutputRoom;
      if (fast)
        refill_fast();
      else
        refill_slow();
      std::uint32_t e = lookup(literal_length, kLiteralLengthPrimaryBits, bit_buffer_);
      const unsigned kind = entry_kind(e);
      if (kind == kLiteral) {
        consume(entry_code_bits(e));
        if (!fast) {
          if (overran()) return truncated("deflate.literal");
          if (written == room) {
            out_->written = written;
            if (!out_->grow(written + 1)) return out_->over_budget(symbol_start / 8, std::uint64_t(written) + 1);
            out = out_->bytes.data();
            room = out_->bytes.size();
          }
        }
        out[written++] = std::uint8_t(entry_value(e));
        if (fast) {
          // Literals come in runs: up to two more fit in the bits left by the refill (56 - 15 >= 2 * 15)
          // and the output room (kFastOutputRoom >= 3), saving two refills and loop checks.
          e = lookup(literal_length, kLiteralLengthPrimaryBits, bit_buffer_);
          if (entry_kind(e) != kLiteral) continue;
          consume(entry_code_bits(e));
          out[written++] = std::uint8_t(entry_value(e));
          e = lookup(literal_length, kLiteralLengthPrimaryBits, bit_buffer_);
          if (entry_kind(e) != kLiteral) continue;
          consume(entry_code_bits(e));
          out[written++] = std::uint8_t(entry_value(e));
        }
        continue;
      }
      if (kind == kBaseAndExtra) {
        consume(entry_code_bits(e));
        unsigned extra = entry_extra(e);
        std::size_t length = entry_value(e) + std::size_t(bit_buffer_ & ((std::uint64_t(1) << extra) - 1));
        consume(extra);
        const std::uint64_t distance_start = consumed_bits();
        std::uint32_t d = lookup(distance_table, kDistancePrimaryBits, bit_buffer_);
        if (entry_kind(d) != kBaseAndExtra) {
          consume(entry_code_bits(d));  // so that a code cut off by the end of input reads as truncated
          out_->written = written;
          return fail(ErrorCode::bad_gzip, "deflate.distance", distance_start / 8,
                      "invalid distance code (unused in this block's code, or the reserved codes 30/31)");
        }
        consume(entry_code_bits(d));
        extra = entry_extra(d);
        std::size_t distance = entry_value(d) + std::size_t(bit_buffer_ & ((std::uint64_t(1) << extra) - 1));
        consume(extra);
        if (!fast && overran()) return truncated("deflate.match");
        if (distance > written - window_start) {
          out_->written = written;
          return fail(ErrorCode::bad_gzip, "deflate.distance", distance_start / 8,
                      "back-reference " + std::to_string(distance) + " bytes back, but only " +
                          std::to_string(written - window_start) + " bytes have been decoded");
        }
        if (fast) {
          copy_match_fast(out + written, distance, length);
        } else {
          if (room - written < length) {
            out_->written = written;
            if (!out_->grow(written + length))
              return out_->over_budget(symbol_start / 8, std::uint64_t(written) + length);
            out = out_->bytes.data();
            room = out_->bytes.size();
          }
          const std::uint8_t* from = out + written - distance;
          for (std::size_t i = 0; i < length; ++i) out[written + i] = from[i];
        }
        written += length;
        continue;
      }
      out_->written = written;
      if (kind == kEndOfBlock) {
        consume(entry_code_bits(e));
        if (overran()) return truncated("deflate.end_of_block");
        return Ok{};
      }
      consume(entry_code_bits(e));  // as above: past the end means truncated, not corrupt
      return fail(ErrorCode::bad_gzip, "deflate.literal_length", symbol_start / 8,
                  "invalid literal/length code (unused in this block's code, or the reserved symbols 286/287)");
    }
  }

  // Copies an LZ77 match whose source may overlap its destination; needs kFastOutputRoom bytes of room.
  static void copy_match_fast(std::uint8_t* to, std::size_t distance, std::size_t length) {
    const std::uint8_t* from = to - distance;
    if (distance >= 8) {  // each 8-byte word is read after the words it depends on were written
      std::uint8_t* end = to + length;
      do {
        std::memcpy(to, from, 8);
        to += 8;
        from += 8;
      } while (to < end);
    } else if (distance == 1) {  // runs of one byte: the blank margins of every MNIST image
      std::memset(to, *from, length);
    } else {
      for (std::size_t i = 0; i < length; ++i) to[i] = from[i];
    }
  }

  const std::uint8_t* data_;
  std::size_t size_;
  Output* out_;
  std::size_t pos_ = 0;  // next input byte to load into the bit buffer (may pass size_; see refill_slow)
  std::uint64_t bit_buffer_ = 0;
  unsigned bit_count_ = 0;
  std::size_t window_start_ = 0;
  bool fixed_tables_loaded_ = false;
  std::vector<std::uint32_t> literal_length_;
  std::vector<std::uint32_t> distance_;
  std::vector<std::uint32_t> code_length_;
};

// ------------------------------------------------------------------------------------------- gzip wrapper
constexpr std::uint8_t kFlagHeaderCrc = 0x02, kFlagExtra = 0x04, kFlagName = 0x08, kFlagComment = 0x10;
constexpr std::size_t kGzipHeaderSize = 10, kGzipTrailerSize = 8;

Error gzip_truncated(const char* field, std::size_t size, const char* what) {
  return make_error(ErrorCode::truncated, field, size,
                    std::string("the gzip file ends inside ") + what + " (after " + std::to_string(size) +
                        " bytes): the file is cut short; download or copy it again");
}

std::string hex_byte(std::uint8_t b) {
  const char* digits = "0123456789abcdef";
  return std::string{digits[b >> 4], digits[b & 15]};
}

// Parses the member header at `start`; *data_start receives where its DEFLATE stream begins.
Status read_member_header(ByteSpan in, std::size_t start, int member, std::size_t* data_start) {
  const std::uint8_t* p = in.data + start;
  std::size_t available = in.size - start;
  if (available >= 1 && (p[0] != 0x1f || (available >= 2 && p[1] != 0x8b))) {
    std::string found = hex_byte(p[0]) + (available >= 2 ? " " + hex_byte(p[1]) : std::string());
    if (member > 0)
      return make_error(ErrorCode::bad_gzip, "gzip.magic", start,
                        "after gzip member " + std::to_string(member) + " come bytes (" + found +
                            ") that are neither another gzip member (1f 8b) nor zero padding");
    std::string kind = sniff_file_kind(in);
    std::string hint = kind.empty() ? "check that this is the .gz file you meant"
                                    : "it looks like " + kind + ", so open it as that";
    return make_error(ErrorCode::bad_gzip, "gzip.magic", start,
                      "not a gzip file: it starts with " + found + " instead of 1f 8b; " + hint);
  }
  if (available < kGzipHeaderSize) return gzip_truncated("gzip.header", in.size, "the 10-byte member header");
  if (p[2] != 8)
    return make_error(ErrorCode::bad_gzip, "gzip.method", start + 2,
                      "compression method " + std::to_string(p[2]) + " is not DEFLATE (8), the only one gzip defines");
  const std::uint8_t flags = p[3];
  if (flags & 0xe0)
    return make_error(ErrorCode::bad_gzip, "gzip.flags", start + 3,
                      "reserved header flag bits are set (flags 0x" + hex_byte(flags) + "): corrupt or not gzip");
  std::size_t at = start + kGzipHeaderSize;
  if (flags & kFlagExtra) {
    if (in.size - at < 2) return gzip_truncated("gzip.extra", in.size, "the FEXTRA length");
    std::size_t extra_length = load_u16_le(in.data + at);
    at += 2;
    if (in.size - at < extra_length) return gzip_truncated("gzip.extra", in.size, "the FEXTRA field");
    at += extra_length;
  }
  for (std::uint8_t flag : {kFlagName, kFlagComment}) {
    if (!(flags & flag)) continue;
    const void* zero = std::memchr(in.data + at, 0, in.size - at);
    if (!zero)
      return gzip_truncated(flag == kFlagName ? "gzip.name" : "gzip.comment", in.size,
                            flag == kFlagName ? "the file name (FNAME)" : "the comment (FCOMMENT)");
    at = std::size_t(static_cast<const std::uint8_t*>(zero) - in.data) + 1;
  }
  if (flags & kFlagHeaderCrc) {
    if (in.size - at < 2) return gzip_truncated("gzip.header_crc", in.size, "the header CRC (FHCRC)");
    std::uint16_t stored = load_u16_le(in.data + at);
    std::uint16_t actual = std::uint16_t(crc32(in.subspan(start, at - start)) & 0xffff);
    if (stored != actual)
      return make_error(ErrorCode::checksum_mismatch, "gzip.header_crc", at,
                        "the gzip header CRC is " + std::to_string(stored) + " but the header's bytes give " +
                            std::to_string(actual) + ": the header is corrupt");
    at += 2;
  }
  *data_start = at;
  return Ok{};
}

}  // namespace

Result<std::vector<std::uint8_t>> inflate_raw(ByteSpan compressed, std::uint64_t max_output_bytes,
                                              std::uint64_t* consumed) {
  if (consumed) *consumed = 0;
  if (compressed.data == nullptr) compressed.size = 0;
  Output out(max_output_bytes);
  Inflater inflater(compressed, &out);
  Status status = inflater.inflate(0);
  if (!status.ok()) return status.error();
  if (consumed) *consumed = inflater.end_offset();
  out.bytes.resize(out.written);
  return std::move(out.bytes);
}

Result<std::vector<std::uint8_t>> gunzip(ByteSpan compressed, std::uint64_t max_output_bytes) {
  if (compressed.data == nullptr || compressed.size == 0)
    return make_error(ErrorCode::truncated, "gzip.header", 0, "the input is empty: a gzip file has at least 18 bytes");
  const std::size_t size = compressed.size;
  Output out(max_output_bytes);
  // ISIZE (the last member's length mod 2^32) is only a hint: never beyond the budget, nor beyond what
  // DEFLATE can expand to (about 1032:1), so a forged trailer cannot make us allocate much.
  if (size >= 18) {
    std::uint64_t hint = load_u32_le(compressed.data + size - 4);
    out.reserve_hint(std::min<std::uint64_t>(hint, std::uint64_t(size) * 1032));
  }
  Inflater inflater(compressed, &out);
  std::size_t at = 0;
  for (int member = 0;; ++member) {
    std::size_t data_start = 0;
    Status header = read_member_header(compressed, at, member, &data_start);
    if (!header.ok()) return header.error();
    const std::size_t member_output_start = out.written;
    Status body = inflater.inflate(data_start);
    if (!body.ok()) return body.error();
    std::uint64_t trailer = inflater.end_offset();
    if (trailer > size || size - trailer < kGzipTrailerSize)
      return gzip_truncated("gzip.trailer", size, "the 8-byte trailer (CRC-32 and length)");
    const std::size_t t = std::size_t(trailer);
    const std::size_t member_size = out.written - member_output_start;
    std::uint32_t stored_crc = load_u32_le(compressed.data + t);
    std::uint32_t actual_crc = crc32(ByteSpan(out.bytes.data() + member_output_start, member_size));
    if (stored_crc != actual_crc)
      return make_error(ErrorCode::checksum_mismatch, "gzip.crc32", t,
                        "the CRC-32 of the decompressed data is " + std::to_string(actual_crc) +
                            " but the gzip trailer says " + std::to_string(stored_crc) +
                            ": the file is corrupt; download or copy it again");
    std::uint32_t stored_size = load_u32_le(compressed.data + t + 4);
    if (stored_size != std::uint32_t(member_size))
      return make_error(ErrorCode::checksum_mismatch, "gzip.isize", t + 4,
                        "the member decompressed to " + std::to_string(member_size) +
                            " bytes but the gzip trailer says " + std::to_string(stored_size) +
                            " (mod 2^32): the file is corrupt");
    at = t + kGzipTrailerSize;
    // Zero bytes after a member are padding (tape blocks, some tools); gzip and Python ignore them too.
    while (at < size && compressed.data[at] == 0) ++at;
    if (at == size) break;
  }
  out.bytes.resize(out.written);
  return std::move(out.bytes);
}

}  // namespace digitlab
