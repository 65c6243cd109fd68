// The drawing as text for a link (?drawing=1.CgAB...): strokes and their widths on the drawing grid, short
// enough for a URL and checked on the way back in. docs/embedding.md describes the format. Read next:
// drawing_code.cpp, common/url_options.cpp (which reads the drawing= parameter).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/drawing.hpp"

namespace digitlab::app {

// Version 1: "1." then base64url digits (A-Z a-z 0-9 - _), each carrying 5 bits of a number, low bits
// first, plus 32 when more digits of the same number follow. Every number is zigzag-coded (0,-1,1,-2.. ->
// 0,1,2,3..). The numbers: the stroke count; then per stroke its width and point count, then each point
// as (dx, dy) from the point before (the first point of the drawing from (0,0)). Units: 1/kDrawingGrid of
// the drawing area's side; points lie in -1..2 sides (the area is 0..1: a pen dragged past its edge still
// inks it), widths in 20..2048 units (drawing.cpp's 0.005..0.5).
inline constexpr std::size_t kMaxDrawingChars = 8000;   // links stay well under servers' 16 KB request lines
inline constexpr std::size_t kMaxDrawingStrokes = 200;
inline constexpr std::size_t kMaxDrawingPoints = 2000;  // all strokes together

// "" for an empty drawing. A drawing over the limits gives a code that decode refuses (callers check).
std::string encode_drawing(const std::vector<Stroke>& strokes);

// The strokes, or an empty list with *problem set to one sentence: what is wrong, what to do.
std::vector<Stroke> decode_drawing(std::string_view code, std::string* problem);

}  // namespace digitlab::app
