// SPDX-License-Identifier: MIT
// Training-path fully connected layer (nn.Linear, float) on the blocked GEMM, forward and backward.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <fusenet/kernels/batch_sum.hpp>
#include <fusenet/kernels/fma.hpp>
#include <fusenet/kernels/gemm.hpp>
#include <fusenet/kernels/threads.hpp>
#include <vector>
#include <xsimd/xsimd.hpp>

namespace fusenet::kernels {

/// y = x · wᵀ + b, as torch.nn.functional.linear (one GEMM with B transposed, then the bias row).
/// Requires: x is batch×in, w is out×in (PyTorch layout), b is out or nullptr, y is batch×out.
/// Ensures: y overwritten.
template <class Arch = xsimd::default_arch>
void linear_forward(std::size_t batch, std::size_t in, std::size_t out, const float* x,
                    const float* w, const float* b, float* y) {
  gemm<Arch>(transpose::no, transpose::yes, batch, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
  if (b != nullptr) {
    for (std::size_t n = 0; n < batch; ++n) {
      for (std::size_t o = 0; o < out; ++o) y[n * out + o] += b[o];
    }
  }
}

namespace detail {

/// The subtrees of one dw tile summed so far in the batch tree (batch_sum.hpp): a binary counter of tile-sized
/// float blocks, one per level, largest first.
struct dw_tile_stack {
  float* values;  // (levels) × tile floats, aligned
  unsigned char level[64];
  std::size_t depth = 0;
};

/// Adds the chunks of images [first, last) (first a multiple of batch_chunk) of one Rows × (Vectors·lanes) tile
/// of dyᵀ · x to its stack: per chunk, the products as one FMA chain per element in registers, then merged
/// with the equal-level subtrees on the stack while in registers (left + right). x and dy point at the tile's
/// first column / row; ldx and ldy are their row strides.
template <std::size_t Rows, std::size_t Vectors, class Arch>
[[gnu::always_inline]] inline void linear_dw_chunks(std::size_t first, std::size_t last, const float* x,
                                                    std::size_t ldx, const float* dy, std::size_t ldy,
                                                    dw_tile_stack& s) {
  using vec = xsimd::batch<float, Arch>;
  constexpr std::size_t width = vec::size, tile = Rows * Vectors * width;
  for (std::size_t c0 = first; c0 < last; c0 += batch_chunk) {
    vec acc[Rows][Vectors];
#pragma GCC unroll 32
    for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 8
      for (std::size_t v = 0; v < Vectors; ++v) acc[r][v] = vec(0.0f);
    for (std::size_t n = c0; n < std::min(last, c0 + batch_chunk); ++n) {
      vec bv[Vectors];
#pragma GCC unroll 8
      for (std::size_t v = 0; v < Vectors; ++v) bv[v] = vec::load_unaligned(x + n * ldx + v * width);
#pragma GCC unroll 32
      for (std::size_t r = 0; r < Rows; ++r) {
        const vec a(dy[n * ldy + r]);
#pragma GCC unroll 8
        for (std::size_t v = 0; v < Vectors; ++v) acc[r][v] = kernels::fma(a, bv[v], acc[r][v]);
      }
    }
    unsigned char lv = 0;
    for (; s.depth > 0 && s.level[s.depth - 1] == lv; ++lv) {
      const float* const p = s.values + --s.depth * tile;
#pragma GCC unroll 32
      for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 8
        for (std::size_t v = 0; v < Vectors; ++v)
          acc[r][v] = vec::load_aligned(p + (r * Vectors + v) * width) + acc[r][v];
    }
    float* const top = s.values + s.depth * tile;
#pragma GCC unroll 32
    for (std::size_t r = 0; r < Rows; ++r)
#pragma GCC unroll 8
      for (std::size_t v = 0; v < Vectors; ++v) acc[r][v].store_aligned(top + (r * Vectors + v) * width);
    s.level[s.depth++] = lv;
  }
}

/// Adds the tile's subtrees, from the smallest up (a chunk count that is not a power of two leaves several), to
/// dw (row stride ldw). Requires: at least one chunk added.
template <std::size_t Rows, std::size_t Vectors, class Arch>
inline void linear_dw_finish(dw_tile_stack& s, float* dw, std::size_t ldw) {
  using vec = xsimd::batch<float, Arch>;
  constexpr std::size_t width = vec::size, tile = Rows * Vectors * width;
  float* const total = s.values;
  for (; s.depth > 1; --s.depth) {
    float* const left = s.values + (s.depth - 2) * tile;
    const float* const right = s.values + (s.depth - 1) * tile;
    for (std::size_t i = 0; i < tile; i += width)
      (vec::load_aligned(left + i) + vec::load_aligned(right + i)).store_aligned(left + i);
  }
  for (std::size_t r = 0; r < Rows; ++r)
    for (std::size_t v = 0; v < Vectors; ++v) {
      float* const p = dw + r * ldw + v * width;
      (vec::load_unaligned(p) + vec::load_aligned(total + (r * Vectors + v) * width)).store_unaligned(p);
    }
}

/// dw += dyᵀ · x over the batch in the batch tree (batch_sum.hpp), on register tiles of the GEMM's shape.
/// Per column block, the images go in groups of linear_dw_group (a power-of-two number of chunks, so each
/// group is a subtree) so that the block of x they read stays in L1 across the row tiles. Edge tiles run on
/// zero-padded copies of x's columns or dy's rows into a scratch tile, so every element is computed the same
/// way whatever the sizes. Column blocks spread over OpenMP threads; results never depend on the thread count.
template <class Arch>
void linear_weight_grad(std::size_t batch, std::size_t in, std::size_t out, const float* x, const float* dy,
                        float* dw) {
  if (batch == 0) return;
  constexpr std::size_t rows = gemm_tile<Arch>::rows, vectors = gemm_tile<Arch>::vectors;
  constexpr std::size_t cols = vectors * xsimd::batch<float, Arch>::size, tile = rows * cols;
  constexpr std::size_t group = 16 * batch_chunk;
  const std::size_t in_pad = (in + cols - 1) / cols * cols, out_pad = (out + rows - 1) / rows * rows;
  // zero-padded operands only when a size is not a whole number of tiles
  std::vector<float> x_pad, dy_pad;
  const float* xs = x;
  const float* dys = dy;
  std::size_t ldx = in, ldy = out;
  if (in_pad != in) {
    x_pad.assign(batch * in_pad, 0.0f);
    for (std::size_t n = 0; n < batch; ++n)
      std::copy(x + n * in, x + (n + 1) * in, x_pad.begin() + static_cast<std::ptrdiff_t>(n * in_pad));
    xs = x_pad.data(), ldx = in_pad;
  }
  if (out_pad != out) {
    dy_pad.assign(batch * out_pad, 0.0f);
    for (std::size_t n = 0; n < batch; ++n)
      std::copy(dy + n * out, dy + (n + 1) * out, dy_pad.begin() + static_cast<std::ptrdiff_t>(n * out_pad));
    dys = dy_pad.data(), ldy = out_pad;
  }
  const std::size_t levels = 1 + static_cast<std::size_t>(std::bit_width(batch_chunks(batch)));
  const std::size_t row_tiles = out_pad / rows, blocks = in_pad / cols;
  const std::size_t work = batch * out_pad * in_pad;
  [[maybe_unused]] const int team_size =
      static_cast<int>(team_threads(work >= gemm_blocking::madds_per_thread ? blocks : 1));
  const auto count = static_cast<std::ptrdiff_t>(blocks);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(team_size) if (team_size > 1)
#endif
  for (std::ptrdiff_t b = 0; b < count; ++b) {
    thread_local gemm_buffer<Arch> scratch;  // every row tile's stack, then an edge tile's output
    thread_local std::vector<dw_tile_stack> stacks;
    if (scratch.size() < (row_tiles * levels + 1) * tile) scratch.resize((row_tiles * levels + 1) * tile);
    stacks.resize(row_tiles);
    for (std::size_t t = 0; t < row_tiles; ++t)
      stacks[t].values = scratch.data() + t * levels * tile, stacks[t].depth = 0;
    const std::size_t j0 = static_cast<std::size_t>(b) * cols;
    for (std::size_t first = 0; first < batch; first += group)
      for (std::size_t t = 0; t < row_tiles; ++t)
        linear_dw_chunks<rows, vectors, Arch>(first, std::min(batch, first + group), xs + j0, ldx, dys + t * rows,
                                              ldy, stacks[t]);
    float* const edge = scratch.data() + row_tiles * levels * tile;
    for (std::size_t t = 0; t < row_tiles; ++t) {
      const std::size_t o0 = t * rows;
      if (j0 + cols <= in && o0 + rows <= out) {
        linear_dw_finish<rows, vectors, Arch>(stacks[t], dw + o0 * in + j0, in);
        continue;
      }
      std::fill(edge, edge + tile, 0.0f);
      linear_dw_finish<rows, vectors, Arch>(stacks[t], edge, cols);
      for (std::size_t r = 0; r < rows && o0 + r < out; ++r)
        for (std::size_t j = 0; j < cols && j0 + j < in; ++j) dw[(o0 + r) * in + j0 + j] += edge[r * cols + j];
    }
  }
}

}  // namespace detail

/// Gradients of linear_forward: dx = dy · w, dw += dyᵀ · x, db += Σ_n dy (three GEMM cases); dw and db
/// summed over the batch in the batch tree (batch_sum.hpp).
/// Requires: dy is batch×out. Ensures: dx (batch×in) overwritten unless nullptr; dw (out×in) and db
/// (out) ACCUMULATED (+=) unless nullptr, like PyTorch's .grad.
template <class Arch = xsimd::default_arch>
void linear_backward(std::size_t batch, std::size_t in, std::size_t out, const float* x,
                     const float* w, const float* dy, float* dx, float* dw, float* db) {
  if (dx != nullptr) {
    gemm<Arch>(transpose::no, transpose::no, batch, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
  }
  if (dw != nullptr) detail::linear_weight_grad<Arch>(batch, in, out, x, dy, dw);
  if (db != nullptr) {
    for (std::size_t o = 0; o < out; ++o) {
      batch_sum sum;
      for (std::size_t n = 0; n < batch; ++n) sum.add(static_cast<double>(dy[n * out + o]));
      db[o] += sum.total();
    }
  }
}

}  // namespace fusenet::kernels
