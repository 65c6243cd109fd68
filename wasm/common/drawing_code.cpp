// The drawing code's writer and its reader; the reader trusts nothing (a link may be cut, edited or made
// by hand) and stops at the first fault. Read next: tests/app/test_drawing_code.cpp.
#include "common/drawing_code.hpp"

#include <cmath>

namespace digitlab::app {

namespace {

constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr long kMinPoint = -kDrawingGrid, kMaxPoint = 2 * kDrawingGrid, kMinWidth = 20, kMaxWidth = kDrawingGrid / 2;

int digit_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

long to_grid(float value) { return std::lround(double(value) * kDrawingGrid); }

void put(std::string& out, long value) {
  unsigned long zigzag = value < 0 ? (static_cast<unsigned long>(-value) << 1) - 1 : static_cast<unsigned long>(value) << 1;
  do {
    const unsigned long low = zigzag & 31;
    zigzag >>= 5;
    out += kDigits[low | (zigzag ? 32 : 0)];
  } while (zigzag);
}

struct Reader {
  std::string_view text;
  std::size_t at = 0;
  std::string problem;

  bool fail(std::string why) {
    if (problem.empty()) problem = std::move(why);
    return false;
  }
  bool get(long* value) {
    unsigned long zigzag = 0;
    for (int shift = 0;; shift += 5) {
      if (at >= text.size()) return fail("it ends in the middle (the link was cut short?)");
      if (shift > 25) return fail("it holds a number too large to be a drawing");
      const int digit = digit_value(text[at]);
      if (digit < 0) {
        const unsigned char c = static_cast<unsigned char>(text[at]);
        return fail("character " + std::to_string(at + 3) + " ('" + (c < 0x20 || c > 0x7e ? std::string("?") : std::string(1, char(c))) +
                    "') is not one of A-Z a-z 0-9 - _");
      }
      ++at;
      zigzag |= static_cast<unsigned long>(digit & 31) << shift;
      if (!(digit & 32)) break;
    }
    *value = (zigzag & 1) ? -long(zigzag >> 1) - 1 : long(zigzag >> 1);
    return true;
  }
  bool get_in(long* value, long low, long high, const char* what) {
    if (!get(value)) return false;
    if (*value < low || *value > high)
      return fail(std::string(what) + " is " + std::to_string(*value) + ", outside " + std::to_string(low) + ".." +
                  std::to_string(high));
    return true;
  }
};

}  // namespace

std::string encode_drawing(const std::vector<Stroke>& strokes) {
  if (strokes.empty()) return "";
  std::string out = "1.";
  put(out, long(strokes.size()));
  long x = 0, y = 0;
  for (const Stroke& stroke : strokes) {
    put(out, to_grid(stroke.width));
    put(out, long(stroke.points.size()));
    for (const Point& p : stroke.points) {
      const long px = to_grid(p.x), py = to_grid(p.y);
      put(out, px - x);
      put(out, py - y);
      x = px;
      y = py;
    }
  }
  return out;
}

std::vector<Stroke> decode_drawing(std::string_view code, std::string* problem) {
  std::vector<Stroke> strokes;
  std::string why;
  if (code.size() > kMaxDrawingChars) {
    why = "it has " + std::to_string(code.size()) + " characters, more than the " + std::to_string(kMaxDrawingChars) +
          " allowed";
  } else if (code.substr(0, 2) != "1.") {
    why = code.find('.') != std::string_view::npos && code.find('.') < 6
              ? "its version '" + std::string(code.substr(0, code.find('.'))) + "' is not 1 (a newer app made it?)"
              : "it does not start with the version, 1.";
  } else {
    Reader in{code.substr(2), 0, {}};
    long count = 0, width = 0, points = 0, x = 0, y = 0, dx = 0, dy = 0;
    std::size_t total = 0;
    bool ok = in.get_in(&count, 1, long(kMaxDrawingStrokes), "the stroke count");
    for (long s = 0; ok && s < count; ++s) {
      ok = in.get_in(&width, kMinWidth, kMaxWidth, "a pen width") && in.get_in(&points, 1, long(kMaxDrawingPoints), "a point count");
      total += std::size_t(ok ? points : 0);
      if (ok && total > kMaxDrawingPoints)
        ok = in.fail("it has more than " + std::to_string(kMaxDrawingPoints) + " points");
      Stroke stroke;
      stroke.width = float(width) / float(kDrawingGrid);
      for (long i = 0; ok && i < points; ++i) {
        ok = in.get(&dx) && in.get(&dy);
        x += dx;
        y += dy;
        if (ok && (x < kMinPoint || x > kMaxPoint || y < kMinPoint || y > kMaxPoint))
          ok = in.fail("a point lies outside the drawing's range (-1..2 sides of the area)");
        stroke.points.push_back({float(x) / float(kDrawingGrid), float(y) / float(kDrawingGrid)});
      }
      strokes.push_back(std::move(stroke));
    }
    if (ok && in.at != in.text.size()) in.fail("it goes on after its last stroke (two links run together?)");
    why = in.problem;
  }
  if (why.empty()) return strokes;
  if (problem)
    *problem = "URL parameter drawing was not drawn: " + why + ". The canvas starts empty; copy the link again "
               "with Copy link (or digitlab.shareUrl()).";
  return {};
}

}  // namespace digitlab::app
