// The IDX reader: header checks first (magic, element type, rank, dimensions, size budget), then one
// allocation of exactly the size the file implies. Read next: tests/core/test_idx.cpp.
#include "digitlab/idx.hpp"

#include <cstdio>

#include "digitlab/inflate.hpp"

namespace digitlab {
namespace {

constexpr std::uint8_t kUnsignedByte = 0x08;

const char* element_type_name(std::uint8_t type) {
  switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
  }
  return "unknown";
}

struct IdxHeader {
  std::uint32_t dims[3] = {0, 0, 0};
  std::uint64_t data_offset = 0;
  std::uint64_t data_bytes = 0;
};

// Parses and checks the header of an unsigned-byte idx file of the given rank (1: labels, 3: images).
Result<IdxHeader> parse_header(ByteSpan bytes, std::uint8_t rank, const IdxLimits& limits) {
  const char* what = rank == 3 ? "images" : "labels";
  if (bytes.size < 4)
    return make_error(ErrorCode::truncated, "header.magic", bytes.size,
                      "the file has " + std::to_string(bytes.size) + " bytes, too short for an idx header; it is damaged: run scripts/setup to reinstall the data");
  if (bytes.data[0] != 0 || bytes.data[1] != 0) {
    std::string kind = sniff_file_kind(bytes);
    if (!kind.empty())
      return make_error(ErrorCode::wrong_file_kind, "header.magic", 0, "this is " + kind + ", not an idx " + std::string(what) + " file");
    return make_error(ErrorCode::bad_magic, "header.magic", 0,
                      "an idx file starts with two zero bytes; this one does not, so it is not MNIST-style idx data");
  }
  std::uint8_t type = bytes.data[2];
  if (type != kUnsignedByte)
    return make_error(ErrorCode::bad_dtype, "header.element_type", 2,
                      std::string("element type 0x") + "0123456789abcdef"[type >> 4] + "0123456789abcdef"[type & 15] + " (" +
                          element_type_name(type) + "); MNIST-style " + what + " must be unsigned bytes (0x08)");
  std::uint8_t file_rank = bytes.data[3];
  if (file_rank != rank) {
    std::string hint = file_rank == 1 ? " (this looks like a labels file)" : file_rank == 3 ? " (this looks like an images file)" : "";
    return make_error(ErrorCode::bad_dimensions, "header.rank", 3,
                      std::string(what) + " need " + std::to_string(rank) + " dimension(s), the file declares " +
                          std::to_string(file_rank) + hint);
  }
  IdxHeader header;
  header.data_offset = 4 + 4ull * rank;
  if (bytes.size < header.data_offset)
    return make_error(ErrorCode::truncated, "header.dims", bytes.size, "the file ends inside its header");
  static const char* dim_names[3] = {"count", "rows", "cols"};
  std::uint64_t total = 1;
  for (std::uint8_t i = 0; i < rank; ++i) {
    std::uint32_t dim = load_u32_be(bytes.data + 4 + 4 * i);
    header.dims[i] = dim;
    std::string field = std::string("header.") + dim_names[i];
    if (dim == 0)
      return make_error(ErrorCode::bad_dimensions, field, 4 + 4ull * i, std::string(dim_names[i]) + " is 0: the file holds no data");
    if (i > 0 && dim > limits.max_side)
      return make_error(ErrorCode::bad_dimensions, field, 4 + 4ull * i,
                        std::string(dim_names[i]) + " is " + std::to_string(dim) + ", more than the " +
                            std::to_string(limits.max_side) + " allowed");
    if (!checked_mul(total, dim, &total))
      return make_error(ErrorCode::size_overflow, field, 4 + 4ull * i, "the dimensions' product overflows 64 bits");
  }
  header.data_bytes = total;
  if (total > limits.max_bytes)
    return make_error(ErrorCode::over_budget, "header.dims", 4,
                      "the header declares " + std::to_string(total) + " bytes of data, more than the " +
                          std::to_string(limits.max_bytes) + "-byte budget");
  std::uint64_t present = bytes.size - header.data_offset;
  if (present < total)
    return make_error(ErrorCode::truncated, "data", bytes.size,
                      "the header declares " + std::to_string(total) + " bytes of data but only " + std::to_string(present) +
                          " follow: the file is cut short; run scripts/setup to reinstall the data");
  if (present > total)
    return make_error(ErrorCode::trailing_bytes, "data", header.data_offset + total,
                      std::to_string(present - total) + " bytes follow the declared data: the header's counts are wrong or files were concatenated");
  return header;
}

// Runs parse on the bytes, or on their gunzipped form when they start with the gzip magic.
template <class Parse>
auto with_gunzip(ByteSpan bytes, const IdxLimits& limits, Parse parse) -> decltype(parse(bytes)) {
  if (!is_gzip(bytes)) return parse(bytes);
  auto inflated = gunzip(bytes, limits.max_bytes + 16);
  if (!inflated.ok()) {
    Error e = inflated.error();
    e.field = "gzip" + (e.field.empty() ? std::string() : "." + e.field);
    return e;
  }
  return parse(ByteSpan(inflated.value()));
}

std::string with_path(const std::string& path, const Error& e) { return path + ": " + e.message; }

}  // namespace

Result<IdxImages> parse_idx_images(ByteSpan bytes, const IdxLimits& limits) {
  return with_gunzip(bytes, limits, [&](ByteSpan raw) -> Result<IdxImages> {
    auto header = parse_header(raw, 3, limits);
    if (!header.ok()) return header.error();
    const IdxHeader& h = header.value();
    IdxImages images;
    images.count = h.dims[0];
    images.rows = h.dims[1];
    images.cols = h.dims[2];
    const std::uint8_t* begin = raw.data + h.data_offset;
    images.pixels.assign(begin, begin + h.data_bytes);
    return images;
  });
}

Result<IdxLabels> parse_idx_labels(ByteSpan bytes, const IdxLimits& limits) {
  return with_gunzip(bytes, limits, [&](ByteSpan raw) -> Result<IdxLabels> {
    auto header = parse_header(raw, 1, limits);
    if (!header.ok()) return header.error();
    const IdxHeader& h = header.value();
    const std::uint8_t* begin = raw.data + h.data_offset;
    for (std::uint64_t i = 0; i < h.data_bytes; ++i) {
      if (begin[i] >= limits.num_classes)
        return make_error(ErrorCode::bad_value, "labels[" + std::to_string(i) + "]", h.data_offset + i,
                          "label " + std::to_string(begin[i]) + " is not a class (expected 0.." +
                              std::to_string(limits.num_classes - 1) + ")");
    }
    IdxLabels labels;
    labels.labels.assign(begin, begin + h.data_bytes);
    return labels;
  });
}

template <class T, class Parse>
static Result<T> load_with(const std::string& path, const IdxLimits& limits, Parse parse) {
  // A gzip stream can be larger than its content only by a little; a raw file by its header.
  auto bytes = read_file(path, limits.max_bytes + (1 << 16));
  if (!bytes.ok()) return bytes.error();
  Result<T> parsed = parse(ByteSpan(bytes.value()), limits);
  if (!parsed.ok()) {
    Error e = parsed.error();
    e.message = with_path(path, e);
    return e;
  }
  return parsed;
}

Result<IdxImages> load_idx_images(const std::string& path, const IdxLimits& limits) {
  return load_with<IdxImages>(path, limits, parse_idx_images);
}

Result<IdxLabels> load_idx_labels(const std::string& path, const IdxLimits& limits) {
  return load_with<IdxLabels>(path, limits, parse_idx_labels);
}

static Result<std::string> find_idx_file(const std::string& dir, const std::string& name) {
  std::string raw = dir + "/" + name;
  for (const std::string& candidate : {raw, raw + ".gz"}) {
    std::FILE* f = std::fopen(candidate.c_str(), "rb");
    if (f) {
      std::fclose(f);
      return candidate;
    }
  }
  return make_error(ErrorCode::io, "path", 0,
                    "neither " + raw + " nor " + raw + ".gz exists: run scripts/setup (or make setup) to install MNIST and Fashion-MNIST into data/");
}

Result<IdxDataset> load_idx_dataset(const std::string& dir, const std::string& prefix, const IdxLimits& limits) {
  auto images_path = find_idx_file(dir, prefix + "-images-idx3-ubyte");
  if (!images_path.ok()) return images_path.error();
  auto labels_path = find_idx_file(dir, prefix + "-labels-idx1-ubyte");
  if (!labels_path.ok()) return labels_path.error();
  auto images = load_idx_images(images_path.value(), limits);
  if (!images.ok()) return images.error();
  auto labels = load_idx_labels(labels_path.value(), limits);
  if (!labels.ok()) return labels.error();
  if (images.value().count != labels.value().labels.size())
    return make_error(ErrorCode::count_mismatch, "header.count", 4,
                      images_path.value() + " holds " + std::to_string(images.value().count) + " images but " +
                          labels_path.value() + " holds " + std::to_string(labels.value().labels.size()) +
                          " labels: the two files are from different sets");
  IdxDataset dataset;
  dataset.images = std::move(images.value());
  dataset.labels = std::move(labels.value());
  return dataset;
}

}  // namespace digitlab
