// Connected components of ink (8-neighbour flood fill with an explicit stack), merged into digits by
// horizontal overlap, ordered left to right. Read next: tests/core/test_segment.cpp.
#include "digitlab/segment.hpp"

#include <algorithm>
#include <numeric>

namespace digitlab {
namespace {

struct Piece {
  std::int64_t x0, y0, x1, y1;  // inclusive bounds
  float ink = 0;
  std::vector<std::int32_t> labels;  // component labels merged into this piece
};

// Each inked pixel gets the label (1..n) of its 8-connected component; 0 is paper.
std::vector<Piece> label_components(const Canvas& drawing, float threshold, std::vector<std::int32_t>& labels) {
  const std::int64_t w = drawing.width, h = drawing.height;
  labels.assign(std::size_t(w * h), 0);
  std::vector<Piece> pieces;
  std::vector<std::int64_t> stack;
  for (std::int64_t start = 0; start < w * h; ++start) {
    if (labels[std::size_t(start)] != 0 || drawing.ink[std::size_t(start)] <= threshold) continue;
    auto label = std::int32_t(pieces.size() + 1);
    Piece piece{start % w, start / w, start % w, start / w, 0.f, {label}};
    labels[std::size_t(start)] = label;
    stack.push_back(start);
    while (!stack.empty()) {
      std::int64_t at = stack.back();
      stack.pop_back();
      std::int64_t x = at % w, y = at / w;
      piece.x0 = std::min(piece.x0, x), piece.x1 = std::max(piece.x1, x);
      piece.y0 = std::min(piece.y0, y), piece.y1 = std::max(piece.y1, y);
      piece.ink += drawing.ink[std::size_t(at)];
      for (std::int64_t dy = -1; dy <= 1; ++dy)
        for (std::int64_t dx = -1; dx <= 1; ++dx) {
          std::int64_t nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
          std::int64_t next = ny * w + nx;
          if (labels[std::size_t(next)] == 0 && drawing.ink[std::size_t(next)] > threshold) {
            labels[std::size_t(next)] = label;
            stack.push_back(next);
          }
        }
    }
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

float horizontal_overlap(const Piece& a, const Piece& b) {
  std::int64_t overlap = std::min(a.x1, b.x1) - std::max(a.x0, b.x0) + 1;
  std::int64_t narrower = std::min(a.x1 - a.x0, b.x1 - b.x0) + 1;
  return overlap <= 0 ? 0.f : float(overlap) / float(narrower);
}

}  // namespace

Result<std::vector<DigitRegion>> segment_digits(const Canvas& drawing, const SegmentOptions& options) {
  if (drawing.width <= 0 || drawing.height <= 0 || drawing.ink.size() != std::size_t(drawing.width * drawing.height))
    return make_error(ErrorCode::bad_argument, "canvas", 0, "the canvas's ink must hold width*height values");
  std::vector<std::int32_t> labels;
  std::vector<Piece> pieces = label_components(drawing, options.ink_threshold, labels);
  if (pieces.empty()) return make_error(ErrorCode::empty_input, "canvas", 0, "nothing is drawn");

  float largest = 0;
  for (const Piece& p : pieces) largest = std::max(largest, p.ink);
  pieces.erase(std::remove_if(pieces.begin(), pieces.end(),
                              [&](const Piece& p) { return p.ink < options.min_ink_fraction * largest; }),
               pieces.end());

  // Merge pieces that stand above one another until nothing changes (merging can create new overlaps).
  for (bool merged = true; merged;) {
    merged = false;
    for (std::size_t i = 0; i < pieces.size() && !merged; ++i)
      for (std::size_t j = i + 1; j < pieces.size() && !merged; ++j) {
        if (horizontal_overlap(pieces[i], pieces[j]) <= options.merge_overlap) continue;
        Piece& a = pieces[i];
        const Piece& b = pieces[j];
        a.x0 = std::min(a.x0, b.x0), a.y0 = std::min(a.y0, b.y0);
        a.x1 = std::max(a.x1, b.x1), a.y1 = std::max(a.y1, b.y1);
        a.ink += b.ink;
        a.labels.insert(a.labels.end(), b.labels.begin(), b.labels.end());
        pieces.erase(pieces.begin() + std::ptrdiff_t(j));
        merged = true;
      }
  }
  if (int(pieces.size()) > options.max_digits)
    return make_error(ErrorCode::bad_argument, "canvas", 0,
                      "the drawing splits into " + std::to_string(pieces.size()) + " pieces, more than the " +
                          std::to_string(options.max_digits) + " digits allowed: draw fewer, larger digits");
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.x0 + a.x1 < b.x0 + b.x1; });

  // Crop each digit with a margin, keeping only its own ink: the anti-aliased rim below the threshold
  // is kept where it touches the digit's pixels, so the edges stay smooth.
  std::vector<DigitRegion> regions;
  for (const Piece& piece : pieces) {
    const std::int64_t margin = 2;
    DigitRegion region;
    region.x = std::max<std::int64_t>(0, piece.x0 - margin);
    region.y = std::max<std::int64_t>(0, piece.y0 - margin);
    region.width = std::min(drawing.width - 1, piece.x1 + margin) - region.x + 1;
    region.height = std::min(drawing.height - 1, piece.y1 + margin) - region.y + 1;
    region.ink = piece.ink;
    region.canvas.width = region.width;
    region.canvas.height = region.height;
    region.canvas.ink.assign(std::size_t(region.width * region.height), 0.f);
    auto owns = [&](std::int64_t x, std::int64_t y) {
      std::int32_t label = labels[std::size_t(y * drawing.width + x)];
      return label != 0 && std::find(piece.labels.begin(), piece.labels.end(), label) != piece.labels.end();
    };
    for (std::int64_t y = 0; y < region.height; ++y)
      for (std::int64_t x = 0; x < region.width; ++x) {
        std::int64_t sx = region.x + x, sy = region.y + y;
        bool keep = owns(sx, sy);
        if (!keep && labels[std::size_t(sy * drawing.width + sx)] == 0) {  // rim: next to one of ours
          for (std::int64_t dy = -1; dy <= 1 && !keep; ++dy)
            for (std::int64_t dx = -1; dx <= 1 && !keep; ++dx) {
              std::int64_t nx = sx + dx, ny = sy + dy;
              keep = nx >= 0 && ny >= 0 && nx < drawing.width && ny < drawing.height && owns(nx, ny);
            }
        }
        if (keep) region.canvas.ink[std::size_t(y * region.width + x)] = drawing.ink[std::size_t(sy * drawing.width + sx)];
      }
    regions.push_back(std::move(region));
  }
  return regions;
}

Result<NumberReading> read_number(const Model& model, const Canvas& drawing, const SegmentOptions& options,
                                  const PreprocessOptions& preprocess_options) {
  auto regions = segment_digits(drawing, options);
  if (!regions.ok()) return regions.error();
  NumberReading reading;
  reading.confidence = 1.f;
  for (const DigitRegion& region : regions.value()) {
    auto input = preprocess_canvas(region.canvas, model.card, preprocess_options);
    if (!input.ok()) return input.error();
    auto prediction = forward(model, input.value().input.data(), input.value().input.size());
    if (!prediction.ok()) return prediction.error();
    const Prediction& p = prediction.value();
    std::size_t label = std::size_t(p.label);
    reading.text += label < model.card.class_names.size() ? model.card.class_names[label] : std::to_string(label);
    reading.confidence *= p.probabilities[label];
    reading.predictions.push_back(p);
    reading.inputs.push_back(std::move(input.value()));
  }
  reading.regions = std::move(regions.value());
  return reading;
}

}  // namespace digitlab
