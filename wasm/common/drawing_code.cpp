// The drawing code's writer and its reader; the reader trusts nothing (a link may be cut, edited or made
// by hand) and stops at the first fault. Read next: tests/app/test_drawing_code.cpp.
#include "common/drawing_code.hpp"
#include "common/i18n.hpp"

#include <cmath>
#include <cstdarg>
#include <cstdio>

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

// One message per code, written with printf formats: string concatenation costs the demo's download more.
struct Reader {
  std::string_view text;
  std::size_t at = 0;
  char problem[240] = "";  // a Chinese text takes 3 bytes a character

  bool fail(const char* format, ...) {
    if (problem[0]) return false;
    std::va_list args;
    va_start(args, format);
    std::vsnprintf(problem, sizeof problem, format, args);
    va_end(args);
    return false;
  }
  bool get(long* value) {
    unsigned long zigzag = 0;
    for (int shift = 0;; shift += 5) {
      if (at >= text.size()) return fail(tr("it is cut short"));
      if (shift > 25) return fail(tr("a number is too large"));
      const int digit = digit_value(text[at]);
      if (digit < 0) {
        const char c = text[at] < 0x20 || text[at] > 0x7e ? '?' : text[at];
        return fail(tr("character %d ('%c') is not A-Z a-z 0-9 - _"), int(at + 3), c);
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
    return (*value >= low && *value <= high) || fail(tr("%s is %ld, outside %ld..%ld"), what, *value, low, high);
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
  Reader in{code.size() > 2 ? code.substr(2) : std::string_view()};
  const std::size_t dot = code.find('.');
  if (code.size() > kMaxDrawingChars) {
    in.fail(tr("it has %d characters, over %d"), int(code.size()), int(kMaxDrawingChars));
  } else if (code.substr(0, 2) != "1.") {
    if (dot > 0 && dot < 6) in.fail(tr("its version '%.*s' is not 1"), int(dot), code.data());
    else in.fail("%s", tr("it does not start with 1."));
  } else {
    long count = 0, width = 0, points = 0, x = 0, y = 0, dx = 0, dy = 0;
    std::size_t total = 0;
    bool ok = in.get_in(&count, 1, long(kMaxDrawingStrokes), tr("the stroke count"));
    for (long s = 0; ok && s < count; ++s) {
      ok = in.get_in(&width, kMinWidth, kMaxWidth, tr("a pen width")) && in.get_in(&points, 1, long(kMaxDrawingPoints), tr("a point count"));
      total += std::size_t(ok ? points : 0);
      if (ok && total > kMaxDrawingPoints) ok = in.fail(tr("it has over %d points"), int(kMaxDrawingPoints));
      Stroke stroke;
      stroke.width = float(width) / float(kDrawingGrid);
      for (long i = 0; ok && i < points; ++i) {
        ok = in.get(&dx) && in.get(&dy);
        x += dx;
        y += dy;
        if (ok && (x < kMinPoint || x > kMaxPoint || y < kMinPoint || y > kMaxPoint))
          ok = in.fail("%s", tr("a point is out of range"));
        stroke.points.push_back({float(x) / float(kDrawingGrid), float(y) / float(kDrawingGrid)});
      }
      strokes.push_back(std::move(stroke));
    }
    if (ok && in.at != in.text.size()) in.fail("%s", tr("it goes on after its last stroke"));
  }
  if (!in.problem[0]) return strokes;
  if (problem) {
    char message[640];
    std::snprintf(message, sizeof message, tr("URL parameter drawing was not drawn: %s. The canvas starts empty; copy the link again (Copy link)."),
                  in.problem);
    *problem = message;
  }
  return {};
}

}  // namespace digitlab::app
