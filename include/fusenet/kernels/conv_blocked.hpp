// SPDX-License-Identifier: MIT
// Fused inference convolution (conv + bias + optional ReLU + optional 2×2 max/avg pool) in xsimd, NHWC in and out.
#pragma once

// The computation, for output channel o, conv output pixel (y, x), stride 1:
//   c[o][y][x] = bias[o] + Σ_{ky,kx,i} w[o][i][ky][kx] · in[i][y + ky − Pad][x + kx − Pad]
//   Hout = H + 2·Pad − K + 1 (likewise Wout), taps outside the map read 0 (PyTorch zero padding);
// then a = relu(c) (or a = c), then the pool:
//   max: p[o][y][x] = max of a over rows 2y, 2y+1 and columns 2x, 2x+1;  avg: their sum / 4
//   (nn.MaxPool2d(2) / nn.AvgPool2d(2): floor mode, an odd last row or column is dropped).
//   A NaN stays NaN through the ReLU and the max, as in torch.relu and nn.MaxPool2d.
// A residual block's last conv (no pool) may add the block's shortcut s in its epilogue instead:
//   y = relu(a + s) (or a + s), s bordered NHWC with its own border (Shortcut = add_shortcut<Border, Relu>).
// Layouts are described in layout.hpp: bordered NHWC activations in and out, packed weights.
//
// How it is fast (DESIGN.md "Kernels: what is known to work"): output channels in the vector lanes; a register
// tile of (Vectors vector blocks of output channels) × (Cols pixels of one row) accumulators that start at the
// bias; per (tap, input channel) step: Vectors aligned weight loads, one broadcast per pixel, FMAs; the epilogue
// (ReLU, pool) runs in registers. A 2×2 pool pools each tile's pixel pairs in registers, parks the first row's
// result in an L1 scratch and combines it with the second row of the same columns: one store per pooled pixel. Every trip count is a
// compile-time constant, so the tile is fully unrolled and the accumulators stay in registers; a tile that
// does not fit the register file would spill silently, so it is rejected by a static_assert instead.

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "fusenet/detail/direct_conv_tile.hpp"
#include "fusenet/kernels/fma.hpp"
#include "fusenet/kernels/layout.hpp"
#include "fusenet/kernels/nan_rules.hpp"
#include "fusenet/kernels/registers.hpp"

namespace fusenet::kernels {

/// Epilogue tag: the convolution output (plus bias) is stored as it is.
struct act_none {};
/// Epilogue tag: ReLU, max(x, 0) with NaN kept, is applied before pooling and storing.
struct act_relu {};
/// Pool tag: 2×2 max pool with stride 2 (only used when PoolWindow is 2).
struct pool_max {};
/// Pool tag: 2×2 average pool with stride 2, divisor 4 (only used when PoolWindow is 2).
struct pool_avg {};

/// Shortcut tag: the epilogue adds nothing after the activation.
struct no_shortcut {
  static constexpr bool add = false, relu = false;
  static constexpr std::size_t border = 0;
};
/// Shortcut tag: the epilogue of a residual block's last conv adds the block's shortcut, bordered NHWC with a zero
/// border of Border pixels and the output's channels, then applies ReLU (NaN kept) when Relu: y = relu(act(c) + s).
template <std::size_t Border, bool Relu>
struct add_shortcut {
  static constexpr bool add = true, relu = Relu;
  static constexpr std::size_t border = Border;
};

namespace detail {
/// The end of an epilogue under Shortcut: a, or a + the shortcut's vector at `res` (then ReLU when asked).
template <class Shortcut, class Vec>
[[gnu::always_inline]] inline Vec with_shortcut(Vec a, const float* res) {
  if constexpr (Shortcut::add) {
    a = a + Vec::load_unaligned(res);
    if constexpr (Shortcut::relu) a = relu_keep_nan(a);
  }
  return a;
}
}  // namespace detail


/// A register tile: Vectors blocks of V output channels times Cols conv-output pixels of one row; InputReuse
/// selects the tiny-Cin loop that keeps a kernel row's weights in registers (K·Vectors more registers).
template <std::size_t Vectors, std::size_t Cols, bool InputReuse = false>
struct conv_tile {
  /// Whether the tile uses the tiny-Cin loop (weights of one kernel row in registers, one broadcast per pixel).
  static constexpr bool input_reuse = InputReuse;
  /// Vector blocks of output channels held per pixel.
  static constexpr std::size_t vectors = Vectors;
  /// Conv-output columns per tile (a multiple of the pool window).
  static constexpr std::size_t cols = Cols;
};


namespace detail {

/// The compile-time geometry of one fused convolution stage.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Pad,
          std::size_t PoolWindow, std::size_t OutBorder, class Arch, std::size_t Stride = 1, std::size_t InBorder = Pad>
struct conv_geometry {
  using vec = xsimd::batch<float, Arch>;
  static constexpr std::size_t v = vec::size;
  static constexpr std::size_t cin = Cin, cout = Cout, k = K, pool = PoolWindow, stride = Stride;
  // out = (in + 2·pad − k) / stride + 1
  static constexpr std::size_t hout = (H + 2 * Pad - K) / Stride + 1, wout = (W + 2 * Pad - K) / Stride + 1;
  // conv rows/cols that feed the pool (floor mode drops an odd last one), and the stored map
  static constexpr std::size_t hc = hout / PoolWindow * PoolWindow, wc = wout / PoolWindow * PoolWindow;
  static constexpr std::size_t ho = hout / PoolWindow, wo = wout / PoolWindow;
  // the input image may carry a wider zero border than the padding (a residual's input, read by the block's 3×3
  // conv with padding 1 and by the 1×1 projection with none): the taps start InBorder − Pad pixels in
  static_assert(InBorder >= Pad, "fusenet: conv kernel: the input border must cover the padding");
  static constexpr std::size_t in_row = (W + 2 * InBorder) * Cin;
  static constexpr std::size_t in_image = (H + 2 * InBorder) * in_row;
  static constexpr std::size_t in_origin = (InBorder - Pad) * (in_row + Cin);
  static constexpr std::size_t out_row = (wo + 2 * OutBorder) * Cout;
  static constexpr std::size_t out_image = (ho + 2 * OutBorder) * out_row;
  static constexpr std::size_t out_border = OutBorder;
  static constexpr std::size_t w_block = K * K * Cin * v;  // floats per packed block of v output channels
};

using fusenet::detail::conv_tile_registers;
using fusenet::detail::conv_tiny_cin;

template <class Geo, class Arch>
struct default_tile {
  // the rule lives in detail/direct_conv_tile.hpp, where the plan reads it too
  static constexpr fusenet::detail::conv_tile_choice choice =
      fusenet::detail::conv_default_tile(Geo::cin, Geo::cout, Geo::k, Geo::pool, Geo::wc, Geo::v, vector_registers<Arch>);
  using type = conv_tile<choice.vectors, choice.cols, conv_tiny_cin(Geo::cin)>;
};

/// What a tile does with its accumulators: store them (no pool), keep the horizontal pool of the first conv
/// row of a pool window in `scratch`, or combine the second row with `scratch` and store the pooled values.
enum class tile_phase { store, pool_first_row, pool_second_row };


/// Accumulates one tile of one conv-output row and runs its epilogue. `in` is the padded input at the tile's
/// top-left tap, `w` the first packed block of the tile's channels, `out` the first stored pixel (pooled), `res`
/// the shortcut's value at that pixel (Shortcut::add only).
template <class Geo, std::size_t Vectors, std::size_t Cols, bool InputReuse, tile_phase Phase, class Pool, class Act,
          class Shortcut = no_shortcut>
[[gnu::always_inline]] inline void conv_run_tile(const float* in, const float* w, const float* bias, float* out,
                                                 float* scratch, const float* res = nullptr) {
  using vec = typename Geo::vec;
  constexpr std::size_t v = Geo::v, steps = Geo::k * Geo::cin;
  constexpr bool relu = std::is_same_v<Act, act_relu>, max_pool = std::is_same_v<Pool, pool_max>;
  static_assert(std::is_same_v<Act, act_relu> || std::is_same_v<Act, act_none>,
                "fusenet: conv kernel: Act must be act_relu or act_none");
  static_assert(max_pool || std::is_same_v<Pool, pool_avg>, "fusenet: conv kernel: Pool must be pool_max or pool_avg");
  static_assert(!Shortcut::add || Phase == tile_phase::store, "fusenet: conv kernel: a shortcut is added unpooled");
  vec acc[Cols][Vectors];
  vec b[Vectors];
#pragma GCC unroll 8
  for (std::size_t q = 0; q < Vectors; ++q) b[q] = vec::load_unaligned(bias + q * v);
#pragma GCC unroll 64
  for (std::size_t c = 0; c < Cols; ++c)
#pragma GCC unroll 8
    for (std::size_t q = 0; q < Vectors; ++q) acc[c][q] = b[q];

  if constexpr (InputReuse) {
    // Tiny Cin (the first layer): per kernel row and input channel, keep the K taps' weights in registers and
    // broadcast each input pixel of the row once, adding it to every output pixel it reaches (c = i − kx).
    // The plain loop below would broadcast each pixel K times, and GCC 12 then keeps the shared broadcasts live
    // across steps (they coincide when Cin is 1) and spills accumulators.
    for (std::size_t ky = 0; ky < Geo::k; ++ky) {
      const float* ip = in + ky * Geo::in_row;
#pragma GCC unroll 4
      for (std::size_t ci = 0; ci < Geo::cin; ++ci) {
        vec wv[Geo::k][Vectors];
#pragma GCC unroll 16
        for (std::size_t kx = 0; kx < Geo::k; ++kx)
#pragma GCC unroll 8
          for (std::size_t q = 0; q < Vectors; ++q)
            wv[kx][q] = vec::load_aligned(w + q * Geo::w_block + ((ky * Geo::k + kx) * Geo::cin + ci) * v);
        // input pixel i reaches output pixel c = (i − kx) / stride when the division is exact
#pragma GCC unroll 64
        for (std::size_t i = 0; i < (Cols - 1) * Geo::stride + Geo::k; ++i) {
          const vec x(ip[i * Geo::cin + ci]);
#pragma GCC unroll 16
          for (std::size_t kx = 0; kx < Geo::k; ++kx)
            if (i >= kx && (i - kx) % Geo::stride == 0 && (i - kx) / Geo::stride < Cols)
#pragma GCC unroll 8
              for (std::size_t q = 0; q < Vectors; ++q) {
                const std::size_t c = (i - kx) / Geo::stride;
                acc[c][q] = kernels::fma(wv[kx][q], x, acc[c][q]);
              }
        }
      }
    }
  } else {
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
        for (std::size_t c = 0; c < Cols; ++c) {
          const vec x(ip[c * Geo::stride * Geo::cin + j]);
  #pragma GCC unroll 8
          for (std::size_t q = 0; q < Vectors; ++q) acc[c][q] = kernels::fma(wv[q], x, acc[c][q]);
        }
      }
    }
  }

  if constexpr (Phase == tile_phase::store) {
#pragma GCC unroll 64
    for (std::size_t c = 0; c < Cols; ++c)
#pragma GCC unroll 8
      for (std::size_t q = 0; q < Vectors; ++q) {
        vec a = acc[c][q];
        if constexpr (relu) a = relu_keep_nan(a);
        if constexpr (Shortcut::add) a = with_shortcut<Shortcut>(a, res + c * Geo::cout + q * v);
        a.store_unaligned(out + c * Geo::cout + q * v);
      }
  } else {
    // 2×2 pool over conv rows 2y (first) and 2y + 1 (second). Max: relu(max(...)) == max(relu(...)), so one
    // ReLU per pooled value. Average: ReLU comes first, then ((a00 + a01) + (a10 + a11)) / 4 (nn.AvgPool2d(2)).
#pragma GCC unroll 64
    for (std::size_t c = 0; c < Cols / 2; ++c)
#pragma GCC unroll 8
      for (std::size_t q = 0; q < Vectors; ++q) {
        vec a0 = acc[2 * c][q], a1 = acc[2 * c + 1][q], p;
        if constexpr (max_pool) {
          p = max_keep_nan(a0, a1);
        } else {
          if constexpr (relu) a0 = relu_keep_nan(a0), a1 = relu_keep_nan(a1);
          p = a0 + a1;
        }
        float* s = scratch + (c * Vectors + q) * v;
        if constexpr (Phase == tile_phase::pool_first_row) {
          p.store_aligned(s);
        } else {
          const vec first = vec::load_aligned(s);
          if constexpr (max_pool) {
            p = max_keep_nan(first, p);
            if constexpr (relu) p = relu_keep_nan(p);
          } else {
            p = (first + p) * vec(0.25f);
          }
          p.store_unaligned(out + c * Geo::cout + q * v);
        }
      }
  }
}

/// One work item: conv-output row `row` (or the pair 2·row, 2·row + 1 when pooling) of one image, for the
/// Vectors·V output channels starting at block `first_vector`; `res` is the image's shortcut (Shortcut::add only).
template <class Geo, class Tile, class Pool, class Act, class Shortcut = no_shortcut>
[[gnu::always_inline]] inline void conv_run_row(const float* in, const float* w, const float* bias, float* out,
                                                std::size_t row, std::size_t first_vector,
                                                const float* res = nullptr) {
  constexpr std::size_t nv = Tile::vectors, cols = Tile::cols, p = Geo::pool, cout = Geo::cout, cin = Geo::cin;
  constexpr bool reuse = Tile::input_reuse;
  constexpr std::size_t full = Geo::wc / cols, tail = Geo::wc % cols;
  constexpr std::size_t s = Geo::stride;
  const float* ib = in + Geo::in_origin + row * p * s * Geo::in_row;
  const float* wb = w + first_vector * Geo::w_block;
  const float* bb = bias + first_vector * Geo::v;
  float* ob = out + (Geo::out_border + row) * Geo::out_row + Geo::out_border * cout + first_vector * Geo::v;
  if constexpr (p == 1) {
    // the shortcut's row: the same pixels and channels inside its own border
    constexpr std::size_t rb_row = (Geo::wo + 2 * Shortcut::border) * cout;
    const float* rb = Shortcut::add ? res + (Shortcut::border + row) * rb_row + Shortcut::border * cout +
                                          first_vector * Geo::v
                                    : nullptr;
    for (std::size_t t = 0; t < full; ++t)
      conv_run_tile<Geo, nv, cols, reuse, tile_phase::store, Pool, Act, Shortcut>(
          ib + t * cols * s * cin, wb, bb, ob + t * cols * cout, nullptr,
          Shortcut::add ? rb + t * cols * cout : nullptr);
    if constexpr (tail > 0)
      conv_run_tile<Geo, nv, tail, reuse, tile_phase::store, Pool, Act, Shortcut>(
          ib + full * cols * s * cin, wb, bb, ob + full * cols * cout, nullptr,
          Shortcut::add ? rb + full * cols * cout : nullptr);
  } else {
    static_assert(!Shortcut::add, "fusenet: conv kernel: a shortcut is added unpooled");
    // the first row's horizontal pool waits in L1 for the second row of the same columns
    alignas(64) float scratch[cols / 2 * nv * Geo::v];
    for (std::size_t t = 0; t < full; ++t) {
      const float* it = ib + t * cols * s * cin;
      float* ot = ob + t * (cols / 2) * cout;
      conv_run_tile<Geo, nv, cols, reuse, tile_phase::pool_first_row, Pool, Act>(it, wb, bb, ot, scratch);
      conv_run_tile<Geo, nv, cols, reuse, tile_phase::pool_second_row, Pool, Act>(it + s * Geo::in_row, wb, bb, ot,
                                                                                  scratch);
    }
    if constexpr (tail > 0) {
      const float* it = ib + full * cols * s * cin;
      float* ot = ob + full * (cols / 2) * cout;
      conv_run_tile<Geo, nv, tail, reuse, tile_phase::pool_first_row, Pool, Act>(it, wb, bb, ot, scratch);
      conv_run_tile<Geo, nv, tail, reuse, tile_phase::pool_second_row, Pool, Act>(it + s * Geo::in_row, wb, bb, ot,
                                                                                  scratch);
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
          std::size_t PoolWindow, class Arch = xsimd::default_arch, std::size_t Stride = 1>
using default_conv_tile =
    typename detail::default_tile<detail::conv_geometry<Cin, Cout, H, W, K, Pad, PoolWindow, 0, Arch, Stride>,
                                  Arch>::type;

namespace detail {

/// The compile-time checks every entry point of the direct kernel makes on its geometry and tile.
template <class Tile, std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K,
          std::size_t Pad, std::size_t PoolWindow, class Arch, std::size_t Stride = 1>
constexpr void check_conv_tile() {
  using geo = conv_geometry<Cin, Cout, H, W, K, Pad, PoolWindow, 0, Arch, Stride>;
  constexpr std::size_t v = geo::v, nv = Tile::vectors, cols = Tile::cols;
  static_assert(Cout % v == 0,
                "fusenet: conv kernel: output channels must be a multiple of the SIMD width in floats "
                "(16 with AVX-512, 8 with AVX2, 4 with SSE)");
  static_assert(K % 2 == 1 && K <= H + 2 * Pad && K <= W + 2 * Pad,
                "fusenet: conv kernel: the kernel size must be odd and fit the padded input");
  static_assert(Stride >= 1, "fusenet: conv kernel: the stride must be at least 1");
  static_assert(PoolWindow == 1 || PoolWindow == 2, "fusenet: conv kernel: the pool window must be 1 or 2");
  static_assert(geo::ho > 0 && geo::wo > 0, "fusenet: conv kernel: the pooled output would be empty");
  static_assert(nv > 0 && (Cout / v) % nv == 0,
                "fusenet: conv kernel: tile vectors must divide the output channels in SIMD vectors");
  static_assert(cols > 0 && cols % PoolWindow == 0, "fusenet: conv kernel: tile columns must be a multiple of "
                                                    "the pool window");
  static_assert(conv_tile_registers(nv, cols, Tile::input_reuse, K) <= vector_registers<Arch>,
                "fusenet: conv kernel: the register tile (accumulators + weight vectors + 1 broadcast) does not "
                "fit the vector register file and would spill; choose fewer vectors or columns");
}

}  // namespace detail

/// One image of conv_bias_relu_pool_tiled (at stride Stride, input border Pad), on the calling thread only: for
/// callers that spread images over threads themselves (the training convolution, which converts each image to and
/// from NCHW around it). Requires / Ensures: as conv_bias_relu_pool_tiled with batch 1.
template <class Tile, std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K,
          std::size_t Pad, std::size_t PoolWindow, class Pool, class Act, std::size_t OutBorder,
          class Arch = xsimd::default_arch, std::size_t Stride = 1>
inline void conv_bias_relu_pool_image(const float* in, const float* packed_w, const float* bias, float* out) {
  using geo = detail::conv_geometry<Cin, Cout, H, W, K, Pad, PoolWindow, OutBorder, Arch, Stride>;
  detail::check_conv_tile<Tile, Cin, Cout, H, W, K, Pad, PoolWindow, Arch, Stride>();
  assert(reinterpret_cast<std::uintptr_t>(packed_w) % (geo::v * sizeof(float)) == 0);
  detail::conv_zero_border<geo>(out);
  constexpr std::size_t blocks = Cout / (geo::v * Tile::vectors);
  for (std::size_t row = 0; row < geo::ho; ++row)
    for (std::size_t cb = 0; cb < blocks; ++cb)
      detail::conv_run_row<geo, Tile, Pool, Act>(in, packed_w, bias, out, row, cb * Tile::vectors);
}

/// Fused conv K×K with stride Stride and zero padding Pad + bias + activation + optional 2×2 pool, with an
/// explicit tile. The tile's pixels are Stride input columns apart; everything else is as at stride 1.
/// Requires: `in` is bordered NHWC [batch][H+2B][W+2B][Cin] with a zero border of B = InBorder ≥ Pad pixels; `packed_w` comes from
/// pack_conv_weights<Cin, Cout, K, Arch> and is aligned to V floats; `bias` has Cout floats; `out` holds
/// batch · nhwc_image_size<Cout, Ho, Wo, OutBorder> floats, Ho = ((H + 2Pad − K) / Stride + 1) / PoolWindow
/// (likewise Wo). Ensures: `out` is bordered NHWC with a zero border of OutBorder pixels, ready for the next stage.
/// With Shortcut = add_shortcut<B, Relu> (PoolWindow 1), the epilogue adds `shortcut`, n images of bordered NHWC
/// Cout×Ho×Wo with a zero border of B pixels, after the activation, then applies ReLU when Relu: a residual block's
/// last conv with the add of the block in its epilogue.
template <class Tile, std::size_t Stride, std::size_t InBorder, std::size_t Cin, std::size_t Cout, std::size_t H,
          std::size_t W, std::size_t K, std::size_t Pad, std::size_t PoolWindow, class Pool, class Act,
          std::size_t OutBorder, class Arch = xsimd::default_arch, class Shortcut = no_shortcut>
inline void conv_stride_bias_relu_pool_tiled(const float* in, const float* packed_w, const float* bias, float* out,
                                             std::size_t batch, const float* shortcut = nullptr) {
  using geo = detail::conv_geometry<Cin, Cout, H, W, K, Pad, PoolWindow, OutBorder, Arch, Stride, InBorder>;
  constexpr std::size_t v = geo::v, nv = Tile::vectors;
  detail::check_conv_tile<Tile, Cin, Cout, H, W, K, Pad, PoolWindow, Arch, Stride>();
  assert(reinterpret_cast<std::uintptr_t>(packed_w) % (v * sizeof(float)) == 0);
  static_assert(!Shortcut::add || PoolWindow == 1, "fusenet: conv kernel: a shortcut is added unpooled");
  assert(!Shortcut::add || shortcut != nullptr);
  constexpr std::size_t shortcut_image = (geo::ho + 2 * Shortcut::border) * (geo::wo + 2 * Shortcut::border) * Cout;

  constexpr std::size_t blocks = Cout / (v * nv), rows = geo::ho;
  const auto n_total = static_cast<std::ptrdiff_t>(batch);
  const auto work = static_cast<std::ptrdiff_t>(batch * rows * blocks);
#ifdef _OPENMP
#pragma omp parallel if (work > 1)
#endif
  {
#ifdef _OPENMP
#pragma omp for schedule(static) nowait
#endif
    for (std::ptrdiff_t n = 0; n < n_total; ++n)
      detail::conv_zero_border<geo>(out + static_cast<std::size_t>(n) * geo::out_image);
    // Items run image by image. When the image outweighs the weights (large maps), rows go outside and channel
    // blocks inside, so the input rows of one output row are reused from L1 by every block. When the weights
    // outweigh the image (512 channels on 7×7: 9.4 MB against 166 KB), blocks go outside, so each block's
    // weights are read once from memory and reused by every row from L2, rather than streamed once per row.
    // Each item writes its own outputs: the split is deterministic.
    constexpr bool blocks_outside = Cout * K * K * Cin > geo::in_image;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (std::ptrdiff_t item = 0; item < work; ++item) {
      const auto u = static_cast<std::size_t>(item);
      const std::size_t n = u / (rows * blocks);
      const std::size_t row = blocks_outside ? u % rows : u / blocks % rows;
      const std::size_t cb = blocks_outside ? u / rows % blocks : u % blocks;
      detail::conv_run_row<geo, Tile, Pool, Act, Shortcut>(in + n * geo::in_image, packed_w, bias,
                                                            out + n * geo::out_image, row, cb * nv,
                                                            Shortcut::add ? shortcut + n * shortcut_image : nullptr);
    }
  }
}

/// conv_stride_bias_relu_pool_tiled at stride 1.
template <class Tile, std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K,
          std::size_t Pad, std::size_t PoolWindow, class Pool, class Act, std::size_t OutBorder,
          class Arch = xsimd::default_arch>
inline void conv_bias_relu_pool_tiled(const float* in, const float* packed_w, const float* bias, float* out,
                                      std::size_t batch) {
  conv_stride_bias_relu_pool_tiled<Tile, 1, Pad, Cin, Cout, H, W, K, Pad, PoolWindow, Pool, Act, OutBorder, Arch>(
      in, packed_w, bias, out, batch);
}

/// Fused conv K×K (stride Stride, zero padding Pad, input border InBorder) + bias + activation (act_none /
/// act_relu) + optional 2×2 pool (PoolWindow 1: none; 2: Pool = pool_max / pool_avg), bordered NHWC in and out, with the default tile.
/// Requires / Ensures: as conv_stride_bias_relu_pool_tiled.
template <std::size_t Stride, std::size_t InBorder, std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W,
          std::size_t K, std::size_t Pad, std::size_t PoolWindow, class Pool, class Act, std::size_t OutBorder,
          class Arch = xsimd::default_arch, class Shortcut = no_shortcut>
inline void conv_stride_bias_relu_pool(const float* in, const float* packed_w, const float* bias, float* out,
                                       std::size_t batch, const float* shortcut = nullptr) {
  conv_stride_bias_relu_pool_tiled<default_conv_tile<Cin, Cout, H, W, K, Pad, PoolWindow, Arch, Stride>, Stride,
                                   InBorder, Cin, Cout, H, W, K, Pad, PoolWindow, Pool, Act, OutBorder, Arch,
                                   Shortcut>(in, packed_w, bias, out, batch, shortcut);
}

/// conv_stride_bias_relu_pool at stride 1.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Pad,
          std::size_t PoolWindow, class Pool, class Act, std::size_t OutBorder, class Arch = xsimd::default_arch>
inline void conv_bias_relu_pool(const float* in, const float* packed_w, const float* bias, float* out,
                                std::size_t batch) {
  conv_stride_bias_relu_pool<1, Pad, Cin, Cout, H, W, K, Pad, PoolWindow, Pool, Act, OutBorder, Arch>(
      in, packed_w, bias, out, batch);
}

}  // namespace fusenet::kernels
