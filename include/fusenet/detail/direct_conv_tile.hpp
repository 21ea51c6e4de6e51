// SPDX-License-Identifier: MIT
// The register-tile rules of the direct, depthwise and pointwise convolution kernels, as plain constexpr arithmetic:
// the kernels use them to pick their tiles and the plan to decide whether a kernel can run a convolution, so both
// agree.
#pragma once

#include <cstddef>

namespace fusenet::detail {

/// Registers a tile needs: accumulators, the weight vectors live per step, one broadcast.
constexpr std::size_t conv_tile_registers(std::size_t vectors, std::size_t cols, bool input_reuse, std::size_t k) {
  return vectors * cols + (input_reuse ? k * vectors : vectors) + 1;
}

/// Whether Cin is small enough for the tiny-Cin tile loop (the first layer of an image network: Cin 1 to 3).
constexpr bool conv_tiny_cin(std::size_t cin) { return cin <= 3; }

/// Vector blocks of output channels per tile: 2 when the output channels split into an even number of vectors.
constexpr std::size_t conv_tile_vectors(std::size_t cout, std::size_t v) { return (cout / v) % 2 == 0 ? 2 : 1; }

// Tile heuristic: 2 vectors × as many pixels as fit (2 × 14 on 32 registers, 2 × 6 on 16). DESIGN.md suggests
// 4 × 6 for maps past L2; here the channel blocks of one output row run back to back, so the input rows stay in
// L1 across blocks and 2 × 14 measured faster on 64→64 56² (92 % vs 88 % of peak, bench/conv_bench.cpp).
// Columns: as few tiles per row as the register file allows, all about as wide: ceil(wc / tiles), rounded up to
// the pool window. A full-width last tile plus a sliver (14 + 2 on a 16-wide map) leaves the sliver's few
// accumulators waiting on FMA latency; 8 + 8 measured 12–16 % faster on 128→128 16², 12 + 12 + 8 6 % faster than
// 14 + 14 + 4 on 64→64 32², and 16 + 16 11 % faster than 30 + 2 for one vector on 32² (full-width AVX-512 Xeon).
// 0 when no tile fits the register file. `wc` is the number of conv-output columns that feed the pool.
constexpr std::size_t conv_tile_cols(std::size_t registers, std::size_t vectors, bool input_reuse, std::size_t k,
                                     std::size_t pool, std::size_t wc) {
  const std::size_t fixed = conv_tile_registers(vectors, 0, input_reuse, k);
  if (fixed >= registers) return 0;
  std::size_t max_cols = (registers - fixed) / vectors;
  max_cols -= max_cols % pool;
  if (max_cols > wc) max_cols = wc;
  if (max_cols == 0) return 0;
  const std::size_t tiles = (wc + max_cols - 1) / max_cols;
  std::size_t cols = (wc + tiles - 1) / tiles;
  cols += (pool - cols % pool) % pool;
  return cols < max_cols ? cols : max_cols;
}

/// A register tile: vector blocks of output channels × pixels of one row (cols 0: no tile fits).
struct conv_tile_choice {
  std::size_t vectors = 0, cols = 0;
};

/// The default tile for Cin → Cout with a K×K kernel whose pooled rows have `wc` conv-output columns, on a target
/// with vector width v and `registers` vector registers: 2 vectors when the channels allow, 1 when 2 leave no
/// room for a pixel (a 7×7 tiny-Cin stem on 16 registers), columns by conv_tile_cols.
constexpr conv_tile_choice conv_default_tile(std::size_t cin, std::size_t cout, std::size_t k, std::size_t pool,
                                             std::size_t wc, std::size_t v, std::size_t registers) {
  const bool reuse = conv_tiny_cin(cin);
  std::size_t vectors = conv_tile_vectors(cout, v);
  std::size_t cols = conv_tile_cols(registers, vectors, reuse, k, pool, wc);
  if (cols == 0 && vectors == 2) vectors = 1, cols = conv_tile_cols(registers, 1, reuse, k, pool, wc);
  return {vectors, cols};
}

/// The default tile's column count for a K×K convolution with padding pad and stride `stride` on a map of width
/// w, pooled by `pool` (1 or 2), on a target with vector width v and `registers` vector registers (0: no tile fits).
constexpr std::size_t direct_conv_default_cols(std::size_t cin, std::size_t cout, std::size_t w, std::size_t k,
                                               std::size_t pad, std::size_t stride, std::size_t pool, std::size_t v,
                                               std::size_t registers) {
  if (v == 0 || stride == 0 || w + 2 * pad < k) return 0;
  const std::size_t wout = (w + 2 * pad - k) / stride + 1;
  return conv_default_tile(cin, cout, k, pool, wout / pool * pool, v, registers).cols;
}

/// Registers a depthwise tile needs (kernels/depthwise_conv.hpp): the accumulators, the K weights of one kernel
/// row of one channel vector, one input vector.
constexpr std::size_t depthwise_tile_registers(std::size_t vectors, std::size_t cols, std::size_t k) {
  return vectors * cols + k + 1;
}

/// A pointwise (1×1) tile (kernels/pointwise_conv.hpp): vector blocks of output channels × pixels taken anywhere
/// in the batch, row after row (pixels 0: no tile fits).
struct pointwise_tile_choice {
  std::size_t vectors = 0, pixels = 0;
};

/// Most channel vectors and pixels a pointwise tile holds: past them the unrolled tile grows the code, not the speed.
inline constexpr std::size_t pointwise_max_vectors = 4, pointwise_max_pixels = 16;

/// The default pointwise tile for Cout output channels on a target with vector width v and `registers` vector
/// registers. Per input channel a tile loads its `vectors` weight vectors and broadcasts one value per pixel for
/// vectors × pixels FMAs, so it takes the shape with the most FMAs per load among those whose accumulators, weight
/// vectors and one broadcast fit the register file: 4 × 6 on 32 registers (2.4 FMAs a load; 2 × 14 has 1.75 and
/// measured 5–20 % slower on a full-width AVX-512 Xeon), 2 × 6 on 16. The vector count divides Cout / v.
constexpr pointwise_tile_choice pointwise_default_tile(std::size_t cout, std::size_t v, std::size_t registers) {
  if (v == 0 || cout == 0 || cout % v != 0) return {};
  pointwise_tile_choice best{};
  for (std::size_t vectors = 1; vectors <= pointwise_max_vectors; ++vectors) {
    if ((cout / v) % vectors != 0 || registers <= vectors + 1) continue;
    std::size_t pixels = (registers - vectors - 1) / vectors;
    if (pixels > pointwise_max_pixels) pixels = pointwise_max_pixels;
    // compare vectors·pixels / (vectors + pixels) without dividing
    if (pixels > 0 && (best.pixels == 0 || vectors * pixels * (best.vectors + best.pixels) >
                                               best.vectors * best.pixels * (vectors + pixels)))
      best = {vectors, pixels};
  }
  return best;
}

}  // namespace fusenet::detail
