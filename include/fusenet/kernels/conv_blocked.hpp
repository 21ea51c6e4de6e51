// SPDX-License-Identifier: MIT
// Fused inference convolution (conv + bias + optional ReLU + optional 2×2 max/avg pool) in xsimd, NHWC in and out.
#pragma once

// The computation, for output channel o, conv output pixel (y, x), stride 1:
//   c[o][y][x] = bias[o] + Σ_{ky,kx,i} w[o][i][ky][kx] · in[i][y + ky − Pad][x + kx − Pad]
//   Hout = H + 2·Pad − K + 1 (likewise Wout), taps outside the map read 0 (PyTorch zero padding);
// then a = relu(c) (or a = c), then the pool:
//   max: p[o][y][x] = max of a over rows 2y, 2y+1 and columns 2x, 2x+1;  avg: their sum / 4
//   (nn.MaxPool2d(2) / nn.AvgPool2d(2): floor mode, an odd last row or column is dropped).
// Layouts are described in layout.hpp: bordered NHWC activations in and out, packed weights.
//
// How it is fast (DESIGN.md "Kernels: what is known to work"): output channels in the vector lanes; a register
// tile of (Vectors vector blocks of output channels) × (PoolWindow rows × Cols pixels) accumulators that start
// at the bias; per (tap, input channel) step: Vectors aligned weight loads, one broadcast per pixel, FMAs; the
// epilogue (ReLU, pool) runs in registers before one store per pooled pixel and vector. Every trip count is a
// compile-time constant, so the tile is fully unrolled and the accumulators stay in registers; a tile that
// does not fit the register file would spill silently, so it is rejected by a static_assert instead.

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "fusenet/kernels/layout.hpp"

// GCC 12 reports the intentionally undefined source operand of _mm512_max_ps (via xsimd::max) as maybe
// uninitialized when inlined here: https://gcc.gnu.org/bugzilla/show_bug.cgi?id=105593 (fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define FUSENET_CONV_BLOCKED_POP_DIAGNOSTIC
#endif

namespace fusenet::kernels {

/// Epilogue tag: the convolution output (plus bias) is stored as it is.
struct act_none {};
/// Epilogue tag: ReLU, max(x, 0), is applied before pooling and storing.
struct act_relu {};
/// Pool tag: 2×2 max pool with stride 2 (only used when PoolWindow is 2).
struct pool_max {};
/// Pool tag: 2×2 average pool with stride 2, divisor 4 (only used when PoolWindow is 2).
struct pool_avg {};

/// Number of vector registers the compiler may use for batches of Arch in this translation unit.
/// AVX-512 has 32; AVX2/SSE code also gets 32 when AVX-512VL is enabled (EVEX encoding), otherwise 16.
template <class Arch>
inline constexpr std::size_t vector_registers =
#if defined(__AVX512VL__)
    32;
#else
    std::is_base_of_v<xsimd::avx512f, Arch> ? 32 : 16;
#endif

/// A register tile: Vectors blocks of V output channels times Cols conv-output columns (times the pool rows).
template <std::size_t Vectors, std::size_t Cols>
struct conv_tile {
  /// Vector blocks of output channels held per pixel.
  static constexpr std::size_t vectors = Vectors;
  /// Conv-output columns per tile (a multiple of the pool window).
  static constexpr std::size_t cols = Cols;
};

namespace detail {

/// The compile-time geometry of one fused convolution stage.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Pad,
          std::size_t PoolWindow, std::size_t OutBorder, class Arch>
struct conv_geometry {
  using vec = xsimd::batch<float, Arch>;
  static constexpr std::size_t v = vec::size;
  static constexpr std::size_t cin = Cin, cout = Cout, k = K, pool = PoolWindow;
  // out = (in + 2·pad − k) / stride + 1 with stride 1
  static constexpr std::size_t hout = H + 2 * Pad - K + 1, wout = W + 2 * Pad - K + 1;
  // conv rows/cols that feed the pool (floor mode drops an odd last one), and the stored map
  static constexpr std::size_t hc = hout / PoolWindow * PoolWindow, wc = wout / PoolWindow * PoolWindow;
  static constexpr std::size_t ho = hout / PoolWindow, wo = wout / PoolWindow;
  static constexpr std::size_t in_row = (W + 2 * Pad) * Cin;
  static constexpr std::size_t in_image = (H + 2 * Pad) * in_row;
  static constexpr std::size_t out_row = (wo + 2 * OutBorder) * Cout;
  static constexpr std::size_t out_image = (ho + 2 * OutBorder) * out_row;
  static constexpr std::size_t out_border = OutBorder;
  static constexpr std::size_t w_block = K * K * Cin * v;  // floats per packed block of v output channels
};

// Tile heuristic (DESIGN.md): 2 vectors × as many pixels as fit for maps that stay in cache, 4 vectors when one
// input image exceeds 256 KiB (each block of output channels re-reads the whole input, so fewer blocks save
// bandwidth); on 16 registers at most 2 vectors. Columns: the count in [max/2, max] with the fewest tiles per row.
template <class Geo, class Arch>
constexpr std::size_t pick_conv_vectors() {
  constexpr std::size_t regs = vector_registers<Arch>;
  const std::size_t blocks = Geo::cout / Geo::v;
  std::size_t want = Geo::in_image * sizeof(float) > 256 * 1024 ? 4 : 2;
  if (regs < 32) want = 2;
  while (want > 1 && blocks % want != 0) want /= 2;
  return want;
}

template <class Geo, class Arch>
constexpr std::size_t pick_conv_cols(std::size_t vectors) {
  constexpr std::size_t regs = vector_registers<Arch>;
  std::size_t max_pixels = (regs - 1 - vectors) / vectors;
  std::size_t max_cols = max_pixels / Geo::pool;
  max_cols -= max_cols % Geo::pool;
  if (max_cols > Geo::wc) max_cols = Geo::wc;
  if (max_cols == 0) return 0;  // rejected by the tile checks of the kernel
  std::size_t best = max_cols, best_tiles = (Geo::wc + max_cols - 1) / max_cols;
  for (std::size_t c = max_cols; c >= Geo::pool && 2 * c >= max_cols; c -= Geo::pool) {
    const std::size_t tiles = (Geo::wc + c - 1) / c;
    if (tiles < best_tiles) best = c, best_tiles = tiles;
  }
  return best;
}

/// Accumulates one tile and runs its epilogue. `in` is the padded input at the tile's top-left tap, `w` the
/// first packed block of the tile's channels, `out` the stored pixel of the tile's top-left pooled output.
template <class Geo, std::size_t Vectors, std::size_t Cols, class Pool, class Act, class Arch>
[[gnu::always_inline]] inline void conv_run_tile(const float* in, const float* w, const float* bias, float* out) {
  using vec = typename Geo::vec;
  constexpr std::size_t v = Geo::v, rows = Geo::pool, steps = Geo::k * Geo::cin;
  vec acc[rows][Cols][Vectors];
  vec b[Vectors];
#pragma GCC unroll 8
  for (std::size_t q = 0; q < Vectors; ++q) b[q] = vec::load_unaligned(bias + q * v);
#pragma GCC unroll 64
  for (std::size_t r = 0; r < rows; ++r)
#pragma GCC unroll 64
    for (std::size_t c = 0; c < Cols; ++c)
#pragma GCC unroll 8
      for (std::size_t q = 0; q < Vectors; ++q) acc[r][c][q] = b[q];

  for (std::size_t ky = 0; ky < Geo::k; ++ky) {
    const float* ip = in + ky * Geo::in_row;
    const float* wp = w + ky * steps * v;
    // Within one kernel row the taps kx and input channels i are contiguous in both the bordered NHWC input
    // (pixel x + kx, channel i at offset kx·Cin + i) and the packed weights ([kx][i][v]): one flat loop.
#pragma GCC unroll 4
    for (std::size_t j = 0; j < steps; ++j) {
      vec wv[Vectors];
#pragma GCC unroll 8
      for (std::size_t q = 0; q < Vectors; ++q) wv[q] = vec::load_aligned(wp + q * Geo::w_block + j * v);
#pragma GCC unroll 64
      for (std::size_t r = 0; r < rows; ++r)
#pragma GCC unroll 64
        for (std::size_t c = 0; c < Cols; ++c) {
          const vec x(ip[r * Geo::in_row + c * Geo::cin + j]);
#pragma GCC unroll 8
          for (std::size_t q = 0; q < Vectors; ++q) acc[r][c][q] = xsimd::fma(wv[q], x, acc[r][c][q]);
        }
    }
  }

  const vec zero(0.0f);
  if constexpr (rows == 1) {
#pragma GCC unroll 64
    for (std::size_t c = 0; c < Cols; ++c)
#pragma GCC unroll 8
      for (std::size_t q = 0; q < Vectors; ++q) {
        vec a = acc[0][c][q];
        if constexpr (std::is_same_v<Act, act_relu>) a = xsimd::max(a, zero);
        a.store_unaligned(out + c * Geo::cout + q * v);
      }
  } else {
    static_assert(rows == 2, "fusenet: conv kernel: the pool window must be 1 or 2");
#pragma GCC unroll 64
    for (std::size_t c = 0; c < Cols / 2; ++c)
#pragma GCC unroll 8
      for (std::size_t q = 0; q < Vectors; ++q) {
        const vec a00 = acc[0][2 * c][q], a01 = acc[0][2 * c + 1][q];
        const vec a10 = acc[1][2 * c][q], a11 = acc[1][2 * c + 1][q];
        vec p;
        if constexpr (std::is_same_v<Pool, pool_max>) {
          // relu(max(...)) == max(relu(...)): one ReLU per pooled value instead of four
          p = xsimd::max(xsimd::max(a00, a01), xsimd::max(a10, a11));
          if constexpr (std::is_same_v<Act, act_relu>) p = xsimd::max(p, zero);
        } else {
          static_assert(std::is_same_v<Pool, pool_avg>, "fusenet: conv kernel: Pool must be pool_max or pool_avg");
          if constexpr (std::is_same_v<Act, act_relu>)
            p = (xsimd::max(a00, zero) + xsimd::max(a01, zero)) + (xsimd::max(a10, zero) + xsimd::max(a11, zero));
          else
            p = (a00 + a01) + (a10 + a11);
          p *= vec(0.25f);
        }
        p.store_unaligned(out + c * Geo::cout + q * v);
      }
  }
}

/// Writes zeros into the border of one output image (the padding the next convolution reads).
template <class Geo>
inline void conv_zero_border(float* image) {
  constexpr std::size_t b = Geo::out_border;
  if constexpr (b > 0) {
    constexpr std::size_t row = Geo::out_row, side = b * Geo::cout;
    std::fill(image, image + b * row, 0.0f);
    std::fill(image + (b + Geo::ho) * row, image + Geo::out_image, 0.0f);
    for (std::size_t y = b; y < b + Geo::ho; ++y) {
      std::fill(image + y * row, image + y * row + side, 0.0f);
      std::fill(image + (y + 1) * row - side, image + (y + 1) * row, 0.0f);
    }
  }
}

}  // namespace detail

/// The register tile the fused convolution uses by default for these sizes on Arch.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Pad,
          std::size_t PoolWindow, class Arch = xsimd::default_arch>
using default_conv_tile = conv_tile<
    detail::pick_conv_vectors<detail::conv_geometry<Cin, Cout, H, W, K, Pad, PoolWindow, 0, Arch>, Arch>(),
    detail::pick_conv_cols<detail::conv_geometry<Cin, Cout, H, W, K, Pad, PoolWindow, 0, Arch>, Arch>(
        detail::pick_conv_vectors<detail::conv_geometry<Cin, Cout, H, W, K, Pad, PoolWindow, 0, Arch>, Arch>())>;

/// Fused conv K×K (stride 1, zero padding Pad) + bias + activation + optional 2×2 pool, with an explicit tile.
/// Requires: `in` is bordered NHWC [batch][H+2Pad][W+2Pad][Cin] with a zero border; `packed_w` comes from
/// pack_conv_weights<Cin, Cout, K, Arch> and is aligned to V floats; `bias` has Cout floats; `out` holds
/// batch · nhwc_image_size<Cout, Ho, Wo, OutBorder> floats, Ho = (H + 2Pad − K + 1) / PoolWindow (likewise Wo).
/// Ensures: `out` is bordered NHWC with a zero border of OutBorder pixels, ready for the next stage.
template <class Tile, std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K,
          std::size_t Pad, std::size_t PoolWindow, class Pool, class Act, std::size_t OutBorder,
          class Arch = xsimd::default_arch>
inline void conv_bias_relu_pool_tiled(const float* in, const float* packed_w, const float* bias, float* out,
                                      std::size_t batch) {
  using geo = detail::conv_geometry<Cin, Cout, H, W, K, Pad, PoolWindow, OutBorder, Arch>;
  constexpr std::size_t v = geo::v, nv = Tile::vectors, cols = Tile::cols;
  static_assert(Cout % v == 0,
                "fusenet: conv kernel: output channels must be a multiple of the SIMD width in floats "
                "(16 with AVX-512, 8 with AVX2, 4 with SSE)");
  static_assert(K % 2 == 1 && K <= H + 2 * Pad && K <= W + 2 * Pad,
                "fusenet: conv kernel: the kernel size must be odd and fit the padded input");
  static_assert(PoolWindow == 1 || PoolWindow == 2, "fusenet: conv kernel: the pool window must be 1 or 2");
  static_assert(geo::ho > 0 && geo::wo > 0, "fusenet: conv kernel: the pooled output would be empty");
  static_assert(nv > 0 && (Cout / v) % nv == 0,
                "fusenet: conv kernel: tile vectors must divide the output channels in SIMD vectors");
  static_assert(cols > 0 && cols % PoolWindow == 0, "fusenet: conv kernel: tile columns must be a multiple of "
                                                    "the pool window");
  static_assert(nv * PoolWindow * cols + nv + 1 <= vector_registers<Arch>,
                "fusenet: conv kernel: the register tile (accumulators + weight vectors + 1 broadcast) does not "
                "fit the vector register file and would spill; choose fewer vectors or columns");
  assert(reinterpret_cast<std::uintptr_t>(packed_w) % (v * sizeof(float)) == 0);

  constexpr std::size_t blocks = Cout / (v * nv), row_tiles = geo::hc / PoolWindow;
  constexpr std::size_t full = geo::wc / cols, tail = geo::wc % cols;
  const auto n_total = static_cast<std::ptrdiff_t>(batch);
  const auto work = static_cast<std::ptrdiff_t>(batch * blocks * row_tiles);
#ifdef _OPENMP
#pragma omp parallel if (work > 1)
#endif
  {
#ifdef _OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (std::ptrdiff_t n = 0; n < n_total; ++n)
      detail::conv_zero_border<geo>(out + static_cast<std::size_t>(n) * geo::out_image);
    // Each (image, channel block, output row) item writes its own outputs: the split is deterministic.
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (std::ptrdiff_t item = 0; item < work; ++item) {
      const auto u = static_cast<std::size_t>(item);
      const std::size_t n = u / (blocks * row_tiles), cb = u / row_tiles % blocks, rt = u % row_tiles;
      const float* ib = in + n * geo::in_image + rt * PoolWindow * geo::in_row;
      const float* wb = packed_w + cb * nv * geo::w_block;
      const float* bb = bias + cb * nv * v;
      float* ob = out + n * geo::out_image + (OutBorder + rt) * geo::out_row + OutBorder * Cout + cb * nv * v;
      for (std::size_t t = 0; t < full; ++t)
        detail::conv_run_tile<geo, nv, cols, Pool, Act, Arch>(ib + t * cols * Cin, wb, bb,
                                                              ob + t * (cols / PoolWindow) * Cout);
      if constexpr (tail > 0)
        detail::conv_run_tile<geo, nv, tail, Pool, Act, Arch>(ib + full * cols * Cin, wb, bb,
                                                              ob + full * (cols / PoolWindow) * Cout);
    }
  }
}

/// Fused conv K×K (stride 1, zero padding Pad) + bias + activation (act_none / act_relu) + optional 2×2 pool
/// (PoolWindow 1: none; 2: Pool = pool_max / pool_avg), bordered NHWC in and out, with the default tile.
/// Requires / Ensures: as conv_bias_relu_pool_tiled.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Pad,
          std::size_t PoolWindow, class Pool, class Act, std::size_t OutBorder, class Arch = xsimd::default_arch>
inline void conv_bias_relu_pool(const float* in, const float* packed_w, const float* bias, float* out,
                                std::size_t batch) {
  conv_bias_relu_pool_tiled<default_conv_tile<Cin, Cout, H, W, K, Pad, PoolWindow, Arch>, Cin, Cout, H, W, K,
                            Pad, PoolWindow, Pool, Act, OutBorder, Arch>(in, packed_w, bias, out, batch);
}

}  // namespace fusenet::kernels

#ifdef FUSENET_CONV_BLOCKED_POP_DIAGNOSTIC
#undef FUSENET_CONV_BLOCKED_POP_DIAGNOSTIC
#pragma GCC diagnostic pop
#endif
