// train_gemm.hpp's product: B packed into panels of 8 columns (k, 8), A into blocks of 4 rows (k, 4), then
// a 4x8 register tile (8 vectors of 4 floats) per block and panel, run over all of k. Read train_gemm.hpp first.
//
// Blocking: k in chunks of kDepthChunk and columns in chunks of kColumnChunk, so the packed panels stay
// in L2 while every row block passes over them; rows inside. Chunks of k run in order and each continues
// the sums the previous one stored, so every output still adds its terms in k order.
#include "digitlab/train_gemm.hpp"

#include <algorithm>
#include <cstring>

#include "vec4.hpp"

namespace digitlab {
namespace train_gemm {
namespace {

using vec4::f32x4;
using vec4::load4;
using vec4::splat;
using vec4::store4;

constexpr int kRows = 4;      // rows of C per register tile
constexpr int kColumns = 8;   // columns of C per register tile (two vectors)
constexpr int kColumnChunk = 256;
constexpr int kDepthChunk = 256;  // packed B: (256 k, 256 columns) = 256 KB, in L2


// panel (k, 8): columns [column, column + 8) of b, zeros past n.
void pack_b_panel(const MatrixView& b, int n, int k, int column, float* panel) {
  const int width = std::min(kColumns, n - column);
  for (int kk = 0; kk < k; ++kk) {
    const float* row = b.data + kk * b.row_stride + column * b.column_stride;
    float* out = panel + static_cast<std::size_t>(kk) * kColumns;
    if (b.column_stride == 1) {
      std::memcpy(out, row, sizeof(float) * static_cast<std::size_t>(width));
    } else {
      for (int j = 0; j < width; ++j) out[j] = row[j * b.column_stride];
    }
    for (int j = width; j < kColumns; ++j) out[j] = 0.f;
  }
}

// block (k, 4): rows [row, row + 4) of a, zeros past m.
void pack_a_block(const MatrixView& a, int m, int k, int row, float* block) {
  const int height = std::min(kRows, m - row);
  for (int i = 0; i < kRows; ++i) {
    if (i >= height) {
      for (int kk = 0; kk < k; ++kk) block[static_cast<std::size_t>(kk) * kRows + i] = 0.f;
      continue;
    }
    const float* source = a.data + (row + i) * a.row_stride;
    for (int kk = 0; kk < k; ++kk) block[static_cast<std::size_t>(kk) * kRows + i] = source[kk * a.column_stride];
  }
}

// One 4x8 tile of c: starts from c (or 0) and adds the k terms in order.
void tile(const float* block, const float* panel, int k, float* c, std::ptrdiff_t ldc, int height, int width,
          bool accumulate) {
  f32x4 acc[kRows][2];
  if (accumulate && width == kColumns) {
    for (int i = 0; i < kRows; ++i) {
      const float* row = c + i * ldc;
      acc[i][0] = i < height ? load4(row) : splat(0.f);
      acc[i][1] = i < height ? load4(row + 4) : splat(0.f);
    }
  } else {
    float start[kRows][kColumns] = {};
    if (accumulate) {
      for (int i = 0; i < height; ++i)
        for (int j = 0; j < width; ++j) start[i][j] = c[i * ldc + j];
    }
    for (int i = 0; i < kRows; ++i) {
      acc[i][0] = load4(start[i]);
      acc[i][1] = load4(start[i] + 4);
    }
  }
  for (int kk = 0; kk < k; ++kk) {
    const f32x4 b0 = load4(panel), b1 = load4(panel + 4);
    for (int i = 0; i < kRows; ++i) {
      const f32x4 a = splat(block[i]);
      acc[i][0] += a * b0;
      acc[i][1] += a * b1;
    }
    panel += kColumns;
    block += kRows;
  }
  if (width == kColumns) {
    for (int i = 0; i < height; ++i) {
      store4(c + i * ldc, acc[i][0]);
      store4(c + i * ldc + 4, acc[i][1]);
    }
  } else {
    float out[kRows][kColumns];
    for (int i = 0; i < kRows; ++i) {
      store4(out[i], acc[i][0]);
      store4(out[i] + 4, acc[i][1]);
    }
    for (int i = 0; i < height; ++i)
      for (int j = 0; j < width; ++j) c[i * ldc + j] = out[i][j];
  }
}

}  // namespace

void gemm(int m, int n, int k, MatrixView a, MatrixView b, float* c, std::ptrdiff_t ldc, bool accumulate,
          Scratch& scratch) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (int i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.f);
    return;
  }
  // Chunks of equal size (576 = 2 x 288, not 512 + 64): a short last chunk would pay the tile's set-up for
  // few terms.
  const int depth_chunks = (k + kDepthChunk - 1) / kDepthChunk;
  const int depth_chunk = (k + depth_chunks - 1) / depth_chunks;
  const std::size_t panel_size = static_cast<std::size_t>(depth_chunk) * kColumns;
  const int chunk_panels = kColumnChunk / kColumns;
  if (scratch.packed_b.size() < panel_size * chunk_panels) scratch.packed_b.resize(panel_size * chunk_panels);
  if (scratch.packed_a.size() < static_cast<std::size_t>(depth_chunk) * kRows)
    scratch.packed_a.resize(static_cast<std::size_t>(depth_chunk) * kRows);
  // k in chunks, in order: a tile stores its partial sums and the next chunk continues from them, which
  // is the same sequence of float additions as one pass over all of k.
  for (int depth = 0; depth < k; depth += depth_chunk) {
    const int depth_count = std::min(depth_chunk, k - depth);
    const bool continue_sums = accumulate || depth > 0;
    const MatrixView a_part{a.data + depth * a.column_stride, a.row_stride, a.column_stride};
    const MatrixView b_part{b.data + depth * b.row_stride, b.row_stride, b.column_stride};
    const std::size_t part_panel = static_cast<std::size_t>(depth_count) * kColumns;
    for (int chunk = 0; chunk < n; chunk += kColumnChunk) {
      const int chunk_end = std::min(n, chunk + kColumnChunk);
      int panels = 0;
      for (int column = chunk; column < chunk_end; column += kColumns, ++panels)
        pack_b_panel(b_part, n, depth_count, column, scratch.packed_b.data() + panels * part_panel);
      for (int row = 0; row < m; row += kRows) {
        pack_a_block(a_part, m, depth_count, row, scratch.packed_a.data());
        const int height = std::min(kRows, m - row);
        for (int p = 0; p < panels; ++p) {
          const int column = chunk + p * kColumns;
          tile(scratch.packed_a.data(), scratch.packed_b.data() + p * part_panel, depth_count, c + row * ldc + column,
               ldc, height, std::min(kColumns, n - column), continue_sums);
        }
      }
    }
  }
}

void add_scaled(float* y, const float* x, float scale, int n) {
  const f32x4 s = splat(scale);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    store4(y + i, load4(y + i) + s * load4(x + i));
    store4(y + i + 4, load4(y + i + 4) + s * load4(x + i + 4));
  }
  for (; i < n; ++i) y[i] += scale * x[i];
}

}  // namespace train_gemm
}  // namespace digitlab
